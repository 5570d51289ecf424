"""Run a stream's producer in a worker thread, so that two stages of a pipeline overlap in time.

The CLI's Flow Propagate and the four stages each spend most of their time in torch and OpenCV
calls that release the GIL, so a producer thread computing the next propagated frames while the
main thread inpaints the current one uses two cores where one stage at a time cannot (much of
Flow Propagate's work is many small tensor operations, which a second OpenMP thread barely speeds
up). Each thread sets its own number of torch threads (OpenMP keeps that setting per thread).
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

import torch

Item = TypeVar("Item")
_DONE = object()
POLL_SECONDS = 0.2  # how often a waiting consumer calls its poll
ABANDON_SECONDS = 0.5  # how long a consumer that stops on an error waits for the worker's current item


class _Failure:
    """An exception raised by the producer, carried to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def in_background(items: Iterable[Item], depth: int = 2, threads: int = 0,
                  poll: Callable[[], None] | None = None) -> Iterator[Item]:
    """Yield the items of ``items`` in order, computed ahead by a worker thread.

    Args:
        items: any iterable (e.g. a generator of frames); it is iterated only in the worker.
        depth: how many finished items may wait for the consumer (bounds the memory held ahead).
        threads: torch CPU threads of the worker (0 = leave the default).
        poll: called every :data:`POLL_SECONDS` while the consumer waits for an item; it may raise (a Cancel
            button), which stops the wait at once.
    Raises:
        Whatever ``items`` or ``poll`` raised, in the consumer (``items``' error after the items made before it).
    Closing the returned generator (or an error in the consumer) stops the worker after its current item,
    waited for up to 5 s (a process that exits while the worker is inside torch aborts). When ``poll`` raises,
    the wait is at most :data:`ABANDON_SECONDS`: the worker then finishes its item alone and ends without
    handing it over (``poll`` serves long-lived processes: a server's Cancel button).
    """
    if depth < 1:
        raise ValueError(f"in_background: depth is {depth}; use 1 or more items.")
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(value) -> bool:
        """Put ``value`` in the queue unless the consumer went away; False when it did."""
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        if threads > 0:
            torch.set_num_threads(threads)
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
            offer(_Failure(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="frvi-producer", daemon=True)
    worker.start()
    wait = 5.0
    try:
        while True:
            try:
                value = ready.get(timeout=POLL_SECONDS if poll else None)
            except queue.Empty:
                wait = ABANDON_SECONDS  # if poll raises: a Cancel in a long-lived process (a server), not an exit
                poll()
                wait = 5.0
                continue
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value
    finally:
        stop.set()
        worker.join(timeout=wait)
