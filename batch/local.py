"""Run shots on this machine, ``workers`` at a time, each in a fresh process (no Ray needed).

One process per shot (started with ``spawn``): a shot that crashes its process (out of memory,
killed) cannot take the others down; it is started again up to ``max_retries`` times, then
reported failed. Results come back as the shots finish.
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Iterator

from batch.shots import Shot
from batch.worker import ShotResult


def run_local(shots: list[Shot], workers: int = 1, threads: int = 1, max_retries: int = 2,
              overwrite: bool = False) -> Iterator[ShotResult]:
    """Yield one ShotResult per shot, in the order they finish; ``threads``: CPU threads of each shot."""
    context = multiprocessing.get_context("spawn")  # no fork of a process that already runs torch threads
    waiting = deque((shot, 1) for shot in shots)
    running: dict[Connection, tuple] = {}
    try:
        while waiting or running:
            while waiting and len(running) < max(1, workers):
                shot, attempt = waiting.popleft()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(shot, threads, overwrite, send), daemon=True,
                                          name=f"shot {shot.name}")
                process.start()
                send.close()  # the child holds the only writing end: its death reads as EOF
                running[receive] = (process, shot, attempt)
            for receive in wait(list(running)):
                process, shot, attempt = running.pop(receive)
                try:
                    result = receive.recv()
                except EOFError:
                    result = None
                receive.close()
                process.join()
                if result is not None:
                    yield result
                elif attempt <= max_retries:
                    waiting.append((shot, attempt + 1))
                else:
                    yield ShotResult(shot.index, shot.name, "failed", error=f"its process died (exit code "
                                     f"{process.exitcode}) in each of {attempt} attempts")
    finally:
        for process, _shot, _attempt in running.values():  # Ctrl-C: the children got it too and clean up
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def _child(shot: Shot, threads: int, overwrite: bool, send: Connection) -> None:
    from batch.worker import run_shot

    send.send(run_shot(shot, threads, overwrite))
    send.close()
