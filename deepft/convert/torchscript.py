"""The tensors and plain attributes of a TorchScript archive, read without running it.

A TorchScript file (``torch.jit.save``; DeePMD-kit's frozen ``model.pth``) is a zip archive:
``ARCHIVE/data.pkl`` pickles the module tree, ``ARCHIVE/data/KEY`` holds the raw bytes of each
tensor storage, ``ARCHIVE/code/`` the TorchScript source. ``torch.jit.load`` would compile and
keep that code; :func:`read_torchscript` never does. It unpickles ``data.pkl`` with an unpickler
that resolves only the names a module tree needs: scripted classes (``__torch__.*``) become inert
:class:`ScriptObject` records of their attributes, tensors are rebuilt here from their storage
bytes with every size, stride and offset checked, and any other name in the pickle is refused.
The result: the root module's plain attributes (strings, numbers, lists, dicts) and every tensor
in the tree under its dotted attribute path (``atomic_model.descriptor.sea.mean``), which is the
module's ``state_dict`` name for parameters and buffers.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepft.errors import ModelFileError

#: storage class name in the pickle -> element type
STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
#: the pickle of the module tree is read into memory whole; larger is not a model
MAX_PICKLE_BYTES = 256 * 1024 * 1024


class ScriptObject:
    """An instance of a scripted class, as data: its qualified name and attributes."""

    qualname = "?"

    def __init__(self, *args, **kwargs) -> None:
        self.attributes: dict = {}

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.qualname} has a non-dict state")
        self.attributes = state


@dataclass
class TorchScriptContents:
    """What :func:`read_torchscript` found: the root's class, plain attributes and tensors."""

    root_class: str
    attributes: dict = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def is_torchscript_archive(path: str | Path) -> bool:
    """Whether ``path`` is a zip archive with TorchScript code (``ARCHIVE/code/``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def read_torchscript(path: str | Path) -> TorchScriptContents:
    """The root module's plain attributes and all tensors of TorchScript archive ``path``.

    ModelFileError names the file and what is wrong (not a zip, no ``data.pkl``, a pickle that
    names anything but tensors and scripted classes, a storage shorter than its tensors).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            root = _unpickle_tree(archive, path)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, RecursionError, pickle.UnpicklingError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{path} is not a readable TorchScript model ({text})",
                             hint="the file is truncated, damaged or not a frozen model"
                             ) from None
    if not isinstance(root, ScriptObject):
        raise ModelFileError(f"{path}: the archive's root is not a scripted module",
                             hint="give a model frozen with torch.jit.save (dp --pt freeze)")
    contents = TorchScriptContents(root.qualname)
    _collect(root, "", contents, top=True, depth=0)
    return contents


def _archive_folder(archive: zipfile.ZipFile, path: Path) -> str:
    tops = {name[: -len("data.pkl")] for name in archive.namelist()
            if name.endswith("/data.pkl") and name.count("/") == 1}
    if len(tops) != 1:
        raise ModelFileError(f"{path}: expected one ARCHIVE/data.pkl in the zip, found "
                             f"{len(tops)}", hint="give a model frozen with torch.jit.save")
    return tops.pop()


def _unpickle_tree(archive: zipfile.ZipFile, path: Path):
    folder = _archive_folder(archive, path)
    info = archive.getinfo(folder + "data.pkl")
    if info.file_size > MAX_PICKLE_BYTES:
        raise ModelFileError(f"{path}: data.pkl declares {info.file_size} bytes",
                             hint="not a model file")
    byteorder = folder + "byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise ModelFileError(f"{path}: big-endian tensor data is not supported",
                             hint="save the model on a little-endian machine")
    unpickler = _TreeUnpickler(archive.open(folder + "data.pkl"), archive, folder, path)
    return unpickler.load()


class _TreeUnpickler(pickle.Unpickler):
    """Unpickler of ``data.pkl`` that resolves only tensors and scripted classes."""

    def __init__(self, stream, archive: zipfile.ZipFile, folder: str, path: Path) -> None:
        super().__init__(stream)
        self.archive, self.folder, self.path = archive, folder, path
        self.storages: dict[str, torch.Tensor] = {}
        self.classes: dict[str, type] = {}

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__"):
            qualname = f"{module}.{name}"
            if qualname not in self.classes:
                self.classes[qualname] = type(name, (ScriptObject,), {"qualname": qualname})
            return self.classes[qualname]
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module == "torch.jit._pickle" and name.startswith("build_") and name.endswith("list"):
            return list
        if (module, name) == ("torch.jit._pickle", "restore_type_tag"):
            return _drop_type_tag
        raise pickle.UnpicklingError(f"the pickle names {module}.{name}, which a module tree "
                                     "of tensors does not need; refused")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], torch.dtype) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise pickle.UnpicklingError(f"unexpected storage reference {pid!r:.80}")
        _, dtype, key, _, numel = pid
        if key not in self.storages:
            name = f"{self.folder}data/{key}"
            nbytes = numel * torch.empty((), dtype=dtype).element_size()
            if self.archive.getinfo(name).file_size != nbytes:
                raise pickle.UnpicklingError(f"storage {name} does not hold {numel} "
                                             f"{dtype} values")
            raw = bytearray(self.archive.read(name))
            self.storages[key] = (torch.frombuffer(raw, dtype=dtype) if raw
                                  else torch.empty(0, dtype=dtype))
        return self.storages[key]


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None,
                    metadata=None) -> torch.Tensor:
    """``storage[offset:]`` viewed with ``size``/``stride``; every index checked in bounds."""
    if not isinstance(storage, torch.Tensor) or storage.dim() != 1:
        raise pickle.UnpicklingError("a tensor without storage")
    size, stride = tuple(size), tuple(stride)
    numbers = (offset, *size, *stride)
    if (len(size) != len(stride) or not all(isinstance(n, int) and n >= 0 for n in numbers)):
        raise pickle.UnpicklingError(f"tensor with size {size}, stride {stride}, offset {offset}")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.numel():
            raise pickle.UnpicklingError(f"tensor of size {size} reaches element {last} of a "
                                         f"storage of {storage.numel()}")
    return torch.as_strided(storage, size, stride, offset).clone()


def _drop_type_tag(value, type_name):
    return value


def _collect(obj: ScriptObject, prefix: str, out: TorchScriptContents, *, top: bool,
             depth: int) -> None:
    """Tensors of ``obj`` and its submodules into ``out.tensors`` (dotted paths); the plain
    attributes of the root into ``out.attributes``."""
    if depth > 64:
        raise ModelFileError("the module tree is nested more than 64 levels deep",
                             hint="not a model file")
    for name, value in obj.attributes.items():
        key = f"{prefix}{name}"
        if isinstance(value, torch.Tensor):
            out.tensors[key] = value
        elif isinstance(value, ScriptObject):
            _collect(value, key + ".", out, top=False, depth=depth + 1)
        elif top and isinstance(value, (str, int, float, bool, list, dict, type(None))):
            out.attributes[name] = value
