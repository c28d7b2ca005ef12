"""Batched: calls of one turn of the loop answered by one call of the store; its failure is every caller's."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import StoreUnavailable
from bot.store.batch import Batched


async def test_calls_of_one_turn_share_one_run_and_each_gets_its_own_answer() -> None:
    runs: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        runs.append(items)
        await asyncio.sleep(0.01)
        return [i * 2 for i in items]

    batched = Batched(double)
    assert await asyncio.gather(batched(1), batched(2), batched(3)) == [2, 4, 6]
    assert await batched(4) == 8
    assert runs == [[1, 2, 3], [4]]


async def test_a_batch_in_flight_does_not_hold_up_the_next() -> None:
    release = asyncio.Event()
    started: list[list[str]] = []

    async def slow_first(items: list[str]) -> list[str]:
        started.append(items)
        if items == ["first"]:
            await release.wait()
        return items

    batched = Batched(slow_first)
    first = asyncio.create_task(batched("first"))
    await asyncio.sleep(0.01)
    assert await asyncio.wait_for(batched("second"), 1) == "second"
    assert not first.done()
    release.set()
    assert await first == "first"


async def test_a_failed_run_fails_every_caller_of_its_batch_alone() -> None:
    async def down(items: list[int]) -> list[int]:
        if 0 in items:
            raise StoreUnavailable("database down")
        return items

    batched = Batched(down)
    results = await asyncio.wait_for(asyncio.gather(batched(0), batched(1), return_exceptions=True), 2)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert await batched(2) == 2


async def test_a_cancelled_caller_does_not_break_the_others() -> None:
    async def slow(items: list[int]) -> list[int]:
        await asyncio.sleep(0.02)
        return items

    batched = Batched(slow)
    gone = asyncio.create_task(batched(1))
    stays = asyncio.create_task(batched(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await stays == 2
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_an_exception_in_its_place_of_the_answers_fails_that_caller_alone() -> None:
    async def picky(items: list[int]) -> list[int | BaseException]:
        return [ValueError(f"no {i}") if i < 0 else i for i in items]

    batched = Batched(picky)
    results = await asyncio.gather(batched(1), batched(-1), batched(2), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2 and isinstance(results[1], ValueError)
