"""One branch of a model.dft as a torch ``EnergyModel`` with the file's weights.

The reverse of deepft.io.export, for the commands that work on a frozen model in torch:
``change-bias`` on a ``.dft`` (the prediction before the refit) and ``train --init-frz-model``.
A branch summing two fitting prefixes (a ``new_head`` fine-tune) becomes a
:class:`~deepft.model.fitting.FittingWithNewHead`.
"""

from __future__ import annotations

import numpy as np

from deepft.branches import DEFAULT_BRANCH
from deepft.errors import DeepftError, ModelFileError
from deepft.io.model_file import FrozenModel


def branch_section(frozen: FrozenModel, branch: str) -> dict:
    """The single-task model section (type_map, descriptor, fitting_net) of ``branch``.

    The fitting's ``mixed_types`` (one net for all types) is not an input key: the descriptor
    implies it (DPA-1), so it is checked against the descriptor and left out."""
    br = frozen.branch(branch)
    fitting = dict(br["fitting_net"])
    mixed = fitting.pop("mixed_types", False)
    if mixed != (br["descriptor"].get("type") == "dpa1"):
        raise ModelFileError(f"{frozen.path}: branch {branch}: fitting_net.mixed_types is "
                             f"{mixed!r} with a {br['descriptor'].get('type')!r} descriptor",
                             hint="the file is damaged; freeze it again")
    return {"type_map": list(br["type_map"]), "descriptor": dict(br["descriptor"]),
            "fitting_net": fitting}


def frozen_branch_model(frozen: FrozenModel, branch: str, *, allow_compressed: bool = False):
    """A torch EnergyModel of ``branch`` of ``frozen``, weights from the file.

    A compressed branch (``deepft compress``) is refused unless ``allow_compressed``: training
    or refitting from it would silently drop its table, so the user is sent to the
    uncompressed model."""
    import torch

    from deepft.model import build_model
    from deepft.model.structure import add_new_heads

    br = frozen.branch(branch)
    if "compression" in br and not allow_compressed:
        raise ModelFileError(f"{frozen.path}: branch {branch} is compressed (tabulated "
                             "embedding nets, `deepft compress`); it is for inference only",
                             hint="start from the uncompressed model.dft or its checkpoint")
    prefixes = br["fitting_prefixes"]
    if len(prefixes) > 2:
        raise ModelFileError(f"{frozen.path}: branch {branch} sums {len(prefixes)} fitting "
                             "nets; at most one extra head is supported here",
                             hint="work on the checkpoint instead")
    try:
        model = build_model(branch_section(frozen, branch))
    except (DeepftError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{frozen.path}: branch {branch} describes no model deepft can "
                             f"build ({err})", hint="the file is damaged; freeze it again"
                             ) from None
    if len(prefixes) == 2:
        add_new_heads(model, [DEFAULT_BRANCH], 0.0, None)
    rename = [(br["descriptor_prefix"], "descriptor.")]
    rename += [(p, "fitting." if i == 0 else "fitting.new_head.") for i, p in enumerate(prefixes)]
    state = {}
    for old, new in sorted(rename, key=lambda r: -len(r[0])):  # longest prefix first
        for key, value in frozen.tensors.items():
            if key.startswith(old) and not any(key.startswith(o) and len(o) > len(old)
                                               for o, _ in rename):
                state[new + key[len(old):]] = torch.from_numpy(np.array(value))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ModelFileError(f"{frozen.path}: the tensors of branch {branch} do not fit its "
                             f"header ({str(err).strip().splitlines()[0]})",
                             hint="the file is damaged; freeze it again") from None
    return model
