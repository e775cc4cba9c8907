"""Descriptors: se_e2_a (:class:`DescrptSeA`)."""

from deepft.model.descriptor.se_e2_a import DescrptSeA

__all__ = ["DescrptSeA"]
