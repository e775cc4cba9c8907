"""The frozen model file ``model.dft`` (format spec: :mod:`deepft.io.model_file`) and
``deepft freeze`` (:mod:`deepft.io.freeze`)."""

from deepft.io.model_file import (
    FORMAT_VERSION,
    MAGIC,
    FrozenModel,
    read_model_file,
    upgrade_model_file,
    write_model_file,
)

__all__ = ["FORMAT_VERSION", "MAGIC", "FrozenModel", "read_model_file", "upgrade_model_file",
           "write_model_file"]
