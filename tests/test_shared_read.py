"""A read shared by the callers at once (``storage/shared_read.py``): never older than a call,
one read for a burst, and a failure or a caller that gives up spoils no other caller."""

from __future__ import annotations

import asyncio

import pytest

from tokens_server.storage.shared_read import SharedRead


class _Counter:
    """A value that writers bump; each read returns it as of when the read began, and waits
    until let go."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.let_go = asyncio.Event()
        self.fail_with: Exception | None = None

    async def read(self) -> int:
        self.reads += 1
        seen = self.value
        await self.let_go.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return seen


async def _started(task_count: int = 1) -> None:
    for _ in range(5 * task_count):
        await asyncio.sleep(0)


async def test_callers_at_once_share_a_read_and_none_gets_a_value_older_than_its_call() -> None:
    counter = _Counter()
    shared = SharedRead(counter.read)
    first = [asyncio.create_task(shared()) for _ in range(10)]
    await _started()
    assert counter.reads == 1
    counter.value = 1  # acknowledged while that read is under way
    later = [asyncio.create_task(shared()) for _ in range(10)]
    await _started()
    counter.let_go.set()
    assert await asyncio.gather(*first) == [0] * 10
    assert await asyncio.gather(*later) == [1] * 10  # not the read under way at their call
    assert counter.reads == 2


async def test_a_failed_read_fails_its_callers_only() -> None:
    counter = _Counter()
    shared = SharedRead(counter.read)
    counter.fail_with = ConnectionError("gone")
    failing = [asyncio.create_task(shared()) for _ in range(3)]
    await _started()
    counter.let_go.set()
    for task in failing:
        with pytest.raises(ConnectionError):
            await task
    counter.fail_with = None
    counter.value = 7
    assert await shared() == 7


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others() -> None:
    counter = _Counter()
    shared = SharedRead(counter.read)
    quitter = asyncio.create_task(shared())
    stayer = asyncio.create_task(shared())
    await _started()
    quitter.cancel()
    counter.value = 3
    await _started()
    counter.let_go.set()
    assert await stayer == 0
    assert quitter.cancelled()
    assert counter.reads == 1
