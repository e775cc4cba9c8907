"""User-facing error types.

Every error deepft raises for bad user input is one of these. The message says what is wrong
and where (file, JSON key path, system, atom); ``hint`` says how to fix it. The CLI prints
``error: <message> (hint: <hint>)`` on one line and exits with code 1, without a traceback
unless ``-v debug`` is given.
"""

from __future__ import annotations


class DeepftError(Exception):
    """Base class of the errors deepft reports to users."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # under torchrun: the same error, already printed by rank 0 (see
        # deepft.train.distributed.run_on_main); the other ranks exit without repeating it
        self.reported_by_rank0 = False

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class InputError(DeepftError):
    """The input JSON (or a command-line argument) is invalid."""


class DataError(DeepftError):
    """A data system (deepmd/npy folder or HDF5 group) is missing or malformed."""


class ModelFileError(DeepftError):
    """A checkpoint or frozen model file is missing, truncated or of the wrong kind/version."""


class ModelFileWarning(UserWarning):
    """A model file loads but is weaker than it should be (a version-1 model.dft carries no
    checksum, so corruption cannot be detected)."""


class TrainingError(DeepftError):
    """Training cannot continue (e.g. a NaN loss); the message names step, branch and system."""


class NotImplementedYetError(DeepftError):
    """A command whose engine is not built yet."""

    exit_code = 2
