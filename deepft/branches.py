"""Branch names with a meaning everywhere in deepft.

A single-task model is the multitask case with one branch named :data:`DEFAULT_BRANCH`; its
checkpoints, frozen models and data sections use that name. :data:`RANDOM_BRANCH` is the reserved
name that asks fine-tuning for a freshly initialized fitting net (DeePMD-kit's ``RANDOM``); no
model may have a branch called so.
"""

DEFAULT_BRANCH = "Default"
RANDOM_BRANCH = "RANDOM"
