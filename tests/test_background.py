"""model/pipeline/background.py: a stream's producer in a worker thread."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from model.pipeline.background import in_background


def test_items_come_out_in_order_and_all_of_them():
    assert list(in_background(iter(range(50)), depth=3)) == list(range(50))
    assert list(in_background([], depth=1)) == []


def test_the_worker_computes_ahead_while_the_consumer_is_busy():
    made = []

    def producer():
        for i in range(4):
            made.append(i)
            yield i

    items = in_background(producer(), depth=4)
    assert next(items) == 0
    deadline = time.monotonic() + 5
    while len(made) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert made == [0, 1, 2, 3]  # made while the consumer held item 0
    assert list(items) == [1, 2, 3]


def test_an_error_in_the_producer_reaches_the_consumer_after_the_items_before_it():
    def producer():
        yield 1
        yield 2
        raise ValueError("frame 3 is broken")

    got = []
    with pytest.raises(ValueError, match="frame 3 is broken"):
        for item in in_background(producer()):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_the_worker_and_closes_the_producer():
    closed = threading.Event()

    def producer():
        try:
            for i in range(10**9):
                yield i
        finally:
            closed.set()

    items = in_background(producer(), depth=2)
    assert next(items) == 0
    items.close()
    assert closed.wait(5)
    assert not any(t.name == "frvi-producer" and t.is_alive() for t in threading.enumerate())


def test_the_worker_sets_its_own_torch_threads_and_leaves_the_callers():
    before = torch.get_num_threads()

    def producer():
        yield torch.get_num_threads()

    assert list(in_background(producer(), threads=1)) == [1]
    assert torch.get_num_threads() == before


def test_a_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth"):
        next(in_background(iter([1]), depth=0))


def test_a_poll_that_raises_stops_a_long_wait_at_once():
    class Cancelled(Exception):
        pass

    release = threading.Event()
    calls = []

    def producer():
        yield 0
        release.wait(10)  # a long item (a chunk of Flow Propagate's future pass)
        yield 1

    def poll():
        calls.append(time.perf_counter())
        if len(calls) == 3:
            raise Cancelled

    items = in_background(producer(), depth=1, poll=poll)
    assert next(items) == 0
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        next(items)
    assert time.perf_counter() - start < 2.0  # the third poll came a fraction of a second after the second
    release.set()
