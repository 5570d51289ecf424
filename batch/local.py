"""Run shots on this machine in ``workers`` processes (no Ray needed).

Each worker process (started with ``spawn``) imports the engine once and runs one shot at a time.
A shot that kills its process (out of memory, killed) cannot take the others down: a new worker
replaces the dead one and the shot starts again, up to ``max_retries`` times, then it is reported
failed. Results come back as the shots finish.
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Iterator

from batch.shots import Shot
from batch.worker import ShotResult


class _Worker:
    """One process running shots sent through a pipe; ``job`` is its current ``(shot, attempt)`` or None."""

    def __init__(self, context, threads: int, overwrite: bool):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, threads, overwrite), daemon=True)
        self.process.start()
        child.close()  # the worker holds the only other end: its death reads as EOF
        self.job: tuple[Shot, int] | None = None

    def start(self, shot: Shot, attempt: int) -> None:
        self.job = (shot, attempt)
        self.connection.send(shot)

    def stop(self, timeout: float) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
        self.connection.close()


def run_local(shots: list[Shot], workers: int = 1, threads: int = 1, max_retries: int = 2,
              overwrite: bool = False) -> Iterator[ShotResult]:
    """Yield one ShotResult per shot, in the order they finish; ``threads``: CPU threads of each shot."""
    if not shots:
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that already runs torch threads
    waiting = deque((shot, 1) for shot in shots)
    pool = [_Worker(context, threads, overwrite) for _ in range(max(1, min(workers, len(shots))))]
    try:
        while waiting or any(worker.job for worker in pool):
            for i, worker in enumerate(pool):
                if worker.job is None and waiting:
                    if not worker.process.is_alive():  # died with its last shot: a new one takes its place
                        pool[i] = worker = _Worker(context, threads, overwrite)
                    worker.start(*waiting.popleft())
            busy = {worker.connection: worker for worker in pool if worker.job}
            for connection in wait(list(busy)):
                worker = busy[connection]
                (shot, attempt), worker.job = worker.job, None
                try:
                    result = connection.recv()
                except EOFError:  # the process died mid-shot: the shot starts again in a new one
                    result = None
                if result is not None:
                    yield result
                elif attempt <= max_retries:
                    worker.process.join()
                    waiting.appendleft((shot, attempt + 1))
                else:
                    worker.process.join()
                    yield ShotResult(shot.index, shot.name, "failed", error=f"its process died (exit code "
                                     f"{worker.process.exitcode}), {attempt} time(s)")
    finally:  # on Ctrl-C the workers got it too: their shots throw away what they wrote
        for worker in pool:
            worker.stop(timeout=10)


def _serve(connection: Connection, threads: int, overwrite: bool) -> None:
    """A worker's loop: run each shot received, send back its ShotResult; None ends it."""
    from batch.worker import run_shot

    try:
        while (shot := connection.recv()) is not None:
            connection.send(run_shot(shot, threads, overwrite))
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too; the batch reports it
        pass
