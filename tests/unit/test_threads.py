"""Thread counts (codesaga.engine.threads): static ones with a core to spare for a process
that cannot adapt, and the in-process engine's, fitted to what other processes leave free."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesaga.engine.cpu_load import CpuSample, others_busy_cores, sample
from codesaga.engine.threads import (
    FIT_INTERVAL,
    MAX_AUTO_THREADS,
    ThreadCounts,
    ThreadFitter,
    thread_counts,
    usable_cores,
)
from codesaga.settings import Settings


@pytest.mark.parametrize(
    ("cores", "expected"),
    [
        (1, ThreadCounts(1, 1)),
        (2, ThreadCounts(1, 1)),
        (4, ThreadCounts(2, 3)),
        (8, ThreadCounts(4, 7)),
        (64, ThreadCounts(MAX_AUTO_THREADS, MAX_AUTO_THREADS)),
    ],
)
def test_static_counts(cores: int, expected: ThreadCounts) -> None:
    assert thread_counts(cores=cores) == expected
    assert thread_counts(3, 5, cores=cores) == ThreadCounts(3, 5)


class Clock:
    """Readings as a test scripts them: each :meth:`advance` adds ``seconds`` of wall time in
    which other processes keep ``others`` cores busy and this one ``own`` cores."""

    def __init__(self) -> None:
        self.now = CpuSample(at=100.0, busy=1000.0, own=10.0)

    def __call__(self) -> CpuSample:
        return self.now

    def advance(
        self, seconds: float, others: float, own: float = 0.0, running: int | None = None
    ) -> None:
        """``running``: other processes' threads running at the end (None: not known)."""
        n = self.now
        busy = n.busy + (others + own) * seconds
        self.now = CpuSample(n.at + seconds, busy, n.own + own * seconds, running)


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        (0.0, ThreadCounts(2, 2)),  # a quiet machine: every core
        (0.2, ThreadCounts(2, 2)),  # an editor's and a terminal's share
        (0.8, ThreadCounts(1, 1)),
        (2.0, ThreadCounts(1, 1)),  # never fewer than one
    ],
)
def test_counts_follow_what_others_leave_free(others: float, expected: ThreadCounts) -> None:
    clock = Clock()
    fitter = ThreadFitter(cores=2, clock=clock)
    clock.advance(1.0, others, own=1.9)  # this process's own decoding is not "others"
    assert fitter.fit() == expected
    assert fitter.others_busy == pytest.approx(others)
    assert fitter.contended == (expected.generation < 2)


@pytest.mark.parametrize(
    ("others", "running", "expected"),
    [
        (1.9, 0, ThreadCounts(2, 2)),  # another process took its turn and is done
        (1.9, 1, ThreadCounts(1, 1)),  # it still runs
        (0.1, 2, ThreadCounts(2, 2)),  # two happen to run at the instant, but were idle
    ],
)
def test_what_runs_now_and_the_average_must_both_say_busy(
    others: float, running: int, expected: ThreadCounts
) -> None:
    clock = Clock()
    fitter = ThreadFitter(cores=2, clock=clock)
    clock.advance(1.0, others, running=running)
    assert fitter.fit() == expected


@pytest.mark.parametrize(("later", "expected"), [(0, ThreadCounts(2, 2)), (1, ThreadCounts(1, 1))])
def test_a_thread_running_only_at_the_instant_is_not_busy(
    later: int, expected: ThreadCounts
) -> None:
    """The client that sent the request runs as it arrives: counted busy only if it still
    runs a moment later."""
    clock = Clock()
    fitter = ThreadFitter(cores=2, clock=clock)
    clock.advance(1.0, others=1.5, running=1)
    readings = iter([clock.now, replace(clock.now, others_running=later)])
    fitter._clock = lambda: next(readings)
    assert fitter.fit() == expected


def test_a_quick_second_decode_keeps_the_counts_until_the_stretch_is_long_enough() -> None:
    clock = Clock()
    fitter = ThreadFitter(cores=4, clock=clock)
    clock.advance(1.0, others=3.0)
    assert fitter.fit() == ThreadCounts(1, 1)
    clock.advance(FIT_INTERVAL / 2, others=0.0)
    assert fitter.fit() == ThreadCounts(1, 1)  # too short a stretch to judge
    clock.advance(FIT_INTERVAL, others=0.0)
    assert fitter.fit() == ThreadCounts(4, 4)  # quiet over both stretches together


def test_set_counts_stay_and_a_set_one_does_not_stop_the_other_adapting() -> None:
    clock = Clock()
    fixed = ThreadFitter(3, 2, cores=4, clock=clock)
    half = ThreadFitter(0, 3, cores=4, clock=clock)
    clock.advance(1.0, others=4.0)
    assert fixed.fit() == ThreadCounts(3, 2)
    assert half.fit() == ThreadCounts(1, 3)
    assert fixed.contended and half.contended  # set counts or not, the machine is measured
    assert "up to" not in fixed.describe() and "up to 4 for generation" in half.describe()


def test_on_one_core_another_busy_process_counts_as_contention() -> None:
    clock = Clock()
    fitter = ThreadFitter(cores=1, clock=clock)
    clock.advance(1.0, others=0.8)
    assert fitter.fit() == ThreadCounts(1, 1) and fitter.contended


def test_without_readings_the_machine_counts_as_quiet() -> None:
    fitter = ThreadFitter(cores=2, clock=lambda: None)
    assert fitter.fit() == ThreadCounts(2, 2) and fitter.others_busy is None
    assert not fitter.contended


@given(
    cores=st.integers(1, 64),
    others=st.floats(0.0, 64.0),
    threads=st.integers(0, 16),
    batch=st.integers(0, 16),
)
def test_fitted_counts_stay_within_their_bounds(
    cores: int, others: float, threads: int, batch: int
) -> None:
    clock = Clock()
    fitter = ThreadFitter(threads, batch, cores=cores, clock=clock)
    clock.advance(1.0, others)
    counts = fitter.fit()
    most = min(cores, MAX_AUTO_THREADS)
    assert counts.generation == threads if threads else 1 <= counts.generation <= most
    assert counts.batch == batch if batch else 1 <= counts.batch <= most
    if not threads and others <= 0.0:
        assert counts.generation == most


def test_readings_of_this_machine() -> None:
    first, second = sample(), sample()
    if first is None:  # not Linux
        pytest.skip("no /proc/stat")
    busy = others_busy_cores(first, second)
    assert busy is None or busy >= 0.0
    assert others_busy_cores(first, first) is None  # no time passed


def test_settings_and_the_machine() -> None:
    assert (Settings().threads, Settings().batch_threads) == (0, 0)
    assert Settings(batchThreads=3).batch_threads == 3
    with pytest.raises(ValueError):
        Settings(batchThreads=-1)
    assert f"({usable_cores()} cores)" in ThreadFitter().describe()
