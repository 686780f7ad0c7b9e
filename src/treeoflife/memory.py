"""Hand back to the system the memory a finished stage freed.

A stage's large arrays and batches are freed when it returns, but the allocators keep
much of it for reuse: glibc's malloc keeps freed chunks in its heaps (and numpy's arrays
below its mmap threshold, which rises to 32 MiB once one is freed, come from there),
Arrow's pool keeps its pages, and SQLite's page cache stays full. In one ``tol build`` the
next stage then starts on top of what the last one left: at 2M bench images cluster left
~100 MB of free heap, split ~90 MB more, and the build's peak was not its largest stage's
but the stages' stacked leftovers (and objects in reference cycles wait for Python's
collector, which need not run before the next stage allocates). Handing them back after
each stage makes a build's peak its largest stage's (``run_stages`` calls this; a stage
holding large arrays beside a full page cache calls :func:`shrink_cache` itself). What a
thread freed goes back only from glibc's main heap, so a build's threads allocate there
(:func:`one_heap`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sqlite3
import sys
from typing import Any


def _glibc(name: str) -> Any:
    """One of glibc's malloc functions, or None where there is none."""
    try:
        return getattr(ctypes.CDLL(None), name)  # the process's own symbols: libc's among them
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows): none
        return None


def _malloc_trim() -> None:
    """glibc's ``malloc_trim(0)``: free heap pages go back to the system (nothing elsewhere)."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def one_heap() -> None:
    """Every thread of this process allocates from glibc's main heap (``M_ARENA_MAX`` 1),
    for threads started after this. A thread otherwise gets a heap of its own, and what a
    stage's threads freed there stayed after ``malloc_trim``: cluster's two search threads
    at 2M hashes left 34-72 MB, the main heap 3 MB (and peaked at 123-158 MiB, not 173-219).
    The threads of a stage allocate few, large blocks (numpy's arrays, SQLite's pages), so
    sharing a heap costs nothing measured (catalog alone at 2M: 13.7-13.9 s either way,
    peak 550-563 MiB instead of 605-627; 10M hashes' search 15-16 s either way)."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(M_ARENA_MAX, 1)


def shrink_cache(db: sqlite3.Connection) -> None:
    """Empty the connection's page cache (refilled from the OS's as it is read again)."""
    db.execute("PRAGMA shrink_memory")


def give_back(db: sqlite3.Connection) -> None:
    """After a stage: its garbage in reference cycles (~45 MB after resolve at 1M bench
    images), the page cache (its clean pages: the temporary database's stay, see
    :func:`treeoflife.builddb.drop_scratch`), Arrow's unused pages and malloc's free heap."""
    gc.collect()
    # after a stage that failed the connection may be unusable: its own error is the one
    # the user must see, not this one's
    with contextlib.suppress(sqlite3.Error):
        shrink_cache(db)
    arrow = sys.modules.get("pyarrow")  # only if a stage used it: importing it costs ~0.1 s
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    _malloc_trim()
