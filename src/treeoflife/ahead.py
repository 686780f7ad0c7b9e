"""An iterator's items made in a thread of their own, a few ahead of the code that uses them.

The image pass's worker inflates archives here while it decodes the images before them;
the catalog reads its rows here while it writes them. Both sides are C nearly all the
time (zlib, the JPEG codec; SQLite or the ADBC driver stepping a query, Arrow's kernels,
the Parquet writer), and all of them let go of Python's lock while they work: in two
threads, reading the next item overlaps using this one, on the second core of a small
machine. The items come out in the order the iterator makes them, so what is written does
not depend on the threads.

Only the thread that made a SQLite connection may use it (Python's ``sqlite3`` refuses
otherwise), so the iterator must open its own (as :mod:`treeoflife.arrowquery` does) or
touch none. An error in it is raised where its item would have come out; when the user
stops early (an error in the writing, an interrupt), the thread closes the iterator (its
``finally`` blocks run there: a connection it opened is closed) and ends before this
returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL = 0.1  # seconds between looks at the stop flag while the user is slower


def ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of ``items`` in order, made in another thread at most ``depth`` ahead
    (each held item is memory: a batch of rows)."""
    made: queue.Queue[tuple[bool, object]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                made.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        source = iter(items)
        end: BaseException | None = None
        try:
            for item in source:
                if not put((True, item)):
                    return
        except BaseException as error:  # noqa: BLE001 - raised again in the user's thread
            end = error
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        put((False, end))

    thread = threading.Thread(target=make, name="tol-ahead", daemon=True)
    thread.start()
    try:
        while True:
            is_item, value = made.get()
            if not is_item:
                if value is not None:
                    raise value  # type: ignore[misc]
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
