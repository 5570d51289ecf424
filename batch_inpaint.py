#!/usr/bin/env python3
"""Inpaint a list of shots with the CLI's streaming engine: here in parallel processes, or on a Ray cluster.

    python batch_inpaint.py shots.csv [--workers N] [-- options for every shot, e.g. --propagate --grow 3]
    python batch_inpaint.py shots.json --ray auto      # a Ray cluster (pip install ray), one task per shot

The shot list (CSV with a header, or a JSON list of objects) gives each shot's ``input``, ``mask``
and ``output`` and, optionally, a ``name`` and any setting of the pipeline description
(model/pipeline/config.py, job.py) by its field name, as the CLI's options are named (``propagate``,
``learned``, ``grow``, ``working_size``, ``codec``...); see batch/shots.py.
A shot whose outputs are complete is skipped, so an interrupted batch resumes where it stopped;
a shot that fails is reported with its error and the others go on. Exit code: 0 when every
shot is done or skipped, 1 when one failed, 2 for a bad shot list.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from itertools import chain

from model import runtime

runtime.set_up()  # before torch loads (model/runtime.py); the worker processes inherit it

from batch.local import run_local  # noqa: E402
from batch.report import Progress, summary  # noqa: E402
from batch.shots import ShotListError, read_shot_list  # noqa: E402
from batch.worker import ShotResult, is_complete  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Inpaint many shots, each as inpaint_video.py would, in parallel here or on a Ray cluster.",
        epilog="Options after -- apply to every shot (a shot's own value wins): the shot-list keys as inpaint_video.py "
               "options, e.g. -- --propagate --codec ffv1 --grow 3 --no-learned.")
    parser.add_argument("shot_list", help="CSV (header: input,mask,output[,name][,option...]) or JSON list of "
                                          "objects with the same keys; relative paths are from its folder")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="shots at once on this machine (default: half the cores); ignored with --ray")
    parser.add_argument("--cpus-per-shot", type=int, default=1,
                        help="CPU threads of each shot; with --ray also the CPUs its task reserves (default: 1)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run on a Ray cluster: auto (the one this machine joined), HEAD:6379, "
                             "ray://HEAD:10001, or local (start Ray here for this batch)")
    parser.add_argument("--max-retries", type=int, default=2,
                        help="start a shot again this many times when its process or machine dies (default: 2)")
    parser.add_argument("--overwrite", action="store_true", help="run every shot, even those already complete")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = build_parser()
    args = parser.parse_args(argv[:split])
    if args.workers < 1 or args.cpus_per_shot < 1 or args.max_retries < 0:
        parser.error("--workers and --cpus-per-shot must be at least 1, --max-retries at least 0.")
    try:
        shots = read_shot_list(args.shot_list, argv[split + 1:])
    except ShotListError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    complete = [not args.overwrite and is_complete(shot) for shot in shots]  # resume: only the rest runs
    skipped = [shot for shot, done in zip(shots, complete) if done]
    todo = [shot for shot, done in zip(shots, complete) if not done]
    started_ray = False
    if args.ray and todo:
        from batch.ray_cluster import connect, run_on_ray
        try:
            started_ray = connect(args.ray)
        except ImportError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (ConnectionError, RuntimeError) as error:  # Ray's own errors say what failed
            print(f"error: could not join the Ray cluster at {args.ray}: {str(error).splitlines()[0]}\n"
                  f"(clusters with token authentication: export RAY_AUTH_MODE=token here too)", file=sys.stderr)
            return 2
        results = run_on_ray(todo, args.cpus_per_shot, args.max_retries, args.overwrite)
    else:
        results = run_local(todo, args.workers, args.cpus_per_shot, args.max_retries, args.overwrite)
    start, finished, interrupted = time.perf_counter(), {}, False
    try:
        with Progress(len(shots)) as progress:
            for result in chain((ShotResult(shot.index, shot.name, "skipped") for shot in skipped), results):
                finished[result.index] = result
                progress.update(result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if started_ray:
            import ray
            ray.shutdown()
    done = [finished[i] for i in sorted(finished)]
    print(summary(done, time.perf_counter() - start))
    if interrupted:
        print("interrupted: the shots above are complete; run the same command again to do the rest.",
              file=sys.stderr)
        return 130
    for result in done:
        for message in result.warnings:
            print(f"warning: {result.name}: {message}")
    return 1 if any(result.status == "failed" for result in done) else 0


if __name__ == "__main__":
    sys.exit(main())
