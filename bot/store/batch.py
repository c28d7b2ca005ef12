"""Calls made in one turn of the event loop, answered together by one call of the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batched(Generic[T, R]):
    """`await batched(item)` answers `run(items)[i]`, where `items` are those asked for in the same turn; an
    exception in that place of the list is raised to that caller alone.

    For the webhook's insert on a shared database: a round trip and a commit (a WAL flush) per delivery
    made the acknowledgement wait for the disk; deliveries arriving together now share both. A batch still
    in flight does not hold up the next: each is its own task, on its own pooled connection."""

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]) -> None:
        self.run = run
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if not self.waiting:
            loop.call_soon(self._start)
        answer: asyncio.Future[R] = loop.create_future()
        self.waiting.append((item, answer))
        return await answer

    def _start(self) -> None:
        batch, self.waiting = self.waiting, []
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self.tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.run([item for item, _ in batch])
        except BaseException as exc:  # every caller gets the store's error, as it would on its own
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():
                continue
            if isinstance(result, BaseException):
                answer.set_exception(result)
            else:
                answer.set_result(result)
