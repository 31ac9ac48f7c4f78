"""Open-loop HTTP load: requests start at a constant arrival rate, whatever the server does.

A closed-loop generator (``wrk -c N``) waits for each answer before sending the next, so a slow
server slows the load down and p99 measures the generator's own queue. Here request ``i`` is
due at ``t0 + i / rate``; it is sent then (on an idle keep-alive connection, or a new one) and
its latency counts from that due time, so time spent waiting for a free connection or behind a
slow server is in the number (no coordinated omission). One asyncio loop, raw sockets and a
minimal HTTP/1.1 parser: a few µs of client CPU per request, so one core drives thousands of
requests per second.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OpenLoopResult:
    rate: float  # requested arrivals per second
    duration: float
    sent: int
    latencies_ms: list[float] = field(default_factory=list)  # successful (2xx) requests
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # timeouts, resets, ...
    wall_s: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        non_2xx = sum(n for s, n in self.statuses.items() if not 200 <= s < 300)
        return {
            "rate": self.rate,
            "achieved_rps": len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0,
            "sent": self.sent,
            "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)),
            "p999_ms": float(np.percentile(lat, 99.9)),
            "max_ms": float(lat.max()),
            "errors": non_2xx + sum(self.errors.values()),
            "error_kinds": ", ".join(
                [f"HTTP {s}: {n}" for s, n in sorted(self.statuses.items()) if not 200 <= s < 300]
                + [f"{kind}: {n}" for kind, n in sorted(self.errors.items())]
            ),
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) after consuming one response (content-length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") != "close"


async def run_open_loop(
    host: str,
    port: int,
    path: str,
    body: bytes,
    content_type: str,
    rate: float,
    duration: float,
    *,
    timeout: float = 5.0,
    max_connections: int = 1024,
) -> OpenLoopResult:
    """Send ``rate`` requests per second for ``duration`` seconds; wait for the stragglers
    (each bounded by ``timeout``)."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0
    result = OpenLoopResult(rate=rate, duration=duration, sent=0)

    async def one(due: float) -> None:
        nonlocal opened
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                if opened >= max_connections:
                    result.errors["connection cap"] += 1
                    return
                opened += 1
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            reader, writer = conn
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
            if conn is not None:
                conn[1].close()
                opened -= 1
            return
        latency = (loop.time() - due) * 1000.0
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.latencies_ms.append(latency)
        if keep:
            idle.append(conn)
        else:
            conn[1].close()
            opened -= 1

    tasks: set[asyncio.Task] = set()
    start = loop.time() + 0.05
    interval = 1.0 / rate
    i = 0
    wall = time.perf_counter()
    while True:
        due = start + i * interval
        if due - start >= duration:
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    result.sent = i
    if tasks:
        await asyncio.wait(list(tasks), timeout=timeout + 5)
    result.wall_s = time.perf_counter() - wall
    for _, writer in idle:
        writer.close()
    return result


def open_loop(
    url: str,
    path: str,
    body: bytes,
    content_type: str,
    rate: float,
    duration: float,
    cpu: str | None = None,
) -> dict[str, float]:
    """:func:`run_open_loop` against ``http://host:port``, on CPU ``cpu`` when given."""
    import os
    from urllib.parse import urlparse

    parsed = urlparse(url)
    saved = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {int(cpu)})
    try:
        result = asyncio.run(
            run_open_loop(
                parsed.hostname or "127.0.0.1",
                parsed.port or 80,
                path,
                body,
                content_type,
                rate,
                duration,
            )
        )
    finally:
        os.sched_setaffinity(0, saved)
    return result.summary()
