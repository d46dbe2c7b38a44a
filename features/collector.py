"""Pausing Python's cyclic garbage collector around work that builds many objects and no cycles.

Loading geonames (a million small objects) or scoring 100k leads (millions of short-lived
texts and tuples) otherwise spends most of its time in the collector walking what was just built.
Usable as ``with collector_paused():`` and as a decorator ``@collector_paused()``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
