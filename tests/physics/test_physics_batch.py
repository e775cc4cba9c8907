"""A batch of frames gives the same numbers as the frames one by one."""

from __future__ import annotations

import pytest
import torch
from support.frames import load_frames_torch
from support.models import PHYSICS_DESCRIPTORS, PHYSICS_TYPE_MAP, physics_model
from support.tolerances import SAME

F64 = torch.float64


@pytest.mark.parametrize("type_one_side", [True, False])
@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_batched_equals_single_water(descriptor, water_frames, type_one_side):
    coord, box, atype = water_frames
    model = physics_model(type_one_side, descriptor=descriptor)
    tol = SAME[F64]
    batch = model(coord, box, atype, do_atomic_virial=True)
    for f in range(coord.shape[0]):
        single = model(coord[f:f + 1], box[f:f + 1], atype, do_atomic_virial=True)
        for key, value in single.items():
            torch.testing.assert_close(batch[key][f:f + 1], value, rtol=tol, atol=tol,
                                       msg=f"frame {f} {key} type_one_side={type_one_side}")


@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_batched_equals_single_organic(descriptor, organic_dir):
    coord, box, atype = load_frames_torch(organic_dir / "C1H4O2", [0, 100, 900], PHYSICS_TYPE_MAP)
    model = physics_model(descriptor=descriptor)
    batch = model(coord, box, atype)
    for f in range(3):
        single = model(coord[f:f + 1], box, atype)
        for key, value in single.items():
            torch.testing.assert_close(batch[key][f:f + 1], value, rtol=SAME[F64],
                                       atol=SAME[F64], msg=f"organic frame {f} {key}")


@pytest.mark.parametrize("descriptor", PHYSICS_DESCRIPTORS)
def test_training_mode_batch_equals_single(descriptor, water_frames):
    """Also with create_graph (training): values identical, graph kept."""
    coord, box, atype = water_frames
    model = physics_model(descriptor=descriptor).train()
    batch = model(coord[:2], box[:2], atype)
    assert batch["force"].requires_grad
    single = model(coord[1:2], box[1:2], atype)
    torch.testing.assert_close(batch["force"][1:2], single["force"], rtol=0,
                               atol=SAME[F64])
