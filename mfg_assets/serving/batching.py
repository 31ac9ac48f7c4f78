"""Adaptive micro-batching for a model behind an asyncio server.

Callers ``await batcher.submit(rows)`` with a rows × features array (or any batchable list);
the batcher concatenates what is queued into one model call and hands each caller its slice.

Why not BentoML's ``batchable=True`` dispatcher: it batches *after* input parsing, inside one
model call per batch, so a request that fails on its own (an unknown machine id, a bad image)
would either fail its batch-mates or need a separate, unbatched path; and its CORK dispatcher
cancels queued requests with a 503 once its latency estimate exceeds ``max_latency_ms``, which
showed up as non-2xx answers under load. Here each request is validated and its features are
resolved on its own (its errors are its own 4xx), and only the model call is shared.

The policy is greedy and adaptive: when the model is idle, a batch is sent as soon as the event
loop has no more arrivals ready (one loop turn — no timer wait when traffic is light), or
``max_latency_ms`` after its first request, or at ``max_batch_size`` rows, whichever is first.
While a batch runs, arrivals queue up and form the next one, so batches grow with load. Nothing
is ever dropped: requests wait their turn (bounded by the server's concurrency limit).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class BatchStats:
    """Counts for metrics and tests."""

    batches: int = 0
    rows: int = 0
    largest: int = 0
    sizes: list[int] = field(default_factory=list)  # last 1,000 batch sizes

    def record(self, n: int) -> None:
        self.batches += 1
        self.rows += n
        self.largest = max(self.largest, n)
        self.sizes.append(n)
        if len(self.sizes) > 1000:
            del self.sizes[:500]


@dataclass
class _Job:
    data: Any
    n: int
    future: asyncio.Future
    enqueued: float


def _concat(parts: Sequence[Any]) -> Any:
    if isinstance(parts[0], np.ndarray):
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    out: list[Any] = []
    for part in parts:
        out.extend(part)
    return out


class AdaptiveBatcher:
    """Greedy adaptive batcher around ``fn(batch) -> per-row results`` (same length as batch).

    ``fn`` receives a concatenated numpy array (or list) and must return something sliceable
    with one entry per input row. ``threaded=True`` runs ``fn`` in a single worker thread (for
    models whose call is long enough to block the event loop noticeably); otherwise it runs on
    the loop (cheapest for sub-millisecond models).
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        max_batch_size: int = 64,
        max_latency_ms: float = 5.0,
        threaded: bool = False,
        enabled: bool = True,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be >= 0, got {max_latency_ms}")
        self.fn = fn
        self.max_batch_size = int(max_batch_size)
        self.max_latency = max_latency_ms / 1000.0
        self.enabled = enabled
        self.on_batch = on_batch  # e.g. a metrics histogram's observe
        self.stats = BatchStats()
        self._queue: deque[_Job] = deque()
        self._queued_rows = 0
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="batcher") if threaded else None

    async def submit(self, data: Any) -> Any:
        """Results for ``data`` (rows × …), computed in a shared batch."""
        n = len(data)
        if n == 0:
            return data[:0] if isinstance(data, np.ndarray) else []
        if not self.enabled:
            self._record(n)
            return await self._call(data)
        loop = asyncio.get_running_loop()
        job = _Job(data, n, loop.create_future(), time.perf_counter())
        self._queue.append(job)
        self._queued_rows += n
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        return await job.future

    def _record(self, n: int) -> None:
        self.stats.record(n)
        if self.on_batch is not None:
            self.on_batch(n)

    async def _call(self, batch: Any) -> Any:
        if self._executor is None:
            return self.fn(batch)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.fn, batch)

    async def _gather(self) -> None:
        """Let arrivals that are already on the loop join, within the latency budget."""
        first = self._queue[0].enqueued
        while self._queued_rows < self.max_batch_size:
            before = len(self._queue)
            await asyncio.sleep(0)
            if len(self._queue) == before or time.perf_counter() - first >= self.max_latency:
                return

    def _take(self) -> list[_Job]:
        jobs: list[_Job] = []
        rows = 0
        while self._queue and (not jobs or rows + self._queue[0].n <= self.max_batch_size):
            job = self._queue.popleft()
            jobs.append(job)
            rows += job.n
        self._queued_rows -= rows
        return jobs

    async def _run(self) -> None:
        while self._queue:
            await self._gather()
            jobs = self._take()
            jobs = [j for j in jobs if not j.future.cancelled()]  # client went away
            if not jobs:
                continue
            batch = _concat([j.data for j in jobs])
            self._record(len(batch))
            try:
                results = await self._call(batch)
            except Exception as exc:  # a model failure fails exactly this batch's requests
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            offset = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(results[offset : offset + job.n])
                offset += job.n

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
