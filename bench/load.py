"""A bounded, concurrent HTTP load generator (asyncio + httpx), loopback only."""

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

# One "operation" may be several requests (an Okta push is a lookup then a POST);
# it returns the status codes it saw.
Operation = Callable[[httpx.AsyncClient, int], Awaitable[list[int]]]


@dataclass
class Sample:
    """Latencies (seconds) of the operations of one run, and what they answered."""

    name: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    def require(self, *statuses: int) -> "Sample":
        """The run measured what it meant to: every answer had one of `statuses`."""
        unexpected = {code: n for code, n in self.statuses.items() if code not in statuses}
        if unexpected:
            raise RuntimeError(
                f"{self.name}: unexpected answers {unexpected} (see the gunicorn log)"
            )
        return self

    def summary(self) -> dict:
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "operations": self.count,
            "seconds": round(self.elapsed, 3),
            "throughput_per_s": round(self.throughput, 2),
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
        }


def client(base_url: str, headers: dict | None = None, connections: int = 64):
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("The load generator only talks to 127.0.0.1.")
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=httpx.Timeout(30.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def _run(
    *, base_url, headers, name, operation, concurrency, operations, max_seconds, warmup
) -> Sample:
    sample = Sample(name=name, concurrency=concurrency)
    async with client(base_url, headers, connections=concurrency) as http:
        for i in range(warmup):
            await operation(http, -1 - i)
        counter = iter(range(operations))
        deadline = time.perf_counter() + max_seconds

        async def worker():
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                statuses = await operation(http, index)
                sample.latencies.append(time.perf_counter() - started)
                sample.statuses.update(statuses)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        sample.elapsed = time.perf_counter() - started
    return sample


def run(
    *,
    base_url: str,
    name: str,
    operation: Operation,
    concurrency: int,
    operations: int,
    max_seconds: float,
    headers: dict | None = None,
    warmup: int = 0,
) -> Sample:
    """Runs `operations` operations with `concurrency` in flight, stopping at `max_seconds`."""
    return asyncio.run(
        _run(
            base_url=base_url,
            headers=headers,
            name=name,
            operation=operation,
            concurrency=concurrency,
            operations=operations,
            max_seconds=max_seconds,
            warmup=warmup,
        )
    )
