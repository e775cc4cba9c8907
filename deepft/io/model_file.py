"""The frozen model file ``model.dft``: writer, reader and version upgrades.

The format is also described for users in docs/model-file-format.md (keep both in sync).

Format, version 2 (all integers little-endian, all arrays C order, little-endian)::

    offset  size  content
    0       8     magic b"DEEPFTMD"
    8       4     uint32 format_version (2)
    12      4     uint32 CRC-32 of the L header bytes (version 1: reserved, 0)
    16      8     uint64 L = length of the JSON header in bytes
    24      L     JSON header, UTF-8 (no BOM)
    24 + L  pad   zero bytes up to the next multiple of 64: the blob starts 64-aligned
    B       ...   tensor blob: the bytes of every tensor, each at a 64-aligned offset

CRC-32 is the zlib / PNG checksum (polynomial 0xEDB88320 reflected, init and final xor
0xFFFFFFFF; ``zlib.crc32``; ``crc32(b"123456789") == 0xCBF43926``); the C++ reader
(source/core/checksum.cc) computes the same value. The header checksum covers the header,
and through the per-tensor ``crc32`` fields it holds, every tensor.

Header keys::

    format_version   int, repeats the binary field
    deepft_version   str, version of deepft that wrote the file
    type_map         [str], element name of each atom type (the model's shared type map)
    default_branch   str, the branch loaded when none is asked for
    branches         {name: branch}, see below; single-task models have one branch "Default"
    tensors          {name: {"dtype": "float64" | "float32", "shape": [int >= 0, ...],
                             "offset": bytes from blob start (multiple of 64),
                             "nbytes": prod(shape) * itemsize,
                             "crc32": CRC-32 of the nbytes tensor bytes (version >= 2)}}
    blob_nbytes      int, size of the blob (lets readers detect a truncated file); every
                     tensor satisfies offset + nbytes <= blob_nbytes
    config           the full normalized training input (informational)

One branch::

    type_map           [str], the atom types the branch's inputs are indexed by
    descriptor         normalized descriptor config; common keys: type ("se_e2_a" | "dpa1"),
                       sel [int >= 1], rcut, rcut_smth (Å), neuron [int], axis_neuron,
                       resnet_dt, type_one_side, activation_function, precision; "dpa1" adds
                       tebd_dim, tebd_input_mode, use_tebd_bias, attn, attn_layer, attn_dotr,
                       normalize, temperature (or null), scaling_factor,
                       smooth_type_embedding, ln_eps, concat_output_tebd and has sel = [nsel]
    fitting_net        normalized energy fitting config: type, neuron [int], resnet_dt,
                       activation_function, precision, mixed_types (one net for all types;
                       absent in older files: false)
    descriptor_prefix  "P." : se_e2_a tensors P.davg, P.dstd ([ntypes, 4]) and
                       P.embeddings.K.layers.L.{matrix [in, out], bias [out], idt [out]}
                       with out = neuron[L]; DPA-1 tensors: see docs/model-file-format.md
    fitting_prefixes   ["Q.", ...]: fitting tensors Q.nets.T.layers.L.{matrix, bias, idt}
                       (widths fitting_net.neuron + [1]; T = 0 only with mixed_types) and
                       Q.bias_atom_e [ntypes]; the atomic energies of all prefixes are summed

A branch written by ``deepft compress`` adds ``compression`` (the tabulated embedding nets;
format in deepft.compress.model and docs/model-file-format.md) and its tensors
``<table_prefix>table.K``; the nets stay in the file.

Tensor names are the torch ``state_dict`` keys of the trained model. Tensors shared between
branches (a multitask descriptor) are stored once, under the first name the model lists them
by, and every branch's prefix points at that name.

Readers treat files as untrusted: sizes and offsets are checked without overflow, the
checksums are verified, and every problem is a :class:`~deepft.errors.ModelFileError` naming
the file and the field ("file is corrupt (checksum mismatch in <what>)" for a checksum).

Versioning: a reader that meets an older ``format_version`` runs the registered upgrade
functions ``_UPGRADES[v]`` (v -> v + 1) in turn; a newer version, or an old one with no
upgrade path, is a :class:`~deepft.errors.ModelFileError` that names the file. Version 1
files (no checksums) still load, with a :class:`~deepft.errors.ModelFileWarning`;
:func:`upgrade_model_file` rewrites them as version 2.
"""

from __future__ import annotations

import json
import math
import os
import struct
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepft._atomic import atomic_write
from deepft.errors import ModelFileError, ModelFileWarning

MAGIC = b"DEEPFTMD"
FORMAT_VERSION = 2
FIRST_CHECKSUM_VERSION = 2  # files of older versions carry no checksum
ALIGN = 64
_PREAMBLE = struct.Struct("<8sIIQ")  # magic, version, header CRC-32 (v1: 0), header length
_DTYPES = {"float64": np.dtype("<f8"), "float32": np.dtype("<f4")}

HINT_REFREEZE = "freeze the checkpoint again with `deepft freeze -c CHECKPOINT -o model.dft`"


@dataclass
class FrozenModel:
    """A model.dft read back: the header dict and every tensor as a numpy array."""

    path: Path
    header: dict
    tensors: dict[str, np.ndarray] = field(repr=False)

    @property
    def format_version(self) -> int:
        return int(self.header["format_version"])

    @property
    def type_map(self) -> list[str]:
        return list(self.header["type_map"])

    @property
    def branches(self) -> list[str]:
        return list(self.header["branches"])

    @property
    def default_branch(self) -> str:
        return self.header["default_branch"]

    def branch(self, name: str | None = None) -> dict:
        """Header entry of branch ``name`` (default branch when None)."""
        name = self.default_branch if name is None else name
        if name not in self.header["branches"]:
            raise ModelFileError(
                f"{self.path}: no branch {name!r}; the model has {self.branches}",
                hint="pass one of the listed branch names")
        return self.header["branches"][name]

    def branch_state_dict(self, name: str | None = None) -> dict[str, np.ndarray]:
        """Tensors of one branch renamed to a single-task ``EnergyModel`` state_dict
        (``descriptor.*``, ``fitting.*``); only valid for branches with one fitting prefix."""
        br = self.branch(name)
        if len(br["fitting_prefixes"]) != 1:
            raise ModelFileError(f"{self.path}: branch {name!r} sums several fitting nets",
                                 hint="read the tensors by prefix instead")
        out = {}
        for old, new in ((br["descriptor_prefix"], "descriptor."),
                         (br["fitting_prefixes"][0], "fitting.")):
            for key, value in self.tensors.items():
                if key.startswith(old):
                    out[new + key[len(old):]] = value
        return out


# ---- writing ----------------------------------------------------------------------------------

def _pad(n: int) -> int:
    return (-n) % ALIGN


def checksum(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 of ``data`` as stored in model.dft (zlib.crc32; equals deepft::crc32 in C++)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def assemble_model_file(header: Mapping, blob: bytes, version: int | None = None) -> bytes:
    """Bytes of a model.dft from a complete header (``tensors``, ``blob_nbytes`` and
    ``format_version`` included, used as given) and the tensor blob; stamps the header
    checksum for versions >= 2 (``version``: default FORMAT_VERSION). Tests use it to
    re-stamp deliberately broken headers."""
    version = FORMAT_VERSION if version is None else version
    text = json.dumps(header, ensure_ascii=False, allow_nan=False, indent=None).encode("utf-8")
    crc = checksum(text) if version >= FIRST_CHECKSUM_VERSION else 0
    head = _PREAMBLE.pack(MAGIC, version, crc, len(text)) + text
    return head + b"\0" * _pad(len(head)) + blob


def encode_model_file(header: Mapping, tensors: Mapping[str, np.ndarray],
                      version: int | None = None) -> bytes:
    """Bytes of a model.dft from the header fields (everything but ``tensors``,
    ``blob_nbytes`` and ``format_version``, which are filled in) and the named arrays.
    ``version`` 1 writes the legacy layout without checksums (compatibility tests)."""
    version = FORMAT_VERSION if version is None else version
    entries, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.asarray(array)
        dtype = str(array.dtype)
        if dtype not in _DTYPES:
            raise ModelFileError(f"tensor {name!r} has dtype {dtype}; model.dft stores "
                                 "float64 or float32", hint="cast the tensor before writing")
        data = np.ascontiguousarray(array, dtype=_DTYPES[dtype]).tobytes()
        entries[name] = {"dtype": dtype, "shape": list(array.shape), "offset": offset,
                         "nbytes": len(data)}
        if version >= FIRST_CHECKSUM_VERSION:
            entries[name]["crc32"] = checksum(data)
        chunks.append(data + b"\0" * _pad(len(data)))
        offset += len(data) + _pad(len(data))
    full = dict(header)
    full.update(format_version=version, tensors=entries, blob_nbytes=offset)
    return assemble_model_file(full, b"".join(chunks), version)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (deepft._atomic)."""
    atomic_write(path, lambda fh: fh.write(data))


def write_model_file(path: str | os.PathLike, header: Mapping,
                     tensors: Mapping[str, np.ndarray]) -> Path:
    """Write a model.dft atomically (see the module docstring for ``header``)."""
    for key in ("type_map", "branches", "default_branch"):
        if key not in header:
            raise ModelFileError(f"{path}: model header lacks {key!r}",
                                 hint="this is a bug in the caller of write_model_file")
    atomic_write_bytes(path, encode_model_file(header, tensors))
    return Path(path)


# ---- reading ----------------------------------------------------------------------------------

# version v -> function(header, path) returning the header of version v + 1 (tensors unchanged)
_UPGRADES: dict[int, Callable[[dict, Path], dict]] = {
    1: lambda header, path: header,  # version 2 only adds checksums to the encoding
}


def upgrade_header(header: dict, version: int, path: Path) -> dict:
    """Bring a header of ``version`` to FORMAT_VERSION through the registered upgrades."""
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model.dft format version {version} is newer than this deepft "
            f"supports ({FORMAT_VERSION})", hint="upgrade deepft to read this file")
    while version < FORMAT_VERSION:
        step = _UPGRADES.get(version)
        if step is None:
            raise ModelFileError(
                f"{path}: model.dft format version {version} is not supported and cannot be "
                f"upgraded (this deepft reads version {FORMAT_VERSION})", hint=HINT_REFREEZE)
        header = step(header, path)
        version += 1
        header["format_version"] = version
    return header


def read_model_file(path: str | os.PathLike) -> FrozenModel:
    """Read and validate a model.dft (any supported version, upgraded to the current one)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.strerror})",
                             hint="check the path of the frozen model") from None
    return decode_model_file(data, path)


def decode_model_file(data: bytes, path: Path) -> FrozenModel:
    """The model in the bytes ``data`` of file ``path`` (named in errors), validated."""
    if len(data) < _PREAMBLE.size or data[:8] != MAGIC:
        raise ModelFileError(f"{path}: not a deepft model file (bad magic bytes)",
                             hint="pass a model.dft written by `deepft freeze`")
    _, version, header_crc, hlen = _PREAMBLE.unpack_from(data)
    if _PREAMBLE.size + hlen > len(data):
        raise ModelFileError(f"{path}: truncated model file (header of {hlen} bytes does not "
                             "fit)", hint=HINT_REFREEZE)
    text = data[_PREAMBLE.size:_PREAMBLE.size + hlen]
    if version >= FIRST_CHECKSUM_VERSION and version <= FORMAT_VERSION:
        if checksum(text) != header_crc:
            raise _corrupt(path, "the header")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: corrupt model header ({exc})", hint=HINT_REFREEZE) from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: corrupt model header (not a JSON object)",
                             hint=HINT_REFREEZE)
    header = upgrade_header(header, version, path)
    if version < FIRST_CHECKSUM_VERSION:
        warnings.warn(f"{path}: model.dft format version {version} carries no checksum, so "
                      "corruption cannot be detected (rewrite it with "
                      "deepft.io.model_file.upgrade_model_file(old, new))", ModelFileWarning,
                      stacklevel=3)
    start = _PREAMBLE.size + hlen + _pad(_PREAMBLE.size + hlen)
    tensors = _read_tensors(header, data, start, path, version >= FIRST_CHECKSUM_VERSION)
    return FrozenModel(path, header, tensors)


def _corrupt(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: file is corrupt (checksum mismatch in {what})",
                          hint="download or copy the file again, or " + HINT_REFREEZE)


def _field_int(value, path: Path, name: str) -> int:
    """``value`` as an int >= 0 (bool excluded), else a ModelFileError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelFileError(f"{path}: header field {name!r} must be an integer >= 0, got "
                             f"{value!r}"[:300], hint=HINT_REFREEZE)
    return value


def _read_tensors(header: dict, data: bytes, start: int, path: Path,
                  verify: bool) -> dict[str, np.ndarray]:
    present = max(0, len(data) - start)
    declared = _field_int(header.get("blob_nbytes", 0), path, "blob_nbytes")
    if present < declared:
        raise ModelFileError(f"{path}: truncated model file ({present} of {declared} tensor "
                             "bytes present)", hint=HINT_REFREEZE)
    table = header.get("tensors", {})
    if not isinstance(table, dict):
        raise ModelFileError(f"{path}: header field 'tensors' must be an object",
                             hint=HINT_REFREEZE)
    tensors = {}
    for name, info in table.items():
        field = f"tensors.{name}"
        info = info if isinstance(info, dict) else {}
        dtype = _DTYPES.get(info.get("dtype")) if isinstance(info.get("dtype"), str) else None
        shape = info.get("shape")
        if dtype is None or not isinstance(shape, list):
            raise ModelFileError(f"{path}: tensor {name!r} has an inconsistent entry "
                                 f"{info}"[:300], hint=HINT_REFREEZE)
        shape = tuple(_field_int(s, path, f"{field}.shape") for s in shape)
        offset = _field_int(info.get("offset"), path, f"{field}.offset")
        nbytes = _field_int(info.get("nbytes"), path, f"{field}.nbytes")
        if nbytes != dtype.itemsize * math.prod(shape) or offset % ALIGN:
            raise ModelFileError(f"{path}: tensor {name!r} has an inconsistent entry "
                                 f"{info}"[:300], hint=HINT_REFREEZE)
        if offset + nbytes > declared:
            raise ModelFileError(f"{path}: truncated model file (tensor {name!r} ends past the "
                                 "end of the file)", hint=HINT_REFREEZE)
        raw = memoryview(data)[start + offset:start + offset + nbytes]
        if verify and checksum(raw) != _field_int(info.get("crc32"), path, f"{field}.crc32"):
            raise _corrupt(path, f"tensor {name!r}")
        tensors[name] = np.frombuffer(raw, dtype).reshape(shape)
    return tensors


def upgrade_model_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Rewrite a model.dft of an older format version as the current version."""
    with warnings.catch_warnings():  # "no checksum" is what this upgrade fixes
        warnings.simplefilter("ignore", ModelFileWarning)
        model = read_model_file(source)
    header = {k: v for k, v in model.header.items()
              if k not in ("tensors", "blob_nbytes", "format_version")}
    return write_model_file(target, header, model.tensors)


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file that starts with the model.dft magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        return False
