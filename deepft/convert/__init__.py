"""Models from other tools read as deepft checkpoints: DeePMD-kit 3.x PyTorch checkpoints and
frozen models (:mod:`deepft.convert.deepmd`), read without running code from the files
(:mod:`deepft.convert.torchscript` for TorchScript archives)."""

from deepft.convert.deepmd import DeepmdModel, deepft_checkpoint, is_deepmd_checkpoint, read_deepmd

__all__ = ["DeepmdModel", "deepft_checkpoint", "is_deepmd_checkpoint", "read_deepmd"]
