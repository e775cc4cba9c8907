"""Schema of ``training``: data, steps, checkpoints, logging (DeePMD-kit 3 keys).

Single task: ``training_data``, ``validation_data``, ``stat_file``. Multitask: the same three per
branch in ``data_dict``, and ``model_prob`` (branch -> sampling weight; a branch left out is
weighted by its number of training frames).
"""

from __future__ import annotations

from typing import Any

from dargs import Argument

from deepft.config._args import inert, non_negative, one_of, positive
from deepft.config.finetune import finetune_arg

TRAINING_PRECISIONS = ("float64", "float32", "tf32")

DOC_SYSTEMS = (
    "The data systems: a path or a list of paths. Each path is a system folder (holding "
    "type.raw and set.*/) or a parent folder searched recursively for systems. Relative paths "
    "are taken from the current directory."
)
DOC_BATCH = (
    "Frames per batch: an int for every system; a list with one int per system; "
    "``\"auto\"``: the smallest batch with batch_size x natoms >= 32; ``\"auto:N\"``: the "
    "smallest with batch_size x natoms >= N; ``\"max:N\"``: the largest with "
    "batch_size x natoms <= N (at least 1)."
)
DOC_AUTO_PROB = (
    "How systems are sampled when ``sys_probs`` is not given: ``prob_uniform`` (all equal), "
    "``prob_sys_size`` (proportional to the number of batches of the system), or "
    "``prob_sys_size;stt_idx:end_idx:weight;...`` (blocks of systems [stt_idx, end_idx) get "
    "total probability weight, split by size within the block)."
)


def batch_size_ok(value: Any) -> bool:
    if isinstance(value, int):
        return value > 0
    if isinstance(value, list):
        return bool(value) and all(v > 0 for v in value)
    head, sep, tail = value.partition(":")
    if head == "auto" and not sep:
        return True
    return head in ("auto", "max") and tail.isdigit() and int(tail) > 0


def auto_prob_ok(value: str) -> bool:
    if value in ("prob_uniform", "prob_sys_size"):
        return True
    head, *blocks = value.split(";")
    if head != "prob_sys_size" or not blocks:
        return False
    for block in blocks:
        parts = block.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return False
        try:
            if float(parts[2]) < 0:
                return False
        except ValueError:
            return False
    return True


def data_fields(validation: bool) -> list[Argument]:
    args = [
        Argument("systems", [list[str], str], doc=DOC_SYSTEMS),
        Argument("batch_size", [list[int], int, str], optional=True, default="auto",
                 doc=DOC_BATCH, extra_check=batch_size_ok,
                 extra_check_errmsg="must be a positive integer, a list of them, \"auto\", "
                                    "\"auto:N\" or \"max:N\" with a positive integer N"),
        Argument("auto_prob", str, optional=True, default="prob_sys_size",
                 alias=["auto_prob_style"], doc=DOC_AUTO_PROB, extra_check=auto_prob_ok,
                 extra_check_errmsg="must be prob_uniform, prob_sys_size or "
                                    "prob_sys_size;stt_idx:end_idx:weight;..."),
        Argument("sys_probs", [list[float], None], optional=True, default=None,
                 alias=["sys_weights"],
                 doc="Probability of each system (one per system found under systems); "
                     "overrides auto_prob. Negative entries share what the others leave, in "
                     "proportion to their number of batches."),
        inert("rglob_patterns", [list[str], None], None, "custom system search patterns"),
    ]
    if validation:
        args.append(Argument("numb_btch", int, optional=True, default=1, alias=["numb_batch"],
                             extra_check=positive, extra_check_errmsg="must be > 0",
                             doc="Number of validation batches per display step."))
    else:
        args.append(inert("min_pair_dist", float, 0.0, "close-pair frame filter"))
    return args


def data_args() -> list[Argument]:
    """``training_data``, ``validation_data``, ``stat_file``: one branch's data."""
    return [
        Argument("training_data", dict, data_fields(False), doc="The training data."),
        Argument("validation_data", [dict, None], data_fields(True), optional=True,
                 default=None,
                 doc="The validation data (like training_data, plus numb_btch); null: none."),
        Argument("stat_file", [str, None], optional=True, default=None,
                 doc="HDF5 file (.h5/.hdf5) caching the data statistics (environment-matrix "
                     "mean/std, energy bias): written on the first run, read on the next."),
    ]


def model_prob_ok(value: dict) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
               for v in value.values())


def multitask_data_args() -> list[Argument]:
    return [
        Argument("data_dict", dict, data_args(), repeat=True,
                 doc="Per branch (same names as model/model_dict): training_data, "
                     "validation_data, stat_file."),
        Argument("model_prob", dict[str, float], optional=True, default={},
                 extra_check=model_prob_ok, extra_check_errmsg="values must be numbers >= 0",
                 doc="Branch -> weight of picking that branch at a training step (normalized "
                     "to sum 1). A branch left out is weighted by its number of training "
                     "frames."),
    ]


def common_args() -> list[Argument]:
    return [
        Argument("numb_steps", int, alias=["stop_batch", "num_step", "num_steps", "numb_step"],
                 extra_check=non_negative, extra_check_errmsg="must be >= 0",
                 doc="Number of training steps; each step uses one batch."),
        Argument("seed", [int, None], optional=True, default=None,
                 doc="Random seed for batch sampling (and branch choice); null draws one."),
        Argument("disp_file", str, optional=True, default="lcurve.out",
                 doc="File of the learning curve."),
        Argument("disp_freq", int, optional=True, default=1000, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Write the learning curve every this many steps."),
        Argument("save_freq", int, optional=True, default=1000, extra_check=positive,
                 extra_check_errmsg="must be > 0", doc="Save a checkpoint every this many steps."),
        Argument("save_ckpt", str, optional=True, default="model.ckpt",
                 doc="Path prefix of the checkpoint files."),
        Argument("max_ckpt_keep", int, optional=True, default=5, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Most checkpoints kept; older ones are deleted."),
        Argument("disp_training", bool, optional=True, default=True,
                 doc="Log progress during training."),
        Argument("time_training", bool, optional=True, default=True,
                 doc="Log timings during training."),
        Argument("warmup_steps", int, optional=True, default=0, extra_check=non_negative,
                 extra_check_errmsg="must be >= 0",
                 doc="Steps of linear learning-rate warmup from 0 to start_lr."),
        Argument("gradient_max_norm", float, optional=True, default=0.0,
                 extra_check=non_negative, extra_check_errmsg="must be >= 0",
                 doc="Clip the gradient norm to this value; 0 means no clipping."),
        Argument("opt_type", str, optional=True, default="Adam", extra_check=one_of("Adam"),
                 extra_check_errmsg="must be Adam", doc="Optimizer. deepft implements Adam."),
        Argument("tensorboard", bool, optional=True, default=False,
                 doc="Write TensorBoard events."),
        Argument("tensorboard_log_dir", str, optional=True, default="log",
                 doc="Folder of the TensorBoard events."),
        Argument("tensorboard_freq", int, optional=True, default=1, extra_check=positive,
                 extra_check_errmsg="must be > 0",
                 doc="Write TensorBoard events every this many steps."),
        Argument("restart", [str, None], optional=True, default=None,
                 extra_check=lambda v: v is None or v == "auto",
                 extra_check_errmsg="must be \"auto\" or null",
                 doc="(deepft) ``\"auto\"``: continue from the newest complete checkpoint of "
                     "save_ckpt if there is one (as ``--restart auto``); null: start fresh."),
        Argument("nan_policy", str, optional=True, default="stop",
                 extra_check=one_of("stop", "skip"), extra_check_errmsg="must be stop or skip",
                 doc="(deepft) On a non-finite loss: ``stop`` with an error naming step, branch "
                     "and system, or ``skip`` the batch (no update) and go on."),
        Argument("precision", [str, None], optional=True, default=None,
                 extra_check=lambda v: v is None or v in TRAINING_PRECISIONS,
                 extra_check_errmsg="must be null, " + ", ".join(TRAINING_PRECISIONS),
                 doc="(deepft) Precision of the whole model for this run, overriding the "
                     "``precision`` of every descriptor and fitting net: ``float64``, "
                     "``float32``, or ``tf32`` (float32 weights, and on CUDA the matrix "
                     "products run on TensorFloat-32 tensor cores: about 10 mantissa bits, "
                     "much faster on A100/H100; on a CPU it is plain float32 and a warning "
                     "says so). null: each component's own ``precision``. The per-element "
                     "energy bias stays float64. float16/bfloat16 autocast is not offered: "
                     "forces are energy gradients, and 8-11 mantissa bits lose them. A "
                     "checkpoint continued with --restart, --init-model or --finetune must "
                     "already have this precision."),
        finetune_arg(),
        inert("change_bias_after_training", bool, False, "bias refit after training"),
        inert("disp_avg", bool, False, "averaged display"),
        inert("profiling", bool, False, "profiling"),
        inert("profiling_file", str, "timeline.json", "profiling"),
        inert("enable_profiler", bool, False, "profiling"),
        inert("enable_ema", bool, False, "EMA of weights"),
        inert("ema_decay", float, 0.999, "EMA of weights"),
        inert("ema_ckpt_keep", int, 3, "EMA of weights"),
        inert("enable_compile", bool, False, "torch.compile"),
        inert("acc_freq", int, 1, "gradient accumulation"),
        inert("zero_stage", int, 0, "ZeRO sharding"),
        inert("mixed_precision", [dict, None], None, "mixed precision"),
    ]


def training_arg(multi_task: bool) -> Argument:
    fields = multitask_data_args() if multi_task else data_args()
    return Argument("training", dict, fields + common_args(), doc="The training options.")
