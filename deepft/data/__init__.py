"""Data: systems (deepmd/npy folders, deepmd/hdf5 groups), batching, statistics, stat caching.

Pure numpy/h5py: nothing here imports torch.
"""

from deepft.data.expand import expand_systems
from deepft.data.sampler import DataSampler, resolve_batch_sizes, system_probabilities
from deepft.data.stat_file import StatFile, config_key, data_fingerprint, type_map_key
from deepft.data.stats import (
    BiasFit,
    count_matrix,
    energy_fit_data,
    fit_energy_bias,
    sample_stat_frames,
)
from deepft.data.system import System

__all__ = [
    "BiasFit",
    "DataSampler",
    "StatFile",
    "System",
    "config_key",
    "count_matrix",
    "data_fingerprint",
    "energy_fit_data",
    "expand_systems",
    "fit_energy_bias",
    "resolve_batch_sizes",
    "sample_stat_frames",
    "system_probabilities",
    "type_map_key",
]
