"""The frozen model file ``model.dft``: format, writer and reader (:mod:`deepft.io.model_file`),
and the export of a torch model to its contents (:mod:`deepft.io.export`)."""

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
