"""``lcurve.out`` in DeePMD-kit's layout.

Header ``#  step  rmse_val  rmse_trn  rmse_e_val  rmse_e_trn  rmse_f_val  rmse_f_trn ... lr``;
multitask runs name the columns as DeePMD-kit does, ``rmse_e_val_BRANCH rmse_e_trn_BRANCH``.
Lines are flushed as written so a killed run keeps its curve; on restart the file is appended to.
"""

from __future__ import annotations

from pathlib import Path

METRIC_ORDER = ("rmse", "rmse_e", "rmse_f", "rmse_v", "rmse_ae")


class LcurveWriter:
    """Writes one line per display step: validation and training metrics side by side."""

    def __init__(self, path: str | Path, columns: list[str], append: bool = False,
                 branches: list[str] | None = None):
        """``columns``: metric names (with branch suffix) in display order; ``branches``: the
        branch names of a multitask run (their suffix moves after ``_val``/``_trn``)."""
        self.columns = columns
        exists = Path(path).exists()
        self.fh = open(path, "a" if append else "w", buffering=1)
        if not (append and exists):
            head = f"# {'step':>5}"
            for col in columns:
                valid_name, train_name = header_names(col, branches)
                head += f"   {valid_name:>11} {train_name:>11}"
            head += f"   {'lr':>8}\n"
            self.fh.write(head)

    def write(self, step: int, valid: dict[str, float], train: dict[str, float], lr: float
              ) -> None:
        line = f"{step:7d}"
        for col in self.columns:
            line += f"   {valid.get(col, float('nan')):11.2e} {train.get(col, float('nan')):11.2e}"
        line += f"   {lr:8.1e}\n"
        self.fh.write(line)
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def metric_columns(branch_metrics: dict[str, list[str]], multitask: bool) -> list[str]:
    """Column names: metric names ordered as DeePMD-kit, suffixed by branch when multitask."""
    cols = []
    for branch, names in branch_metrics.items():
        ordered = [m for m in METRIC_ORDER if m in names]
        cols += [f"{m}_{branch}" if multitask else m for m in ordered]
    return cols


def header_names(col: str, branches: list[str] | None) -> tuple[str, str]:
    """(validation, training) header of a column: ``rmse_e_val``/``rmse_e_trn``, or for the
    column ``rmse_e_water`` of branch water ``rmse_e_val_water``/``rmse_e_trn_water``."""
    for b in sorted(branches or [], key=len, reverse=True):
        if col.endswith(f"_{b}"):
            metric = col[: -len(b) - 1]
            return f"{metric}_val_{b}", f"{metric}_trn_{b}"
    return f"{col}_val", f"{col}_trn"
