"""Host arrays onto the training device without making the host wait for the GPU."""

from __future__ import annotations

import torch


def upload(array, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``array`` (numpy or a CPU tensor) as a tensor on ``device`` (converted to ``dtype``).

    For CUDA the data goes through pinned host memory with ``non_blocking=True``: a plain copy
    from pageable memory synchronizes the stream, i.e. the host would wait for the previous
    step's kernels at every upload. Torch's pinned allocator keeps the staging block alive until
    the copy has run. Other devices: ``torch.as_tensor``.
    """
    tensor = torch.as_tensor(array, dtype=dtype)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def host_read_syncs(value) -> bool:
    """True when reading ``value`` on the host would wait for an accelerator (a tensor on a
    GPU). The training step avoids such reads: it keeps every slot instead of trimming by the
    largest neighbor count, skips shortcuts decided by tensor values, and defers the sel
    overflow check. Tests replace this function to run that route on the CPU."""
    return torch.is_tensor(value) and value.device.type != "cpu"
