"""What the batch shows: a progress bar over the shots with frames/s, and a summary table at the end.

>>> print(summary([ShotResult(0, "sh010.mp4", "done", 24, 3.2, machine="a"),
...                ShotResult(1, "sh020", "failed", error="sh020/in.mp4: no such file or folder")], 4.0))
shot       frames  seconds  status                                        machine
---------  ------  -------  --------------------------------------------  -------
sh010.mp4      24      3.2  done                                          a
sh020           -        -  failed: sh020/in.mp4: no such file or folder
1 done, 0 skipped, 1 failed; 24 frames in 4.0 s (6.0 frames/s)
"""
from __future__ import annotations

import time

from tqdm import tqdm

from batch.worker import ShotResult


class Progress:
    """A tqdm bar over ``total`` shots whose postfix counts the frames written and frames/s of the batch."""

    def __init__(self, total: int):
        self.bar = tqdm(total=total, unit="shot", desc="shots", dynamic_ncols=True)
        self.start, self.frames = time.perf_counter(), 0

    def update(self, result: ShotResult) -> None:
        self.frames += result.frames
        rate = self.frames / max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.frames} frames, {rate:.2f} frames/s", refresh=False)
        if result.status == "failed":
            self.bar.write(f"{result.name}: failed: {result.error}")
        self.bar.update(1)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


def summary(results: list[ShotResult], seconds: float) -> str:
    """A table of the shots (shot, frames, seconds, status, machine) and a line of totals over ``seconds``."""
    rows = [(r.name, str(r.frames) if r.status == "done" else "-", f"{r.seconds:.1f}" if r.status == "done" else "-",
             r.status + (f": {r.error}" if r.error else ""), r.machine) for r in results]
    header = ("shot", "frames", "seconds", "status", "machine")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    right = (False, True, True, False, False)
    line = lambda row: "  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right))
    lines = [line(header), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]
    count = {status: sum(r.status == status for r in results) for status in ("done", "skipped", "failed")}
    frames = sum(r.frames for r in results)
    lines.append(f"{count['done']} done, {count['skipped']} skipped, {count['failed']} failed; {frames} frames in "
                 f"{seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} frames/s)")
    return "\n".join(line.rstrip() for line in lines)
