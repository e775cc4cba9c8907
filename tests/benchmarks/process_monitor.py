"""Process-tree monitoring of the training benchmark (bench_training.py): run a command,
time-stamp its log lines, and poll /proc for the CPU time and peak RSS/PSS of the process and
its children (e.g. DeePMD-kit's data-loader workers)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024



def _proc_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (ppid, user+system CPU seconds, RSS kB) for every readable process."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                rest = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / tick,
                            int(rest[21]) * PAGE_KB)
    return table


def tree_pids(root: int, table: dict) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class RunRecord:
    """What one monitored command did: time-stamped step lines, memory and load samples."""
    name: str
    returncode: int = 0
    wall_s: float = 0.0
    steps: dict[int, tuple[float, float]] = field(default_factory=dict)  # step -> (t, cpu s)
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    main_hwm_kb: int = 0
    loads: list[tuple[float, float]] = field(default_factory=list)  # (t, 1-min load)
    self_average: float | None = None
    log: str = ""

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The logged steps closest to (first, last): a short run may not log step ``last``."""
        if not self.steps:
            return first, first
        lo = first if first in self.steps else min(self.steps)
        hi = last if last in self.steps else max(self.steps)
        return lo, hi

    def window(self, first: int, last: int) -> tuple[float, float] | None:
        """(wall s/step, CPU s/step) between the lines of steps ``first`` and ``last``."""
        first, last = self.span(first, last)
        if last <= first:
            return None
        (t0, c0), (t1, c1) = self.steps[first], self.steps[last]
        return (t1 - t0) / (last - first), (c1 - c0) / (last - first)

    def intervals(self, first: int, last: int) -> list[tuple[int, float, float]]:
        """(end step, wall s/step, max 1-min load) of each logged interval in the window."""
        first, last = self.span(first, last)
        marks = sorted(k for k in self.steps if first <= k <= last)
        out = []
        for a, b in zip(marks, marks[1:], strict=False):
            (t0, _), (t1, _) = self.steps[a], self.steps[b]
            loads = [v for t, v in self.loads if t0 <= t <= t1] or [0.0]
            out.append((b, (t1 - t0) / (b - a), max(loads)))
        return out

    def load_in(self, first: int, last: int) -> tuple[float, float]:
        """(mean, max) 1-minute load average sampled between two step lines (whole run else)."""
        first, last = self.span(first, last)
        lo = self.steps.get(first, (0.0, 0))[0]
        hi = self.steps.get(last, (float("inf"), 0))[0] if last > first else float("inf")
        vals = [v for t, v in self.loads if lo <= t <= hi] or [v for _, v in self.loads] or [0]
        return sum(vals) / len(vals), max(vals)


def run_monitored(name: str, cmd: list[str], cwd: Path, env: dict, step_re: re.Pattern | None,
                  avg_re: re.Pattern | None, log_path: Path) -> RunRecord:
    """Run ``cmd``; stamp its output lines, poll its process tree's memory and the load."""
    rec = RunRecord(name)
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    done = threading.Event()
    cpu_now = [0.0]

    def poll() -> None:
        n = 0
        while not done.is_set():
            table = _proc_table()
            pids = tree_pids(proc.pid, table)
            cpu_now[0] = sum(table[p][1] for p in pids)
            rec.peak_rss_kb = max(rec.peak_rss_kb, sum(table[p][2] for p in pids))
            if n % 5 == 0:  # smaps_rollup is slower to read: once a second
                pss = sum(_status_kb(p, "smaps_rollup", "Pss:") for p in pids)
                rec.peak_pss_kb = max(rec.peak_pss_kb, pss)
                rec.loads.append((time.perf_counter(), os.getloadavg()[0]))
            rec.main_hwm_kb = max(rec.main_hwm_kb, _status_kb(proc.pid, "status", "VmHWM:"))
            n += 1
            done.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    lines = []
    with open(log_path, "w", buffering=1) as log:
        for line in proc.stdout:
            now = time.perf_counter()
            log.write(line)
            lines.append(line)
            m = step_re.search(line) if step_re else None
            if m and int(m.group(1)) not in rec.steps:
                table = _proc_table()
                cpu = sum(table[p][1] for p in tree_pids(proc.pid, table)) or cpu_now[0]
                rec.steps[int(m.group(1))] = (now, cpu)
            a = avg_re.search(line) if avg_re else None
            if a:
                rec.self_average = float(a.group(1))
    rec.returncode = proc.wait()
    done.set()
    poller.join()
    rec.wall_s = time.perf_counter() - t_start
    rec.log = "".join(lines)
    return rec


def checked(rec: RunRecord, what: str) -> RunRecord:
    if rec.returncode != 0:
        tail = "\n".join(rec.log.splitlines()[-30:])
        raise SystemExit(f"{rec.name}: {what} failed with exit code {rec.returncode}:\n{tail}")
    return rec
