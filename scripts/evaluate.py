#!/usr/bin/env python3
"""Score pipeline configurations against baselines on real clips with known ground truth.

    python scripts/evaluate.py ../shared/data/clips --size 432x240 --out eval_out
    python scripts/evaluate.py CLIP_OR_PARENT ... --masks fixed_rect,strokes --configs telea,classical
    python scripts/evaluate.py ../shared/data/clips --weights weights/   # adds the learned rows

Each clip (a folder with ``frames/`` and optional ``masks/``, or a parent folder of such clips)
is resized to every ``--size``, cut to a window of ``--max-frames`` frames and covered with the
masks of every ``--masks`` protocol (``model/evaluation/mask_generators.py``, deterministic by ``--seed``
and the clip's name). The hole pixels of the input are set to mid-grey, so no method can see
the ground truth, which is the original frame. A clip's own ``masks/`` are used only as
object-shaped holes for OTHER clips (protocol ``objects``).

Every configuration is a row of one table (``--configs``, see ``--list``), built from the pipeline
description (``model/pipeline/config.py``'s ``DEFAULTS``, built into stages by ``model/pipeline/run.py``'s
``build_stages``): per-frame OpenCV Telea, the classical pipeline, classical ablations (another setting, or one
stage object swapped), Flow Propagate followed by the classical pipeline or by Telea on the hole it leaves
(``propagate``, ``propagate_telea``), and the paper's learned ablation rows, run by some of the networks of
``--weights DIR`` (found by their ``kind`` metadata; rows that cannot be built are skipped with a note in the
report).

Writes to ``--out``: ``eval.json`` (settings, every clip x mask x configuration row, means),
``eval.md`` (the tables) and ``sheets/<size>_<mask>_<config>.png`` contact sheets
(input | mask | result | ground truth for a few frames of a few clips). Metrics are defined in
``model/evaluation/metrics.py``; the deep-feature distance in ``model/evaluation/feature_distance.py`` (it needs the
test/evaluation packages of ``requirements-test.txt``; ``--no-feature-distance`` skips it).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model import runtime  # noqa: E402

runtime.set_up()  # before torch loads (model/runtime.py): it times every row

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from model.checks import hole_at  # noqa: E402
from model.evaluation import feature_distance, mask_generators, metrics  # noqa: E402
from model.networks.weights import find_weights, load_network  # noqa: E402
from model.pipeline.config import DEFAULTS, PipelineConfig  # noqa: E402
from model.native import exemplar_available  # noqa: E402
from model.pipeline.run import build_stages  # noqa: E402
from model.propagate.whole_clip import flow_propagate  # noqa: E402
from model.stages import flow_estimator  # noqa: E402
from model.propagate.keyframes import keyframe_inpainter  # noqa: E402
from scripts.common import make_engine, parse_size  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
HOLE_GREY = 0.5
METRIC_KEYS = ("psnr_hole", "ssim_hole", "l1_hole", "detail", "feat_dist", "psnr_full", "ssim_full", "l1_full",
               "ewarp", "ewarp_gt", "ewarp_camera", "ewarp_camera_gt", "flicker", "coverage", "ms_per_frame")
COLUMNS = {  # key -> (header, format)
    "psnr_hole": ("PSNR hole", "{:.2f}"), "ssim_hole": ("SSIM hole", "{:.4f}"), "l1_hole": ("L1 hole", "{:.4f}"),
    "detail": ("detail", "{:.3f}"), "feat_dist": ("feat. dist", "{:.3f}"),
    "psnr_full": ("PSNR full", "{:.2f}"), "ssim_full": ("SSIM full", "{:.4f}"), "l1_full": ("L1 full", "{:.4f}"),
    "ewarp": ("E_warp", "{:.2f}"), "ewarp_gt": ("E_warp GT", "{:.2f}"),
    "ewarp_camera": ("E_warp cam.", "{:.2f}"), "ewarp_camera_gt": ("E_warp cam. GT", "{:.2f}"),
    "flicker": ("flicker", "{:+.2f}"),
    "coverage": ("hole %", "{:.1%}"), "ms_per_frame": ("ms/frame", "{:.0f}"),
}


# ----------------------------------------------------------------------------------------- clips
@dataclass
class Clip:
    """A clip folder: ``frames/`` (sorted images) and optional ``masks/``."""

    name: str
    folder: Path

    @property
    def frame_files(self) -> list[Path]:
        return sorted(p for p in (self.folder / "frames").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    @property
    def masks_dir(self) -> Path | None:
        masks = self.folder / "masks"
        return masks if masks.is_dir() and any(masks.iterdir()) else None


def find_clips(paths: list[str]) -> list[Clip]:
    """Clip folders from paths that are clips (hold ``frames/``) or parents of clips, sorted by name."""
    clips = []
    for path in map(Path, paths):
        if (path / "frames").is_dir():
            clips.append(Clip(path.name, path))
        elif path.is_dir():
            clips += [Clip(p.name, p) for p in sorted(path.iterdir()) if (p / "frames").is_dir()]
        else:
            raise ValueError(f"{path}: not a folder; give a clip folder (with frames/) or a folder of clips.")
    if not clips:
        raise ValueError(f"no clip folders (with a frames/ subfolder) under {paths}.")
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise ValueError(f"two clips share a name in {names}; give each clip folder a distinct name.")
    return clips


def load_frames(clip: Clip, size: tuple[int, int] | None, max_frames: int, start: int = 0) -> torch.Tensor:
    """``max_frames`` frames of ``clip`` from ``start``, resized (area) to ``size`` -> ``[T,3,H,W]`` in [0,1]."""
    files = clip.frame_files[start:start + max_frames]
    if not files:
        raise ValueError(f"{clip.name}: no frames at index {start} and after.")
    frames = []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: could not read the image.")
        if size is not None and (image.shape[1], image.shape[0]) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        frames.append(torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    return torch.stack(frames).permute(0, 3, 1, 2).float() / 255.0


class DonorPool:
    """Object masks of clips whose ``masks/`` move (real segmentations, not a fixed logo), loaded once."""

    def __init__(self, clips: list[Clip]):
        self.clips = {c.name: c for c in clips if c.masks_dir is not None}
        self._cache: dict[str, np.ndarray | None] = {}

    def masks(self, name: str) -> np.ndarray | None:
        if name not in self._cache:
            masks = mask_generators.load_mask_sequence(self.clips[name].masks_dir)
            self._cache[name] = masks if mask_generators.masks_move(masks) else None
        return self._cache[name]

    def donor_for(self, target: str, seed: int) -> tuple[str, np.ndarray] | None:
        """``(donor name, masks [T,H,W])`` for ``target``, or None if no other clip has moving masks."""
        usable = [n for n in self.clips if n != target and self.masks(n) is not None]
        if not usable:
            return None
        name = mask_generators.choose_donor(target, usable, seed)
        return name, self.masks(name)


# -------------------------------------------------------------------------------- configurations
Runner = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Networks = dict[str, torch.nn.Module]

BASE = DEFAULTS.replace(learned=False, flow_working_size=0)
"""Every row's pipeline: the CLI's settings, Robust Flow at full resolution (``classical_flow_640`` at the CLI's
``flow_working_size``); each row changes a setting, the networks it runs, or swaps one stage object."""


@dataclass
class Config:
    """A table row: ``make()`` returns a fresh runner ``(frames [T,3,H,W], hole [T,1,H,W]) -> [T,3,H,W]``."""

    name: str
    description: str
    make: Callable[[], Runner]


def per_frame(config: PipelineConfig, networks: Networks | None = None) -> Callable[[], Runner]:
    """A runner that fills every frame on its own with the frame inpainter of ``config`` (and ``networks``)."""
    def make() -> Runner:
        inpainter = build_stages(config, networks).frame_inpainter

        @torch.inference_mode()
        def run(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
            return torch.cat([inpainter(frames[t:t + 1], hole_at(hole, t)) for t in range(frames.shape[0])])
        return run
    return make


def streaming(config: PipelineConfig, networks: Networks | None = None,
              swap: Callable | None = None) -> Callable[[], Runner]:
    """A runner that feeds the frames in order through a fresh engine of ``config`` with ``networks`` (by kind;
    the other stages take their classical path), ``swap(stages) -> stages`` changing stage objects (ablations)."""
    def make() -> Runner:
        engine = make_engine(config, networks, swap=swap)

        def run(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
            return torch.cat([engine.step(frames[t:t + 1], hole_at(hole, t)) for t in range(frames.shape[0])])
        return run
    return make


class ZeroFlow:
    """A flow estimator that sees no motion: ``(target, source) -> zeros [1,2,H,W]`` (the "no flow" ablation)."""

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return torch.zeros(1, 2, *target.shape[2:], device=target.device)


def zero_flow(parts):
    """The stages with :class:`ZeroFlow` as their flow estimator."""
    return parts._replace(estimator=ZeroFlow())


def propagated(config: PipelineConfig, make_runner: Callable[[], Runner],
               keyframe: Callable[[], Callable] | None = None,
               auto_keyframes: Callable[[], Callable] | None = None) -> Callable[[], Runner]:
    """A runner that first runs Flow Propagate over the clip (``model.propagate.whole_clip.flow_propagate`` with
    ``config``'s estimator and ``propagation`` settings, its completion included) and then ``make_runner()`` on the
    propagated frames and the remaining hole. ``keyframe`` (optional) makes a frame inpainter that fills frame 0
    once; that fill is Flow Propagate's reference (carried to every frame where no frame saw the background).
    ``auto_keyframes`` (optional) makes the frame inpainter of Flow Propagate's automatic keyframes
    (:mod:`model.propagate.keyframes`)."""
    def make() -> Runner:
        runner = make_runner()
        fill = keyframe() if keyframe is not None else None
        keyframe_fill = auto_keyframes() if auto_keyframes is not None else None

        def run(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                references = None
                if fill is not None and (hole_at(hole, 0) > 0.5).any():
                    references = {0: fill(frames[:1], hole_at(hole, 0))}
                filled, remaining = flow_propagate(frames, hole, flow_estimator(config.estimator), config.propagation,
                                                   references=references, keyframe_fill=keyframe_fill)
            return runner(filled, remaining)
        return run
    return make


def _tagged(rows: dict[str, Config], working_size: int, what: str) -> dict[str, Config]:
    """Rows renamed ``name@N`` (and described) when ``working_size`` N > 0; unchanged for 0."""
    if not working_size:
        return rows
    return {f"{n}@{working_size}": Config(f"{n}@{working_size}", f"{c.description} ({what} at {working_size} px "
                                          "long side)", c.make) for n, c in rows.items()}


def classical_configs(working_size: int = 0) -> dict[str, Config]:
    """The classical rows; ``working_size > 0`` runs their Telea fill at that long side (rows named ``name@N``)."""
    base = BASE.replace(working_size=working_size)
    rows = [Config(name, description, make) for name, description, make in [
        ("telea", "per-frame OpenCV Telea (radius 5), no temporal information", per_frame(base)),
        ("classical", "classical pipeline: Telea + DIS medium + Laplacian F^I + confidence blend "
                      "+ temporal-blend refiner", streaming(base)),
        ("classical_no_flow", "classical pipeline with zero flow (refiner without flow)",
         streaming(base, swap=zero_flow)),
        ("classical_flow_p", "classical pipeline following F^P only", streaming(base.replace(blend="flow_p"))),
        ("classical_flow_i", "classical pipeline following F^I only", streaming(base.replace(blend="flow_i"))),
        ("classical_average", "classical pipeline with F = (F^P + F^I) / 2", streaming(base.replace(blend="average"))),
        ("classical_flow_640", "classical pipeline with Robust Flow computed at 640 px long side (full size below)",
         streaming(base.replace(flow_working_size=DEFAULTS.flow_working_size))),
        ("propagate", "Flow Propagate (DIS medium, 12 frames each way, Poisson seams), then the "
                      "classical pipeline on the remaining hole", propagated(base, streaming(base))),
        ("propagate_telea", "Flow Propagate, then per-frame Telea on the remaining hole",
         propagated(base, per_frame(base))),
    ]]
    if exemplar_available():  # OpenCV contrib: an optional package
        exemplar = base.replace(frame_method="exemplar")
        rows += [Config(name, description, make) for name, description, make in [
            ("exemplar", "per-frame exemplar fill (OpenCV contrib shift-map at its working size), no temporal "
                         "information", per_frame(exemplar)),
            ("propagate_exemplar", "Flow Propagate, then the per-frame exemplar fill on the remaining hole",
             propagated(base, per_frame(exemplar))),
        ]]
    return _tagged({row.name: row for row in rows}, working_size, "Telea")


CLASSICAL_CONFIGS = classical_configs()
DEFAULT_CONFIGS = ("telea", "classical")
# The paper's ablation (frame network only, refiner without flow, F^P only, F^I only, full learned), the
# mixed rows, and each of them with Flow Propagate in front (``propagate_<row>``).
ABLATION_ROWS = ("pconv_only", "classical_flownet", "learned", "refine_no_flow", "flow_p_only", "flow_i_only",
                 "full_learned")
LEARNED_ROWS = ABLATION_ROWS + tuple(f"propagate_{row}" for row in ABLATION_ROWS)


def load_weights(weights: dict[str, Path]) -> tuple[Networks, list[str]]:
    """Each network of ``weights`` (kind -> file) loaded once (strict), and notes on the files that failed."""
    networks, notes = {}, []
    for kind, path in weights.items():
        try:
            networks[kind] = load_network(path, kind)
        except ValueError as error:
            notes.append(f"{kind} not used: {error}")
    return networks, notes


def learned_configs(weights_dir: str | None, working_size: int = 0) -> tuple[dict[str, Config], list[str]]:
    """The learned rows: the pipeline description run by some of the networks of ``--weights DIR`` (found by their
    ``kind`` metadata, ``model.networks.weights.find_weights``), or none, with notes saying why.

    Rows (each also as ``propagate_<row>``: Flow Propagate first, then the row on the remaining hole):
    ``pconv_only`` (frame network per frame), ``classical_flownet`` (the classical pipeline with F^I
    completed by the flow network), ``learned`` (frame and flow networks, classical confidence blend
    and temporal-blend refiner), and with the refiner's weights the paper's ablation:
    ``refine_no_flow`` (the refiner fed zero flow), ``flow_p_only`` / ``flow_i_only`` (the refiner
    following one flow), ``full_learned`` (all four networks; F = the average of F^P and F^I when no
    H_f weights are given). ``working_size > 0`` runs the frame fill (the frame network, or Telea in
    ``classical_flownet``) at that long side (rows named ``name@N``); 0 keeps the size stored in the weights file.
    """
    if not weights_dir:
        return {}, []
    folder = Path(weights_dir)
    if not folder.is_dir():
        return {}, [f"learned rows skipped: --weights {folder} is not a folder."]
    weights = find_weights(folder)
    notes = [f"weights in {folder}: {', '.join(f'{k}={v.name}' for k, v in weights.items()) or 'none found'}"]
    networks, more = load_weights(weights)
    notes += more
    if "frame_inpaint" not in networks:
        return {}, notes + ["learned rows skipped: no usable frame-inpainting weights in --weights."]

    def nets(*kinds: str) -> Networks:
        return {kind: networks[kind] for kind in kinds if kind in networks}
    base = BASE.replace(working_size=working_size)
    if "flow_complete" not in networks:
        notes.append("F^I uses the Laplacian completion: no flow-completion weights.")
    rows = [("pconv_only", "frame network per frame (PConv only)", per_frame(base, nets("frame_inpaint")))]
    if "flow_complete" in networks:
        rows.append(("classical_flownet", "classical pipeline with F^I completed by the flow network (not Laplacian)",
                     streaming(base, nets("flow_complete"))))
    rows.append(("learned", "frame network + " + ("the flow network's F^I" if "flow_complete" in networks else
                                                  "classical Robust Flow") + " + classical blend and refiner",
                 streaming(base, nets("frame_inpaint", "flow_complete"))))
    if "convlstm_refine" in networks:
        if "flow_blend" not in networks:
            notes.append("full_learned uses the average of F^P and F^I: no blend-network (H_f) weights.")
        refined = nets("frame_inpaint", "flow_complete", "convlstm_refine")  # the classical blend of each row
        rows += [
            ("refine_no_flow", "frame network + ConvLSTM refiner fed zero flow",
             streaming(base.replace(blend="average"), refined, swap=zero_flow)),
            ("flow_p_only", "frame network + refiner following F^P only",
             streaming(base.replace(blend="flow_p"), refined)),
            ("flow_i_only", "frame network + refiner following F^I only",
             streaming(base.replace(blend="flow_i"), refined)),
            ("full_learned", "full learned pipeline: frame network, F^P and the flow network's F^I blended by H_f, "
                             "ConvLSTM refiner (the CLI's --learned)",
             streaming(base.replace(blend="average"), {**refined, **nets("flow_blend")})),
            ("full_learned_laplacian", "the full learned pipeline with F^I completed by the Laplacian fill instead of "
                                       "the flow network (what the flow network adds)",
             streaming(base.replace(blend="average"), nets("frame_inpaint", "flow_blend", "convlstm_refine"))),
        ]
    else:
        notes.append("refiner rows skipped: no ConvLSTM refiner weights.")
    fills = {"net": ("the frame network", lambda: build_stages(base, nets("frame_inpaint")).frame_inpainter),
             "telea": ("Telea", lambda: build_stages(base).frame_inpainter)}
    if exemplar_available():
        fills["exemplar"] = ("the exemplar fill",
                             lambda: build_stages(base.replace(frame_method="exemplar")).frame_inpainter)
    fills["textured"] = ("the patch-based completion started from the frame network's colours",
                         lambda: keyframe_inpainter("textured", network=networks["frame_inpaint"]))
    full = [row for row in rows if row[0] == "full_learned"]
    rows += [(f"propagate_{name}", f"Flow Propagate, then: {description}", propagated(base, make))
             for name, description, make in list(rows)]
    rows += [(f"propagate_keyframe_{key}_{name}", f"Flow Propagate with frame 0 filled once by {what} as its "
              f"reference, then: {description}", propagated(base, make, fill))
             for key, (what, fill) in fills.items() if key != "telea" for name, description, make in full]
    rows += [(f"propagate_auto_{key}_{name}", f"Flow Propagate with automatic keyframes filled by {what}, then: "
              f"{description}", propagated(base, make, auto_keyframes=fill))
             for key, (what, fill) in fills.items() for name, description, make in full]
    return _tagged({name: Config(name, description, make) for name, description, make in rows}, working_size,
                   "frame network"), notes


# --------------------------------------------------------------------------------- contact sheet
def tile(image: torch.Tensor, label: str, width: int) -> np.ndarray:
    """``[3,H,W]`` or ``[1,H,W]`` in [0,1] -> BGR uint8 tile of ``width`` px with ``label`` in its corner."""
    array = (image.expand(3, -1, -1).permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if array.shape[1] != width:
        array = cv2.resize(array, (width, round(array.shape[0] * width / array.shape[1])), interpolation=cv2.INTER_AREA)
    array = np.ascontiguousarray(array)
    cv2.putText(array, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(array, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return array


def sheet_row(corrupted: torch.Tensor, hole: torch.Tensor, output: torch.Tensor, target: torch.Tensor,
              label: str, width: int = 320) -> np.ndarray:
    """One contact-sheet row (input with the hole tinted | mask | result | ground truth) of one frame ``[3,H,W]``."""
    tint = torch.tensor([1.0, 0.2, 0.2]).view(3, 1, 1)
    shown = torch.where(hole > 0.5, 0.5 * corrupted + 0.5 * tint, corrupted)
    tiles = [tile(shown, f"input {label}", width), tile(hole, "mask", width),
             tile(output, "result", width), tile(target, "ground truth", width)]
    return join_tiles(tiles)


def join_tiles(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles of one height side by side, 4 px of white between them -> one contact-sheet row."""
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([x for piece in tiles for x in (piece, gap)][:-1], axis=1)


def write_sheet(path: Path, title: str, rows: list[np.ndarray]) -> None:
    """Stack rows (padded to one width) under a title bar and write a PNG."""
    width = max(r.shape[1] for r in rows)
    header = np.full((22, width, 3), 255, np.uint8)
    cv2.putText(header, title, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    padded = [header] + [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(padded, axis=0))


# ------------------------------------------------------------------------------------ evaluation
@dataclass
class Settings:
    sizes: list[str]
    masks: list[str]
    configs: list[str]
    seed: int = 0
    max_frames: int = 24
    start: int = 0
    rect_fraction: float = 0.5
    sheet_clips: int = 3
    sheet_frames: int = 2
    notes: list[str] = field(default_factory=list)
    feature_distance: bool = True


def evaluate(clips: list[Clip], pool: DonorPool, configs: dict[str, Config], settings: Settings, out: Path,
             progress: bool = True) -> list[dict]:
    """Run every configuration on every clip, size and mask protocol -> rows of metrics (see module doc)."""
    rows: list[dict] = []
    sheets: dict[tuple[str, str, str], list[np.ndarray]] = {}
    total = len(settings.sizes) * len(clips) * len(settings.masks) * len(configs)
    bar = tqdm(total=total, unit="run", disable=not progress, dynamic_ncols=True, file=sys.stderr)
    score_features = settings.feature_distance
    if score_features and not feature_distance.available():
        settings.notes.append(f"feature distance skipped: {feature_distance.INSTALL_HINT}.")
        score_features = False
    if score_features:
        from training.feature_weights import ensure_converted  # the one torch.load, weights only, outside the pack
        ensure_converted()
    feature_time, feature_frames = 0.0, 0
    for size_text in settings.sizes:
        size = parse_size(size_text, "--size", source_ok=True, min_side=8)  # None: the clip's own size
        for clip_index, clip in enumerate(clips):
            target = load_frames(clip, size, settings.max_frames, settings.start)
            t_len, _, h, w = target.shape
            gt_flow = metrics.ground_truth_flow(target)
            camera = metrics.moves_with_camera(*gt_flow)  # once per clip, like the flow: every mask and row reuses it
            if score_features:
                start = time.perf_counter()
                gt_features = feature_distance.features(target)  # once per clip: every mask and row reuses them
                feature_time += time.perf_counter() - start
            sheet_times = sorted({round(i * (t_len - 1) / (settings.sheet_frames + 1))
                                  for i in range(1, settings.sheet_frames + 1)})
            for protocol in settings.masks:
                donor_name = None
                if protocol == "objects":
                    donor = pool.donor_for(clip.name, settings.seed)
                    if donor is None:
                        settings.notes.append(f"{clip.name}: objects skipped, no other clip with moving masks.")
                        bar.update(len(configs))
                        continue
                    donor_name, donor_masks = donor
                    hole = mask_generators.make_hole(protocol, t_len, h, w, settings.seed, clip.name, donor=donor_masks)
                else:
                    hole = mask_generators.make_hole(protocol, t_len, h, w, settings.seed, clip.name,
                                                     fraction=settings.rect_fraction)
                corrupted = torch.where(hole > 0.5, torch.full_like(target, HOLE_GREY), target)
                for name, config in configs.items():
                    bar.set_description(f"{size_text} {clip.name} {protocol} {name}")
                    runner = config.make()
                    start = time.perf_counter()
                    output = runner(corrupted, hole)
                    elapsed = time.perf_counter() - start
                    known_exact = bool(torch.equal(torch.where(hole > 0.5, target, output), target))
                    scores = metrics.score_video(output, target, hole, gt_flow, camera)
                    scores["feat_dist"] = math.nan
                    if score_features:
                        start = time.perf_counter()
                        scores["feat_dist"] = metrics.video_mean(
                            feature_distance.feature_distance(output, None, hole, gt_features))
                        feature_time += time.perf_counter() - start
                        feature_frames += t_len
                    rows.append({"size": size_text, "width": w, "height": h, "clip": clip.name, "mask": protocol,
                                 "donor": donor_name, "config": name, "frames": t_len, **scores,
                                 "ms_per_frame": 1000.0 * elapsed / t_len, "known_exact": known_exact})
                    if clip_index < settings.sheet_clips:
                        for t in sheet_times:
                            sheets.setdefault((size_text, protocol, name), []).append(
                                sheet_row(corrupted[t], hole[t], output[t], target[t], f"{clip.name} t={t}"))
                    bar.update(1)
    bar.close()
    if feature_frames:
        settings.notes.append(f"feature distance: {1000.0 * feature_time / feature_frames:.0f} ms per scored frame "
                              "(EfficientNet-Lite0 on the output; the ground truth's features once per clip).")
    for (size_text, protocol, name), sheet in sheets.items():
        write_sheet(out / "sheets" / f"{size_text}_{protocol}_{name}.png",
                    f"{name} | {protocol} masks | {size_text} | input | mask | result | ground truth", sheet)
    return rows


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarise(rows: list[dict]) -> list[dict]:
    """Means over clips per (size, mask, config), plus mask ``"all"`` (every clip and mask) per (size, config)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["mask"], row["config"]), []).append(row)
        groups.setdefault((row["size"], "all", row["config"]), []).append(row)
    return [{"size": s, "mask": m, "config": c, "clips": len({r["clip"] for r in g}), "runs": len(g),
             **{k: _mean([r.get(k) for r in g]) for k in METRIC_KEYS},
             "known_exact": all(r["known_exact"] for r in g)} for (s, m, c), g in groups.items()]


def _fmt(key: str, value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else COLUMNS[key][1].format(value)


def markdown(rows: list[dict], means: list[dict], settings: Settings, configs: dict[str, Config],
             machine: str) -> str:
    """The report: settings, one mean table per size (configurations as rows), per-clip hole PSNR / E_warp."""
    lines = ["# Evaluation results", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {machine} · seed {settings.seed} · "
             f"{settings.max_frames}-frame windows from frame {settings.start} · "
             f"masks: {', '.join(settings.masks)}", "",
             "Configurations:", ""]
    lines += [f"- `{name}`: {c.description}" for name, c in configs.items()]
    lines += ["", "Metrics (model/evaluation/metrics.py): PSNR/SSIM/L1 over the hole and the full frame "
                  "(L1 in [0,1] units); "
                  "E_warp = |output_t - warp(output_t-1)| on hole pixels with consistent ground-truth flow (0-255); "
                  "E_warp GT = the same on the ground truth (the floor); E_warp cam. (GT) = E_warp (of the truth) "
                  "on the hole pixels whose truth moves with the camera (one homography, within 1 px), where a "
                  "background fill is right to move with the camera; flicker = temporal change of the fill minus "
                  "that of the ground truth at the same hole pixels (0-255, 0 = as stable as the real video); "
                  "detail = luminance gradient in the hole, output over ground truth (1 = as detailed, 0 = flat); "
                  "feat. dist = EfficientNet-Lite0 feature distance in the hole (model/evaluation/feature_distance.py"
                  "; 0 = the truth, lower is better, prefers sharp plausible texture to blur where PSNR prefers "
                  "blur). Means over clips; ms/frame is wall time on a shared CPU.", ""]
    keys = [k for k in METRIC_KEYS]
    for size in settings.sizes:
        lines += [f"## {size}", ""]
        header = "| mask | configuration | " + " | ".join(COLUMNS[k][0] for k in keys) + " |"
        lines += [header, "|" + "---|" * (len(keys) + 2)]
        for mask in settings.masks + ["all"]:
            for name in configs:
                m = next((x for x in means if x["size"] == size and x["mask"] == mask and x["config"] == name), None)
                if m is None:
                    continue
                label = f"**{mask}** ({m['clips']} clips)" if mask == "all" else mask
                lines.append(f"| {label} | {name} | " + " | ".join(_fmt(k, m[k]) for k in keys) + " |")
        lines += ["", f"### {size}: per clip, hole PSNR (dB) / detail / feat. dist / E_warp / E_warp cam.", ""]
        names = list(configs)
        lines += ["| clip | mask | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
        clip_masks = sorted({(r["clip"], r["mask"]) for r in rows if r["size"] == size},
                            key=lambda cm: (cm[0], settings.masks.index(cm[1])))
        for clip, mask in clip_masks:
            cells = []
            for name in names:
                r = next((x for x in rows if x["size"] == size and x["clip"] == clip and x["mask"] == mask
                          and x["config"] == name), None)
                cells.append("–" if r is None else " / ".join(_fmt(k, r.get(k)) for k in
                                                               ("psnr_hole", "detail", "feat_dist", "ewarp",
                                                                "ewarp_camera")))
            lines.append(f"| {clip} | {mask} | " + " | ".join(cells) + " |")
        lines.append("")
    if not all(m["known_exact"] for m in means):
        lines += ["**Warning:** some configuration changed pixels outside the hole (see known_exact in the JSON).", ""]
    if settings.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in dict.fromkeys(settings.notes)] + [""]
    return "\n".join(lines)


def _no_nan(value):
    """``value`` with every NaN float replaced by None (strict JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def code_version() -> str:
    """The repository's commit, with ``+changes`` when the working tree differs from it (read-only git calls)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_name() -> str:
    """A one-line description of the CPU this ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="*", help="clip folders (with frames/) or folders of clips")
    parser.add_argument("--out", default="eval_out", help="output folder (default: eval_out)")
    parser.add_argument("--size", action="append", dest="sizes",
                        help="WIDTHxHEIGHT or 'source'; repeat or comma-separate (default: 432x240)")
    parser.add_argument("--masks", default="fixed_rect,random_rect,strokes,objects",
                        help=f"comma-separated protocols from {', '.join(mask_generators.PROTOCOLS)}")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help="comma-separated configurations (see --list); learned rows need --weights; "
                             "'all' = every classical and learned row; NAME@N runs the row's frame fill "
                             "(Telea or the frame network) at N px long side, e.g. telea@480 to tune the working "
                             "size")
    parser.add_argument("--weights", help="folder of learned weights (*.safetensors) for the learned rows")
    parser.add_argument("--mask-pool", action="append", default=[],
                        help="more clip folders whose masks/ serve as object masks (default: the clips themselves)")
    parser.add_argument("--seed", type=int, default=0, help="mask seed (default: 0)")
    parser.add_argument("--max-frames", type=int, default=24, help="frames per clip window (default: 24)")
    parser.add_argument("--start", type=int, default=0, help="first frame of the window (default: 0)")
    parser.add_argument("--rect-fraction", type=float, default=0.5, help="side fraction of fixed_rect (default 0.5)")
    parser.add_argument("--sheet-clips", type=int, default=3, help="clips shown per contact sheet (default: 3)")
    parser.add_argument("--sheet-frames", type=int, default=2, help="frames per clip on a contact sheet (default: 2)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-feature-distance", dest="feature_distance", action="store_false",
                        help="skip the deep-feature distance (EfficientNet-Lite0, about 0.1 s per frame on one CPU "
                             "thread at 432x240); it is skipped with a note if its packages are not installed")
    parser.add_argument("--list", action="store_true", help="list the configurations and mask protocols, then exit")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--merge", nargs="+", metavar="DIR",
                        help="instead of running: join the eval.json of earlier runs (e.g. clips split over "
                             "processes, same settings) into one report in --out")
    return parser


def merge_reports(folders: list[Path], out: Path) -> str:
    """Join the ``eval.json`` of several runs into one report: runs over different clips with the same
    configurations (a long evaluation split across processes), or runs over the same clips with different
    configurations (new rows beside earlier ones). Sizes, masks, seed and windows must be the same.

    Writes ``eval.md`` and ``eval.json`` to ``out`` and copies the contact sheets (a sheet whose name is taken
    gets the folder's name as a suffix); returns the Markdown report. ValueError if the runs cannot be joined.
    """
    runs = []
    for folder in folders:
        path = Path(folder) / "eval.json"
        if not path.is_file():
            raise ValueError(f"--merge: {path} does not exist; give folders written by evaluate.py --out.")
        runs.append(json.loads(path.read_text()))
    first = runs[0]["settings"]
    same = ("sizes", "masks", "seed", "max_frames", "start", "rect_fraction")
    for folder, run in zip(folders[1:], runs[1:]):
        differ = [k for k in same if run["settings"][k] != first[k]]
        if differ:
            raise ValueError(f"--merge: {folder} was run with other settings ({', '.join(differ)}); "
                             "only runs with the same settings can be joined.")
    rows = [row for run in runs for row in run["rows"]]
    clip_sets = [run["settings"]["clips"] for run in runs]
    config_sets = [list(run["settings"]["configs"]) for run in runs]
    configs_seen: dict[str, str] = {}
    for run in runs:
        configs_seen.update(run["settings"]["configs"])
    if all(c == config_sets[0] for c in config_sets):  # the same rows over different clips
        clips = [c for group in clip_sets for c in group]
        if len(set(clips)) != len(clips):
            raise ValueError("--merge: a clip appears in more than one run; join runs over different clips.")
    elif all(sorted(c) == sorted(clip_sets[0]) for c in clip_sets):  # other rows over the same clips
        clips = list(clip_sets[0])
        if len(configs_seen) != sum(len(c) for c in config_sets):
            raise ValueError("--merge: runs over the same clips must have different configurations.")
    else:
        raise ValueError("--merge: join runs over different clips with the same configurations, or runs over "
                         "the same clips with different configurations.")
    first = {**first, "configs": configs_seen}
    notes = [n for run in runs for n in run["settings"].get("notes", [])]
    settings = Settings(first["sizes"], first["masks"], list(first["configs"]), first["seed"], first["max_frames"],
                        first["start"], first["rect_fraction"], first.get("sheet_clips", 3),
                        first.get("sheet_frames", 2), notes,
                        all(run["settings"].get("feature_distance", False) for run in runs))
    configs = {n: Config(n, d, lambda: None) for n, d in first["configs"].items()}
    machines = sorted({run["settings"]["machine"] for run in runs})
    means = summarise(rows)
    report = markdown(rows, means, settings, configs, " + ".join(machines) + f" (joined from {len(runs)} runs)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(report)
    (out / "eval.json").write_text(json.dumps(_no_nan({
        "settings": {**settings.__dict__, "clips": clips, "machine": " + ".join(machines),
                     "configs": first["configs"], "merged_from": [str(f) for f in folders]},
        "rows": rows, "means": means}), indent=1, allow_nan=False))
    for folder in folders:
        for sheet in sorted((Path(folder) / "sheets").glob("*.png")):
            target = out / "sheets" / sheet.name
            if target.exists():
                target = target.with_name(f"{sheet.stem}_{Path(folder).name}.png")
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(sheet.read_bytes())
    return report


def config_working_sizes(text: str) -> set[int]:
    """The working sizes N named by ``name@N`` entries of a ``--configs`` list (others are ignored)."""
    sizes = set()
    for name in (c.strip() for c in text.split(",")):
        _, at, size = name.partition("@")
        if at and size.isdigit() and int(size) > 0:
            sizes.add(int(size))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.merge:
        try:
            print(merge_reports([Path(f) for f in args.merge], Path(args.out)))
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {Path(args.out) / 'eval.md'} and {Path(args.out) / 'eval.json'}")
        return 0
    learned, notes = learned_configs(args.weights)
    available = {**CLASSICAL_CONFIGS, **learned}
    for working_size in sorted(config_working_sizes(args.configs)):
        more, _ = learned_configs(args.weights, working_size)
        available.update({**classical_configs(working_size), **more})
    if args.list:
        for name, config in available.items():
            print(f"{name:20s} {config.description}")
        for name in LEARNED_ROWS:
            if name not in available:
                print(f"{name:20s} (learned; needs --weights DIR with trained weights)")
        print("masks:", ", ".join(mask_generators.PROTOCOLS))
        for note in notes:
            print("note:", note)
        return 0
    if not args.clips:
        parser.error("give at least one clip folder or folder of clips (or --list).")
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [s.strip() for text in (args.sizes or ["432x240"]) for s in text.split(",") if s.strip()]
    masks = [m.strip() for m in args.masks.split(",") if m.strip()]
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    if wanted == ["all"]:
        wanted = list(available)
    try:
        for s in sizes:
            parse_size(s, "--size", source_ok=True, min_side=8)
        unknown = [m for m in masks if m not in mask_generators.PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown mask protocol(s) {unknown}; choose from {list(mask_generators.PROTOCOLS)}.")
        if args.max_frames < 2:
            raise ValueError(f"--max-frames must be at least 2 (temporal metrics need pairs), got {args.max_frames}.")
        configs = {}
        for name in wanted:
            if name in available:
                configs[name] = available[name]
            elif name in LEARNED_ROWS:
                notes.append(f"{name} skipped: not available (needs --weights and learned stages).")
            else:
                raise ValueError(f"unknown configuration {name!r}; choose from {list(available) + list(LEARNED_ROWS)}.")
        if not configs:
            raise ValueError("no configuration to run.")
        clips = find_clips(args.clips)
        pool = DonorPool(clips + (find_clips(args.mask_pool) if args.mask_pool else []))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = Settings(sizes, masks, list(configs), args.seed, args.max_frames, args.start, args.rect_fraction,
                        args.sheet_clips, args.sheet_frames, notes, args.feature_distance)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = evaluate(clips, pool, configs, settings, out, progress=not args.quiet)
    means = summarise(rows)
    machine = f"{machine_name()}, code {code_version()}"
    report = markdown(rows, means, settings, configs, machine)
    (out / "eval.md").write_text(report)
    (out / "eval.json").write_text(json.dumps(_no_nan({
        "settings": {**settings.__dict__, "clips": [c.name for c in clips], "machine": machine,
                     "configs": {n: c.description for n, c in configs.items()}},
        "rows": rows, "means": means}), indent=1, allow_nan=False))
    print(report)
    sheets = len(list((out / "sheets").glob("*.png")))
    print(f"wrote {out / 'eval.md'}, {out / 'eval.json'} and {sheets} contact sheets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
