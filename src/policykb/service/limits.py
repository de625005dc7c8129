"""How many contributions the API processes at once: a bound for the whole process and one per
client, on a thread pool of their own.

A contribution costs a thread for as long as its document is read (in a sandbox process, up to
POLICYKB_UPLOAD_PARSE_SECONDS) and embedded. On the pool that serves searches and `/health`, a
few dozen slow uploads would take every thread; here they never touch it, and what exceeds the
bounds is refused at once (503 for the process, 429 for one client, both with Retry-After)
instead of waiting in a queue.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import Counter
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, TypeVar

from policykb.errors import RateLimited, UploadsBusy, UploadTimeout

T = TypeVar("T")
RETRY_SECONDS = 5  # a slot frees as soon as one contribution is done: ask clients to come back soon


class UploadGate:
    """At most `total` contributions in flight in this process, `per_client` from one client."""

    def __init__(self, total: int, per_client: int, read_seconds: float = 60.0) -> None:
        self.total = total
        self.per_client = per_client
        self.read_seconds = read_seconds  # for a request body to arrive while it holds a slot
        self._lock = threading.Lock()
        self._in_flight = 0
        self._clients: Counter[str] = Counter()
        self._pool: ThreadPoolExecutor | None = None

    @contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold one of the slots while a contribution is processed; raises at once when none is free."""
        with self._lock:
            if self._in_flight >= self.total:
                raise UploadsBusy(f"the server is processing {self.total} contributions already "
                                  f"(POLICYKB_MAX_UPLOADS_IN_FLIGHT); try again in a few seconds",
                                  {"retry_after": RETRY_SECONDS})
            if self._clients[client] >= self.per_client:
                raise RateLimited(f"at most {self.per_client} contributions from one client at a time "
                                  "(POLICYKB_MAX_UPLOADS_PER_CLIENT); wait for the others to finish",
                                  {"retry_after": RETRY_SECONDS})
            self._in_flight += 1
            self._clients[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._clients[client] -= 1
                if not self._clients[client]:
                    del self._clients[client]

    async def arrive(self, reading: Awaitable[T]) -> T:
        """What `reading` (a request body being read) gives, within `read_seconds`: four uploads
        trickled at 2 kB/s held every slot for as long as they liked, and nobody else could
        contribute. A client gone before its body arrived is said so, not logged as an error."""
        from starlette.requests import ClientDisconnect

        try:
            return await asyncio.wait_for(reading, self.read_seconds)
        except asyncio.TimeoutError:
            raise UploadTimeout(f"the contribution did not arrive within {self.read_seconds:g} s "
                                "(POLICYKB_UPLOAD_READ_SECONDS); send it again over a faster connection") from None
        except ClientDisconnect:
            raise UploadTimeout("the connection closed before the contribution arrived") from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the contributions' own threads (never the pool of the other routes)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.total, thread_name_prefix="policykb-contribution")
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
