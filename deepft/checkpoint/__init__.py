"""Training checkpoints: saving, loading (never executing code from the file), versioning, and
rebuilding the trained model from one.

Public API::

    save_checkpoint(state, prefix, step, max_keep) -> Path      # atomic, repoints prefix.pt
    load_checkpoint(path) -> dict                               # validated; ModelFileError
    write_checkpoint(state, path) -> Path                       # atomic, one file
    list_checkpoints(prefix), newest_complete_checkpoint(prefix), remove_partial_writes(prefix)
    build_trained_model(cfg) -> nn.Module                       # with fine-tuning structure
    load_trained_model(ckpt, source) -> nn.Module               # ... and its weights
    frozen_ready_model(ckpt, source) -> nn.Module               # LoRA folded, eval mode

File layout: :mod:`deepft.checkpoint.files`; model rebuild: :mod:`deepft.checkpoint.rebuild`.
"""

from deepft.checkpoint.files import (
    FORMAT,
    FORMAT_VERSION,
    list_checkpoints,
    load_checkpoint,
    newest_complete_checkpoint,
    remove_partial_writes,
    save_checkpoint,
    write_checkpoint,
)
from deepft.checkpoint.rebuild import (
    build_trained_model,
    finetune_record,
    frozen_ready_model,
    load_trained_model,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "build_trained_model", "finetune_record",
           "frozen_ready_model", "list_checkpoints", "load_checkpoint", "load_trained_model",
           "newest_complete_checkpoint", "remove_partial_writes", "save_checkpoint",
           "write_checkpoint"]
