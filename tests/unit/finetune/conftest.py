"""Pretrained checkpoints shared by the fine-tuning unit tests (built once per session)."""

from __future__ import annotations

import pytest
import torch
from support.finetune_inputs import multitask_input, organic_systems, single_input
from support.training import pretrain


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def multitask_ckpt(tmp_path_factory, water_dir, organic_dir):
    """water + organic over one shared descriptor ([O, H, C]), 4 training steps."""
    work = tmp_path_factory.mktemp("pre_mt")
    return pretrain(multitask_input(work, water_dir, organic_dir, numb_steps=4,
                                    model_prob={"water": 1.0, "organic": 1.0}))


@pytest.fixture(scope="session")
def water_ckpt(tmp_path_factory, water_dir):
    """single-task water model ([O, H]), 4 training steps."""
    work = tmp_path_factory.mktemp("pre_water")
    return pretrain(single_input(work, ["O", "H"], [water_dir / "data_0"], numb_steps=4,
                                 batch_size=1))


@pytest.fixture(scope="session")
def organic_ckpt(tmp_path_factory, organic_dir):
    """single-task organic model ([C, H, O]), 4 training steps."""
    work = tmp_path_factory.mktemp("pre_organic")
    return pretrain(single_input(work, ["C", "H", "O"], organic_systems(organic_dir),
                                 numb_steps=4))
