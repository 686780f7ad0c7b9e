"""ahead(): a stage's reading runs in a thread of its own, and nothing about what comes out
changes: the order, the errors, and the cleanup of an iterator left part-way."""

from __future__ import annotations

import threading

import pytest

from treeoflife.ahead import ahead


def test_items_come_out_in_order_made_in_another_thread() -> None:
    makers: set[str] = set()

    def numbers():
        for n in range(1000):
            makers.add(threading.current_thread().name)
            yield n

    assert list(ahead(numbers(), depth=3)) == list(range(1000))
    assert threading.current_thread().name not in makers


def test_an_error_is_raised_where_its_item_would_have_come_out() -> None:
    def failing():
        yield 1
        yield 2
        raise ValueError("row 3 is bad")

    got = []
    with pytest.raises(ValueError, match="row 3 is bad"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_iterator_and_ends_its_thread() -> None:
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()  # where a reader closes its connection

    before = threading.active_count()
    items = ahead(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # the writer stopped: an error, or an interrupt
    assert closed.is_set()
    assert threading.active_count() == before


def test_an_error_in_the_users_loop_stops_the_reading() -> None:
    closed = threading.Event()

    def rows():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="disk full"):
        for n in ahead(rows()):
            if n == 7:
                raise RuntimeError("disk full")
    assert closed.is_set()
