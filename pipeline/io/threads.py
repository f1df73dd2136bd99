"""Thread pools kept once per process, by name: a forked worker child starts its own (the
parent's threads do not survive a fork)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, tuple[int, ThreadPoolExecutor]] = {}
_lock = threading.Lock()


def process_pool(name: str, threads: int) -> ThreadPoolExecutor:
    """This process's pool called ``name`` (its threads are named after it)."""
    with _lock:
        held = _pools.get(name)
        if held is None or held[0] != os.getpid():
            held = (os.getpid(), ThreadPoolExecutor(threads, thread_name_prefix=name))
            _pools[name] = held
        return held[1]
