"""The training console's rate and ETA: all the time counts, and they do not jump."""

from __future__ import annotations

from deepft.train.trainer import ProgressClock, format_metrics, format_seconds


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_counts_all_time_and_is_smoothed():
    """100 steps per interval; every other interval also holds a 3 s validation/checkpoint.
    The raw per-interval rate jumps fourfold; the shown one moves less than 1.5x per line and
    settles near the true average (100 steps / 2.5 s = 40 steps/s)."""
    clock = FakeClock()
    progress = ProgressClock(0, clock=clock)
    rates = []
    for line in range(1, 21):
        clock.now += 1.0 + (3.0 if line % 2 == 0 else 0.0)
        rates.append(progress.rate(100 * line))
    steps = [max(a, b) / min(a, b) for a, b in zip(rates[2:], rates[3:], strict=False)]
    assert max(steps) < 1.5, rates
    assert 30 < rates[-1] < 55, rates
    assert progress.elapsed() == 50.0


def test_a_slow_first_step_does_not_dominate_the_rate():
    """Step 1 holds the start-up (3 s); then 500 steps take 50 s each line: the rate shown at
    the second line is already close to 10 steps/s."""
    clock = FakeClock()
    progress = ProgressClock(0, clock=clock)
    clock.now += 3.0
    progress.rate(1)
    clock.now += 50.0
    assert 9.0 < progress.rate(501) < 10.1


def test_rate_without_progress_keeps_the_last_value():
    clock = FakeClock()
    progress = ProgressClock(10, clock=clock)
    clock.now += 2.0
    assert progress.rate(30) == 10.0
    assert progress.rate(30) == 10.0


def test_formatting():
    assert format_seconds(3725.2) == "1:02:05"
    assert format_seconds(float("inf")) == "?"
    text = format_metrics({"rmse": 1.5, "rmse_e": 1e-3, "rmse_f_water": 0.0456})
    assert text == "rmse 1.500e+00, rmse_e 1.000e-03 eV/atom, rmse_f_water 4.560e-02 eV/Å"
