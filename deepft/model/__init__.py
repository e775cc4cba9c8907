"""Models: se_e2_a and DPA-1 descriptors, energy fitting, energy and multitask models, LoRA,
type maps.

Public API::

    build_model(model_cfg, shared=None) -> EnergyModel         # one normalized model section
    build_multitask_model(model_section) -> MultiTaskModel     # model_dict + shared_links
    build_from_config(cfg) -> EnergyModel | MultiTaskModel     # the whole normalized input
    EnergyModel.forward(coord, box, atype, nlist=None, do_atomic_virial=False) -> dict
    change_type_map(model, new_type_map, sel=None, seed=None)  # fine-tuning onto a new map
    apply_lora(module, rank, alpha, ...), merge_lora(module)   # LoRA adapters on every Layer

Module layout (= frozen-model tensor names) is documented in each component's module.
"""

from deepft.model.build import (
    build_descriptor,
    build_fitting,
    build_from_config,
    build_model,
    build_multitask_model,
)
from deepft.model.descriptor import DescrptDPA1, DescrptSeA
from deepft.model.energy_model import EnergyModel
from deepft.model.fitting import EnergyFitting
from deepft.model.lora import LoRALayer, apply_lora, merge_lora
from deepft.model.multitask import MultiTaskModel
from deepft.model.network import EmbeddingNet, FittingNet, Layer
from deepft.model.type_map import change_type_map

__all__ = [
    "DescrptDPA1",
    "DescrptSeA",
    "EmbeddingNet",
    "EnergyFitting",
    "EnergyModel",
    "FittingNet",
    "Layer",
    "LoRALayer",
    "MultiTaskModel",
    "apply_lora",
    "build_descriptor",
    "build_fitting",
    "build_from_config",
    "build_model",
    "build_multitask_model",
    "change_type_map",
    "merge_lora",
]
