"""Schema of ``model`` (single task) and of the multitask ``model`` section.

Single task: ``type_map``, ``descriptor``, ``fitting_net`` and a few model-wide keys.
Multitask: ``shared_dict`` (named components) and ``model_dict`` (branch -> single-task model
section whose ``type_map``/``descriptor``/``fitting_net`` may name a ``shared_dict`` entry). After
normalization ``shared_dict`` is gone: each branch holds full dicts and ``shared_links`` lists
which branch components came from one shared entry (see deepft.config.multitask).
"""

from __future__ import annotations

from dargs import Argument

from deepft.config._args import inert, positive
from deepft.config.descriptor import descriptor_arg
from deepft.config.fitting import fitting_arg

#: model-section key where ``deepft train --finetune`` records the structure it gave the model
#: (deepft.model.structure); a ``_`` key, so normalization treats it as a comment
FINETUNE_RECORD = "_finetune"


def type_map_ok(value: list[str]) -> bool:
    return bool(value) and len(set(value)) == len(value) and all(value)


def model_fields() -> list[Argument]:
    """The keys of one single-task model section (also one ``model_dict`` branch)."""
    return [
        Argument("type_map", list[str], extra_check=type_map_ok,
                 extra_check_errmsg="must be a non-empty list of distinct element names",
                 doc="Name of each atom type, in type order (type i is type_map[i]). Data "
                     "systems are mapped onto it by their type_map.raw."),
        descriptor_arg(),
        fitting_arg(),
        Argument("data_stat_nbatch", int, optional=True, default=10, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Number of batches drawn from each system for the data statistics "
                     "(environment-matrix mean/std, energy bias), also when fine-tuning "
                     "refits the bias (DeePMD-kit's PyTorch backend draws batches too)."),
        Argument("finetune_head", str, optional=True,
                 doc="The branch of a multitask pretrained model whose fitting net is "
                     "fine-tuned from; ``RANDOM`` (or not set) gives a fresh fitting net."),
        inert("type", str, "standard", "model type"),
        inert("data_stat_protect", float, 1e-2, "statistics protection"),
        inert("data_bias_nsample", int, 10, "bias samples"),
        inert("pair_exclude_types", list, [], "excluded pairs"),
        inert("atom_exclude_types", list, [], "excluded atom types"),
        inert("preset_out_bias", [dict, None], None, "preset bias"),
        inert("srtab_add_bias", bool, True, "tabulated short range"),
        inert("model_branch_alias", list[str], [], "branch aliases"),
        inert("info", dict, {}, "branch metadata"),
    ]


def model_arg() -> Argument:
    return Argument("model", dict, model_fields(), doc="The model (single task).")


def multitask_model_arg() -> Argument:
    branch = Argument("model_dict", dict, model_fields(), repeat=True, fold_subdoc=True,
                      doc="Branch name -> model section (same keys as the single-task "
                          "``model``). ``type_map``, ``descriptor`` and ``fitting_net`` may be a "
                          "string naming a shared_dict entry (``\"name\"`` or ``\"name:0\"``): "
                          "branches naming the same entry share one set of weights. RANDOM is "
                          "reserved. Keys written directly under ``model`` (other than "
                          "model_dict, shared_dict, shared_links) apply to every branch that "
                          "does not set them.")
    return Argument("model", dict, [
        branch,
        Argument("shared_dict", dict, optional=True,
                 doc="Named components (a type_map list, a descriptor or a fitting_net dict) "
                     "referenced by name from model_dict. Resolved and removed during "
                     "normalization."),
        Argument("shared_links", dict[str, list[str]], optional=True, default={},
                 doc="Written by normalization: shared_dict name -> the "
                     "\"branch/component\" entries (component: descriptor or fitting_net) "
                     "that hold it; they share one module object."),
    ], doc="The multitask model: shared components and branches.")
