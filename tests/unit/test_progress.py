"""deepft.progress: silent for short loops; a bar on a terminal, periodic log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from deepft.progress import Progress, track


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def log_lines(caplog):
    caplog.set_level(logging.INFO, logger="deepft.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "deepft.progress"]


def test_short_loop_prints_nothing(log_lines):
    clock = FakeClock()
    for tty in (True, False):
        stream = Stream(tty)
        with Progress(10, "job", stream=stream, delay=3.0, clock=clock) as p:
            for _ in range(10):
                clock.now += 0.2  # 2 s in all < delay
                p.update()
        assert stream.getvalue() == ""
    assert log_lines() == []


def test_terminal_bar_redraws_in_place_and_ends_with_newline(log_lines):
    clock, stream = FakeClock(), Stream(tty=True)
    with Progress(4, "model-devi", unit="frames", stream=stream, delay=3.0, redraw=0.5,
                  clock=clock) as p:
        clock.now += 4.0
        p.update()  # past the delay: drawn
        clock.now += 0.1
        p.update()  # within redraw: not drawn
        clock.now += 1.0
        p.update()  # drawn
        clock.now += 0.1
        p.update()  # last unit within redraw: drawn by close()
    out = stream.getvalue()
    frames = out.split("\r")[1:]
    assert len(frames) == 3 and out.endswith("\n")
    assert frames[0] == ("[" + "#" * 8 + "." * 22 + "] model-devi: 1/4 frames (25%), 4.0 s "
                         "elapsed, about 12.0 s left\033[K")
    assert frames[1].startswith("[" + "#" * 22 + "." * 8 + "] model-devi: 3/4 frames (75%), "
                                "5.1 s elapsed, about 1.7 s left")
    assert frames[2] == "[" + "#" * 30 + "] model-devi: 4/4 frames (100%), 5.2 s elapsed\033[K\n"
    assert log_lines() == []


def test_log_lines_every_interval_and_at_the_end(log_lines):
    clock, stream = FakeClock(), Stream(tty=False)
    for _ in track(range(100), "neighbor-stat", unit="frames", stream=stream, delay=3.0,
                   interval=30.0, clock=clock):
        clock.now += 1.0  # 1 s per item
    assert stream.getvalue() == ""  # nothing on a non-terminal stream: the log gets it
    lines = log_lines()
    # first line when the delay has passed (3 items done at 3 s), then every 30 s, then the end
    assert lines[0] == "neighbor-stat: 3/100 frames (3%), 3.0 s elapsed, about 1 min 37 s left"
    assert [ln.split(":")[1].split()[0] for ln in lines] == ["3/100", "33/100", "63/100",
                                                             "93/100", "100/100"]
    assert lines[-1] == "neighbor-stat: 100/100 frames (100%), 1 min 40 s elapsed"


def test_weighted_items_and_unknown_total(log_lines):
    clock = FakeClock()
    sizes = [5, 10, 20]
    seen = []
    for n in track(sizes, "job", weight=lambda n: n, stream=Stream(False), delay=0.0,
                   interval=0.0, clock=clock):
        clock.now += 2.0
        seen.append(n)
    assert seen == sizes
    assert log_lines()[:3] == ["job: 5/35 (14%), 2.0 s elapsed, about 12.0 s left",
                               "job: 15/35 (43%), 4.0 s elapsed, about 5.3 s left",
                               "job: 35/35 (100%), 6.0 s elapsed"]
    p = Progress(None, "open-ended", stream=Stream(False), clock=clock)
    p.done = 7
    assert p.message(clock.now + 3725) == "open-ended: 7, 1 h 02 min elapsed"
