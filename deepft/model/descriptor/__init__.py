"""Descriptors: se_e2_a (:class:`DescrptSeA`) and DPA-1 (:class:`DescrptDPA1`)."""

from deepft.model.descriptor.dpa1 import DescrptDPA1
from deepft.model.descriptor.se_e2_a import DescrptSeA

__all__ = ["DescrptDPA1", "DescrptSeA"]
