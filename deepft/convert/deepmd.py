"""DeePMD-kit 3.x PyTorch models as deepft checkpoints: the same function, deepft's names.

Two DeePMD-kit files are read, neither with DeePMD-kit installed nor by running code from them:

- a training checkpoint (``model.ckpt-N.pt``, ``model.ckpt.pt``): ``torch.save`` of
  ``{"model": state_dict, "optimizer": ...}``, loaded with ``weights_only=True``; the state
  dict's ``_extra_state["model_params"]`` is DeePMD-kit's normalized model section (single-task,
  or multitask with ``model_dict``), its tensors are named ``model.BRANCH.atomic_model.*``;
- a frozen model (``model.pth``, TorchScript): its tensors and the ``model_def_script``
  attribute (the model section as JSON), read by :mod:`deepft.convert.torchscript`; one branch.

:func:`read_deepmd` returns a :class:`DeepmdModel`; :func:`deepft_checkpoint` turns it into the
fields of a deepft checkpoint (``config`` holding the model section only, ``model`` the state
dict, ``step``, and ``min_nbor_dist`` {branch: Å} where DeePMD-kit recorded it), which every
deepft command then takes like its own. The translation:

- descriptor ``se_e2_a``/``se_a`` (``type_one_side`` either), ``dpa1``/``se_atten``,
  ``se_atten_v2``; fitting ``ener``. The sections go through deepft's own schema, which refuses
  by name what deepft does not implement (``exclude_types``, ``env_protection``...); model-level
  and fitting options that change the function (``pair_exclude_types``, ``numb_fparam``,
  ``atom_ener``, another model or fitting type, ...) are refused here, naming the key.
- DeePMD-kit's statistics ``mean``/``stddev`` [ntypes, nnei, 4] hold one row per center type
  repeated over the neighbor slots: deepft keeps the row (``davg``/``dstd`` [ntypes, 4]).
- the per-type energy bias: DeePMD-kit adds ``out_bias`` [1, ntypes, 1] to the fitting net's
  ``bias_atom_e`` [ntypes, 1] output; deepft holds the sum as ``fitting.bias_atom_e`` [ntypes].
  ``out_std`` does not enter an energy model's output.
- se_e2_a pair nets (``type_one_side: false``): DeePMD-kit's net ``center + neighbor * ntypes``
  is deepft's ``center * ntypes + neighbor``.
- the networks' layers (``layers.K.matrix``/``bias``/``idt``) keep their names.

Every DeePMD-kit tensor is either mapped or listed in :data:`IGNORED` as carrying no
information for a supported model (alias copies, exclusion masks of an empty exclusion list,
compression tables of the same nets); anything else is refused, so nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import re
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

import torch

from deepft.branches import DEFAULT_BRANCH
from deepft.config import normalize_model
from deepft.config.branches import model_sections
from deepft.errors import InputError, ModelFileError

log = logging.getLogger("deepft.convert")

#: DeePMD-kit descriptor type -> deepft's
DESCRIPTORS = {"se_e2_a": "se_e2_a", "se_a": "se_e2_a", "dpa1": "dpa1", "se_atten": "dpa1",
               "se_atten_v2": "se_atten_v2"}
#: model-level keys that leave the function unchanged (training settings; the bridging radii
#: of a model without bridging)
MODEL_INERT_KEYS = ("data_stat_protect", "data_bias_nsample", "preset_out_bias",
                    "srtab_add_bias", "model_branch_alias", "info", "bridging_r_inner",
                    "bridging_r_outer")
#: model-level key -> the value it must have (anything else changes the model)
MODEL_REQUIRED = {"type": "standard", "pair_exclude_types": [], "atom_exclude_types": [],
                  "bridging_method": "None", "spin": None, "use_srtab": None,
                  "finetune_head": None}
#: fitting key -> the value it must have
FITTING_REQUIRED = {"type": "ener", "numb_fparam": 0, "numb_aparam": 0, "dim_case_embd": 0,
                    "atom_ener": [], "layer_name": None}
#: fitting keys without effect once FITTING_REQUIRED holds
FITTING_IGNORED = ("default_fparam", "rcond", "use_aparam_as_mask", "spin")
FITTING_KEPT = ("neuron", "resnet_dt", "activation_function", "precision", "trainable", "seed")
#: DeePMD-kit tensors (branch-relative name patterns) that carry nothing a supported model needs
IGNORED = (r"\._networks\.", r"\.emask\.type_mask$", r"\.compress_(info|data)\.\d+$",
           r"\.type_embd_data$", r"^atomic_model\.out_std$", r"^min_nbor_dist$")
#: DeePMD-kit name prefix -> deepft's, per descriptor family (type_one_side pair nets aside)
SE_A_NAMES = (("atomic_model.descriptor.sea.filter_layers.networks.", "descriptor.embeddings."),)
DPA1_NAMES = (
    ("atomic_model.descriptor.type_embedding.embedding.embedding_net.",
     "descriptor.type_embedding."),
    ("atomic_model.descriptor.se_atten.filter_layers.networks.0.", "descriptor.embedding."),
    ("atomic_model.descriptor.se_atten.filter_layers_strip.networks.0.",
     "descriptor.embedding_strip."),
    ("atomic_model.descriptor.se_atten.dpa1_attention.attention_layers.",
     "descriptor.attention."),
)
DPA1_RENAMES = ((".attention_layer.", "."), (".attn_layer_norm.matrix", ".layer_norm.weight"),
                (".attn_layer_norm.bias", ".layer_norm.bias"))
FITTING_NAMES = (("atomic_model.fitting_net.filter_layers.networks.", "fitting.nets."),)


@dataclass
class DeepmdModel:
    """A DeePMD-kit model as read: its model section and its tensors per branch.

    ``params``: DeePMD-kit's model section (``model_params`` of a checkpoint, the
    ``model_def_script`` of a frozen model). ``tensors``: branch -> the branch's state dict
    without the ``model.BRANCH.`` prefix (``atomic_model.descriptor.sea.mean``, ...); a
    single-task model's branch is ``Default``. ``step``: training steps done (0 if unknown).
    """

    path: Path
    kind: str  # "checkpoint" or "frozen model"
    params: dict
    tensors: dict[str, dict[str, torch.Tensor]]
    step: int = 0


def is_deepmd_checkpoint(state) -> bool:
    """Whether ``state`` (a loaded ``.pt``) is a DeePMD-kit 3.x PyTorch checkpoint."""
    model = state.get("model") if isinstance(state, dict) else None
    extra = model.get("_extra_state") if isinstance(model, dict) else None
    return isinstance(extra, dict) and isinstance(extra.get("model_params"), dict)


def from_checkpoint_state(state: dict, path: Path) -> DeepmdModel:
    """A loaded DeePMD-kit checkpoint (see :func:`is_deepmd_checkpoint`) as a DeepmdModel."""
    weights, extra = state["model"], state["model"]["_extra_state"]
    params = extra["model_params"]
    names = list(params["model_dict"]) if "model_dict" in params else [DEFAULT_BRANCH]
    tensors: dict[str, dict[str, torch.Tensor]] = {b: {} for b in names}
    for key, value in weights.items():
        if key == "_extra_state":
            continue
        match = re.match(r"model\.([^.]+)\.(.+)$", key)
        if not match or match.group(1) not in tensors or not isinstance(value, torch.Tensor):
            raise ModelFileError(f"{path}: unexpected entry {key!r} in the DeePMD-kit "
                                 f"checkpoint (branches {names})",
                                 hint="the file is damaged or from an unsupported version")
        tensors[match.group(1)][match.group(2)] = value
    infos = extra.get("train_infos") if isinstance(extra.get("train_infos"), dict) else {}
    step = infos.get("step", 0)
    step = step + 1 if isinstance(step, int) and step >= 0 else 0  # DeePMD-kit counts from 0
    return DeepmdModel(path, "checkpoint", params, tensors, step)


def from_torchscript(path: Path) -> DeepmdModel:
    """A DeePMD-kit frozen model (TorchScript ``.pth``) as a one-branch DeepmdModel."""
    from deepft.convert.torchscript import read_torchscript

    contents = read_torchscript(path)
    script = contents.attributes.get("model_def_script")
    try:
        params = json.loads(script) if isinstance(script, str) else None
    except json.JSONDecodeError:
        params = None
    if not isinstance(params, dict):
        raise ModelFileError(f"{path}: a TorchScript model without DeePMD-kit's "
                             "model_def_script (its model parameters)",
                             hint="give a model frozen by DeePMD-kit 3 (dp --pt freeze)")
    if "model_dict" in params:
        raise ModelFileError(f"{path}: a frozen multitask model", hint="freeze one branch with "
                             "dp --pt freeze --head BRANCH, or convert the checkpoint")
    return DeepmdModel(path, "frozen model", params, {DEFAULT_BRANCH: contents.tensors})


def read_deepmd(path: str | Path) -> DeepmdModel:
    """A DeePMD-kit checkpoint (``.pt``) or frozen model (``.pth``), read without running code
    from it; ModelFileError names the file when it is neither."""
    from deepft.convert.torchscript import is_torchscript_archive
    from deepft.io.torch_file import load_weights_only

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist or is not a file",
                             hint="give a DeePMD-kit model.ckpt-N.pt or a frozen model.pth")
    if is_torchscript_archive(path):
        return from_torchscript(path)
    state = load_weights_only(path, "DeePMD-kit model", "a DeePMD-kit 3 PyTorch checkpoint")
    if not is_deepmd_checkpoint(state):
        raise ModelFileError(f"{path} is not a DeePMD-kit 3 PyTorch checkpoint (no "
                             "model/_extra_state/model_params)",
                             hint="give a model.ckpt-N.pt written by dp --pt train, or a "
                                  "model.pth written by dp --pt freeze")
    return from_checkpoint_state(state, path)


def deepft_checkpoint(model: DeepmdModel) -> dict:
    """The fields of a deepft checkpoint holding ``model``: ``config`` (the model section only,
    normalized by deepft's schema), ``model`` (state dict under deepft's names), ``step`` and
    ``converted_from``. InputError names the DeePMD-kit key deepft cannot represent."""
    from deepft.model import build_from_config

    where = f"{model.path} (DeePMD-kit {model.kind})"
    section = normalize_model(deepft_model_section(model, where), where)
    config = {"model": section}
    sections = model_sections(config)
    multitask = "model_dict" in section
    state: dict[str, torch.Tensor] = {}
    for branch, branch_section in sections.items():
        if branch not in model.tensors:
            raise ModelFileError(f"{where}: no tensors for branch {branch!r}",
                                 hint="the file is damaged")
        prefix = f"branches.{branch}." if multitask else ""
        for name, value in branch_state(branch_section, model.tensors[branch],
                                        f"{where}, branch {branch}").items():
            state[prefix + name] = value
    if any(re.search(r"\.compress_data\.\d+$", k) and v.numel()
           for tensors in model.tensors.values() for k, v in tensors.items()):
        log.info("%s is a compressed DeePMD-kit model: its embedding nets are converted, its "
                 "tables are not (deepft's model is the uncompressed network)", model.path)
    target = build_from_config(config).state_dict()
    missing = sorted(set(target) - set(state))
    if missing:
        raise ModelFileError(f"{where}: no DeePMD-kit tensor gives {missing[:3]}",
                             hint="the file is damaged or from an unsupported version")
    for name, value in state.items():
        if tuple(value.shape) != tuple(target[name].shape):
            raise ModelFileError(f"{where}: tensor for {name} has shape {tuple(value.shape)}, "
                                 f"the model section needs {tuple(target[name].shape)}",
                                 hint="the file is damaged")
        state[name] = value.to(target[name].dtype).contiguous()
    out = {"config": config, "model": state, "step": model.step,
           "converted_from": f"DeePMD-kit {model.kind} {model.path.name}"}
    shortest = recorded_min_nbor_dist(model)
    if shortest:
        out["min_nbor_dist"] = shortest
    return out


def recorded_min_nbor_dist(model: DeepmdModel) -> dict[str, float]:
    """Branch -> the shortest neighbor distance (Å) of the training data that DeePMD-kit
    recorded (``min_nbor_dist``, set by its neighbor statistics; used by compression), for the
    branches that have a finite positive one."""
    out = {}
    for branch, tensors in model.tensors.items():
        value = tensors.get("min_nbor_dist")
        if value is not None and value.numel() == 1:
            value = float(value.reshape(()))
            if 0.0 < value < float("inf"):
                out[branch] = value
    return out


def deepft_model_section(model: DeepmdModel, where: str) -> dict:
    """DeePMD-kit's model section (single-task or multitask) as deepft input.

    DeePMD-kit records a multitask model's branches with their components copied in; which
    descriptor the branches share is read from the weights: branches whose descriptors have
    the same parameters and the same tensors share one (a ``shared_dict`` entry)."""
    params = model.params
    if "model_dict" not in params:
        return branch_section(params, where)
    branches = {b: branch_section(s, f"{where}: model_dict/{b}")
                for b, s in params["model_dict"].items()}
    groups: list[list[str]] = []
    for b in branches:
        for group in groups:
            first = group[0]
            if (branches[first]["descriptor"] == branches[b]["descriptor"]
                    and same_descriptor(model.tensors.get(first, {}), model.tensors.get(b, {}))):
                group.append(b)
                break
        else:
            groups.append([b])
    shared = {}
    for group in (g for g in groups if len(g) > 1):
        name = "descriptor" if len(groups) == 1 else f"descriptor_{group[0]}"
        shared[name] = branches[group[0]]["descriptor"]
        for b in group:
            branches[b]["descriptor"] = name
    return {"shared_dict": shared, "model_dict": branches} if shared else {"model_dict": branches}


def same_descriptor(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two branches' descriptor tensors are the same (names, shapes and values)."""
    def descriptor(tensors):
        return {k: v for k, v in tensors.items() if k.startswith("atomic_model.descriptor.")}

    da, db = descriptor(a), descriptor(b)
    return da.keys() == db.keys() and all(
        da[k].shape == db[k].shape and torch.equal(da[k], db[k]) for k in da)


def branch_section(params: dict, where: str) -> dict:
    """One DeePMD-kit model section (type_map, descriptor, fitting_net) as deepft input."""
    for key, value in params.items():
        if key in MODEL_REQUIRED:
            if value != MODEL_REQUIRED[key] and not (value in (None, []) and
                                                     MODEL_REQUIRED[key] in (None, [])):
                raise InputError(f"{where}: model/{key} = {value!r} is not supported by deepft",
                                 hint="deepft converts energy models of the standard type "
                                      "without exclusions")
        elif key not in MODEL_INERT_KEYS + ("type_map", "descriptor", "fitting_net",
                                               "data_stat_nbatch"):
            raise InputError(f"{where}: model/{key} is not supported by deepft",
                             hint="deepft converts se_e2_a and DPA-1 energy models")
    section = {"type_map": params.get("type_map"), "descriptor": params.get("descriptor"),
               "fitting_net": params.get("fitting_net")}
    if "data_stat_nbatch" in params:
        section["data_stat_nbatch"] = params["data_stat_nbatch"]
    if isinstance(section["descriptor"], dict):
        section["descriptor"] = descriptor_section(section["descriptor"], where)
    if isinstance(section["fitting_net"], dict):
        section["fitting_net"] = fitting_section(section["fitting_net"], where)
    return section


def descriptor_section(desc: dict, where: str) -> dict:
    """DeePMD-kit descriptor parameters as deepft's (type name, ``precision: default``)."""
    kind = desc.get("type")
    if kind not in DESCRIPTORS:
        raise InputError(f"{where}: descriptor type {kind!r} is not supported by deepft",
                         hint=f"deepft converts {sorted(DESCRIPTORS)}")
    out = deepcopy(desc)
    out["type"] = DESCRIPTORS[kind]
    if out.get("precision") == "default":  # DeePMD-kit's default precision is float64
        out["precision"] = "float64"
    return out


def fitting_section(fit: dict, where: str) -> dict:
    """DeePMD-kit ``ener`` fitting parameters as deepft's; other fittings refused by key."""
    for key, value in fit.items():
        if key in FITTING_REQUIRED:
            if value != FITTING_REQUIRED[key] and not (value in (None, []) and
                                                       FITTING_REQUIRED[key] in (None, [])):
                raise InputError(f"{where}: fitting_net/{key} = {value!r} is not supported "
                                 "by deepft", hint="deepft converts energy fittings without "
                                                   "frame/atomic parameters or atom_ener")
        elif key not in FITTING_IGNORED + FITTING_KEPT:
            raise InputError(f"{where}: fitting_net/{key} is not supported by deepft",
                             hint="deepft converts ener fittings")
    out = {key: fit[key] for key in FITTING_KEPT if key in fit}
    if out.get("precision") == "default":
        out["precision"] = "float64"
    return out


def branch_state(section: dict, tensors: dict[str, torch.Tensor], where: str
                 ) -> dict[str, torch.Tensor]:
    """One branch's DeePMD-kit tensors under deepft's single-task names (``descriptor.*``,
    ``fitting.*``), given the branch's normalized deepft model section."""
    desc = section["descriptor"]
    ntypes = len(section["type_map"])
    if desc["type"] == "se_e2_a":
        stats, names, renames = "atomic_model.descriptor.sea.", SE_A_NAMES, ()
    else:
        stats, names, renames = "atomic_model.descriptor.se_atten.", DPA1_NAMES, DPA1_RENAMES
    out = {"descriptor.davg": per_center(tensors, stats + "mean", where),
           "descriptor.dstd": per_center(tensors, stats + "stddev", where),
           "fitting.bias_atom_e": energy_bias(tensors, ntypes, where)}
    used = {stats + "mean", stats + "stddev", "atomic_model.out_bias",
            "atomic_model.fitting_net.bias_atom_e"}
    pair_nets = desc["type"] == "se_e2_a" and not desc["type_one_side"]
    for key, value in tensors.items():
        for src, dst in names + FITTING_NAMES:
            if not key.startswith(src):
                continue
            rest = key[len(src):]
            if pair_nets and dst == "descriptor.embeddings.":
                index, tail = rest.split(".", 1)
                rest = f"{pair_net_index(int(index), ntypes)}.{tail}"
            name = dst + rest
            for old, new in renames:
                name = name.replace(old, new)
            out[name] = value
            used.add(key)
            break
    left = [k for k in tensors if k not in used and not any(re.search(p, k) for p in IGNORED)]
    if left:
        raise ModelFileError(f"{where}: DeePMD-kit tensors deepft has no place for: {left[:4]}",
                             hint="the model uses a feature deepft does not convert")
    return out


def pair_net_index(deepmd_index: int, ntypes: int) -> int:
    """DeePMD-kit's se_e2_a pair net ``center + neighbor * ntypes`` -> deepft's
    ``center * ntypes + neighbor``."""
    return (deepmd_index % ntypes) * ntypes + deepmd_index // ntypes


def per_center(tensors: dict, key: str, where: str) -> torch.Tensor:
    """DeePMD-kit statistics [ntypes, nnei, 4] -> deepft's [ntypes, 4] (one row per center
    type; ModelFileError when the neighbor slots of a center type differ)."""
    value = tensors.get(key)
    if value is None or value.dim() != 3 or value.shape[-1] != 4:
        raise ModelFileError(f"{where}: {key} is missing or not [ntypes, nnei, 4]",
                             hint="the file is damaged or from an unsupported version")
    if value.shape[1] and not torch.equal(value, value[:, :1].expand_as(value)):
        raise ModelFileError(f"{where}: {key} differs between the neighbor slots of a type",
                             hint="deepft keeps one statistics row per element")
    return value[:, 0].clone()


def energy_bias(tensors: dict, ntypes: int, where: str) -> torch.Tensor:
    """``out_bias`` [1, ntypes, 1] + fitting ``bias_atom_e`` [ntypes, 1] -> [ntypes] (eV)."""
    out_bias = tensors.get("atomic_model.out_bias")
    fit_bias = tensors.get("atomic_model.fitting_net.bias_atom_e")
    if (out_bias is None or fit_bias is None or out_bias.numel() != ntypes
            or fit_bias.numel() != ntypes):
        raise ModelFileError(f"{where}: the energy bias (out_bias, fitting_net.bias_atom_e) is "
                             f"missing or not one value per type ({ntypes} types)",
                             hint="the file is damaged or not an energy model")
    return out_bias.reshape(-1) + fit_bias.reshape(-1)
