"""The automatic thread counts (codesaga.engine.threads): fewer threads than cores for
generation, a batch count apart, the settings taking precedence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesaga.engine.threads import MAX_AUTO_THREADS, ThreadCounts, thread_counts, usable_cores
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
def test_automatic_counts(cores: int, expected: ThreadCounts) -> None:
    assert thread_counts(cores=cores) == expected


@given(cores=st.integers(1, 256), threads=st.integers(0, 64), batch=st.integers(0, 64))
def test_counts_leave_a_core_free_unless_set(cores: int, threads: int, batch: int) -> None:
    counts = thread_counts(threads, batch, cores=cores)
    assert counts.generation == (threads or counts.generation) >= 1
    assert counts.batch == (batch or counts.batch) >= 1
    if not threads and cores > 1:
        assert counts.generation < cores
    if not batch:
        assert counts.batch >= counts.generation
        assert counts.batch < cores or counts.batch == counts.generation


def test_settings_and_the_machine() -> None:
    assert (Settings().threads, Settings().batch_threads) == (0, 0)
    assert Settings(batchThreads=3).batch_threads == 3
    with pytest.raises(ValueError):
        Settings(batchThreads=-1)
    counts = thread_counts()
    assert 1 <= counts.generation <= usable_cores() and counts.batch >= 1
    assert f"({usable_cores()} cores)" in counts.describe()
