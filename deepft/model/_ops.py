"""The two kernels the model calls (one import point): deepft.ops.build_nlist and
deepft.ops.env_mat_se_a (compiled, twice differentiable)."""

from deepft.ops import build_nlist, env_mat_se_a

__all__ = ["build_nlist", "env_mat_se_a"]
