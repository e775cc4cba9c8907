"""Shared helpers of the test suite (importable from every test as ``support.<module>``).

- :mod:`support.paths`: where the repository, the example data and inputs are.
- :mod:`support.tolerances`: the named tolerances (per dtype where it matters).
- :mod:`support.frames`: frames of deepmd/npy systems as numpy or torch arrays.
- :mod:`support.systems`: writable or modified copies of deepmd/npy systems.
- :mod:`support.models`: small torch models (random weights, data-like statistics).
- :mod:`support.table_oracle`: torch oracle of a compressed model (nets -> tables).
- :mod:`support.model_files`: random ``model.dft`` files written with numpy alone.
- :mod:`support.training`: in-process ``deepft train`` (config -> tasks -> model -> Trainer).
- :mod:`support.cli`: the ``python -m deepft`` runner and small real water inputs.
- :mod:`support.examples`: the shipped multitask/fine-tuning examples, shrunk for tests.
- :mod:`support.finetune_inputs`: tiny single/multitask inputs of the fine-tuning tests.
- :mod:`support.config_inputs`: DeePMD-kit's example inputs used by the config tests.
- :mod:`support.neighbors`: random systems and the neighbor-table oracle of the kernel tests.
- :mod:`support.lammps_run`: running LAMMPS with ``pair_style deepft`` and reading it back.
- :mod:`support.threads`: a fixture pinning torch to one intra-op thread.

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so this works from any working directory.
"""
