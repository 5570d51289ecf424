"""Training data: real train clips and stills, random crops, hole masks and synthetic motion with known flow.

Sources (``root`` is ``../shared/data`` or a folder written by ``scripts/train.py pack-data``,
which has the same layout):

* ``root/train_clips/<name>/frames/*.jpg|png`` with ``masks/*.png`` (object masks, 255 = object);
* ``root/images/**/*.png``: natural stills.

``root/clips/`` is the validation set and is never read here.

Every sample is a pure function of ``(seed, step)``: :func:`step_rng` seeds one
``numpy.random.Generator`` per training step, so a resumed run draws exactly the batches an
uninterrupted run would have drawn.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from model.evaluation import mask_generators

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
LONG_SIDE = 432  # frames are held at the evaluation's 432x240 scale
STILL_LONG_SIDE = LONG_SIDE + LONG_SIDE // 4  # stills a little larger: crops are taken at random scales
HOLE_KINDS = ("fixed_rect", "random_rect", "strokes", "objects")


def step_rng(seed: int, step: int, stream: str = "") -> np.random.Generator:
    """The generator of training step ``step`` (and an optional ``stream`` name); stable across runs."""
    return np.random.default_rng([int(seed), int(step), zlib.crc32(stream.encode("utf-8"))])


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_rgb(path: Path, long_side: int) -> np.ndarray:
    """An image file -> ``[H,W,3]`` uint8 RGB with its long side at most ``long_side`` (area resize)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: could not read the image.")
    scale = long_side / max(image.shape[:2])
    if scale < 1.0:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A mask file -> ``[H,W]`` uint8 0/1 at ``size`` ``(W, H)`` (area resize, threshold 0.5)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{path}: could not read the mask.")
    if (mask.shape[1], mask.shape[0]) != size:
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    return (mask >= 128).astype(np.uint8)


@dataclass
class TrainClip:
    """A real clip: ``frames`` ``[T,H,W,3]`` uint8 RGB and its object ``masks`` ``[T,H,W]`` uint8 0/1."""

    name: str
    frames: np.ndarray
    masks: np.ndarray


@dataclass
class TrainingData:
    """The training set in memory: real clips (with object masks) and stills, at ``LONG_SIDE`` scale."""

    clips: list[TrainClip]
    stills: list[np.ndarray]

    @classmethod
    def load(cls, root: str | Path, long_side: int = LONG_SIDE, max_frames: int | None = None) -> "TrainingData":
        """Read ``root/train_clips`` and ``root/images`` (see the module docstring); ValueError if neither exists.

        ``max_frames`` caps the frames read per clip (tests use a few).
        """
        root = Path(root)
        clips = []
        for folder in sorted(p for p in (root / "train_clips").glob("*") if (p / "frames").is_dir()):
            files = _images(folder / "frames")[:max_frames]
            frames = np.stack([_read_rgb(p, long_side) for p in files])
            size = (frames.shape[2], frames.shape[1])
            mask_files = _images(folder / "masks")[:max_frames] if (folder / "masks").is_dir() else []
            if len(mask_files) != len(files):
                raise ValueError(f"{folder}: {len(files)} frames but {len(mask_files)} masks; every training "
                                 "clip needs one object mask per frame.")
            masks = np.stack([_read_mask(p, size) for p in mask_files])
            clips.append(TrainClip(folder.name, frames, masks))
        stills = [_read_rgb(p, long_side + long_side // 4) for p in _images(root / "images")]  # STILL_LONG_SIDE
        if not clips and not stills:
            raise ValueError(f"{root}: no training data (expected train_clips/<clip>/frames and images/); "
                             "give ../shared/data or a folder written by 'scripts/train.py pack-data'.")
        return cls(clips, stills)

    @property
    def object_masks(self) -> list[np.ndarray]:
        """Every clip's mask sequence ``[T,H,W]`` (0/1), the pool of object-shaped holes."""
        return [c.masks for c in self.clips]

    def random_image(self, rng: np.random.Generator, still_share: float = 0.3) -> np.ndarray:
        """A random training image ``[H,W,3]`` uint8: a still with probability ``still_share``, else a clip frame."""
        if self.stills and (not self.clips or rng.random() < still_share):
            return self.stills[int(rng.integers(len(self.stills)))]
        clip = self.clips[int(rng.integers(len(self.clips)))]
        return clip.frames[int(rng.integers(len(clip.frames)))]


# ------------------------------------------------------------------------------------- crops
def random_crop(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                scale_range: tuple[float, float] = (0.75, 1.25)) -> np.ndarray:
    """A ``size`` ``(h, w)`` crop of ``image`` ``[H,W,3]`` uint8 at a random scale, randomly mirrored.

    The image is first rescaled by a factor in ``scale_range`` (raised if needed so the crop fits).
    """
    h, w = size
    factor = max(rng.uniform(*scale_range), h / image.shape[0], w / image.shape[1])
    if abs(factor - 1.0) > 1e-3:
        new = (max(w, round(image.shape[1] * factor)), max(h, round(image.shape[0] * factor)))
        image = cv2.resize(image, new, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    top = int(rng.integers(0, image.shape[0] - h + 1))
    left = int(rng.integers(0, image.shape[1] - w + 1))
    crop = image[top:top + h, left:left + w]
    return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)


def colour_jitter(image: torch.Tensor, rng: np.random.Generator, amount: float = 0.1) -> torch.Tensor:
    """Random brightness, contrast, saturation and gamma on ``[3,H,W]`` in [0,1] -> same, clamped to [0,1]."""
    grey = image.mean(0, keepdim=True)
    image = grey + (image - grey) * (1.0 + rng.uniform(-2 * amount, 2 * amount))  # saturation
    mean = image.mean()
    image = mean + (image - mean) * (1.0 + rng.uniform(-amount, amount))  # contrast
    image = image * (1.0 + rng.uniform(-amount, amount))  # brightness
    return image.clamp(0.0, 1.0) ** float(np.exp(rng.uniform(-amount, amount)))  # gamma


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``[H,W,3]`` uint8 -> ``[3,H,W]`` float32 in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


# ------------------------------------------------------------------------------------- holes
def random_hole(num_frames: int, height: int, width: int, rng: np.random.Generator, kind: str,
                object_masks: list[np.ndarray], moving: bool = False) -> torch.Tensor:
    """Holes of one ``kind`` of :data:`HOLE_KINDS` -> ``[T,1,H,W]`` float32 0/1 (1 = missing).

    ``fixed_rect``: a centred rectangle of 0.3-0.6 of each side (the paper's 0.5 inside that
    range), jittered a little off centre. ``random_rect``: sides 0.1-0.5 of the frame's (the
    paper's 0.375-0.5 and smaller ones), moving or not. ``strokes``: the random walker with a
    random brush. ``objects``: a real object mask sequence of the train clips, shifted and
    scaled. Every kind is then grown by 0-6 pixels at random. ``moving`` makes rectangles drift.
    """
    if kind == "fixed_rect":
        frac_h, frac_w = rng.uniform(0.3, 0.6, size=2)
        rh, rw = max(1, round(frac_h * height)), max(1, round(frac_w * width))
        top = int(np.clip((height - rh) // 2 + rng.integers(-height // 16, height // 16 + 1), 0, height - rh))
        left = int(np.clip((width - rw) // 2 + rng.integers(-width // 16, width // 16 + 1), 0, width - rw))
        hole = torch.zeros(num_frames, 1, height, width)
        hole[:, :, top:top + rh, left:left + rw] = 1.0
    elif kind == "random_rect":
        hole = mask_generators.random_rectangle(num_frames, height, width, rng, "moving" if moving else "static",
                                                sides=(0.1, 0.5))
    elif kind == "strokes":
        hole = mask_generators.random_walker(num_frames, height, width, rng, walkers=int(rng.integers(1, 4)),
                                             length=int(rng.integers(20, 60)),
                                             brush=(0.02, float(rng.uniform(0.03, 0.07))))
    elif kind == "objects":
        hole = _object_hole(num_frames, height, width, rng, object_masks)
    else:
        raise ValueError(f"unknown hole kind {kind!r}; choose one of {list(HOLE_KINDS)}.")
    grow = int(rng.integers(0, 7))
    if grow:
        hole = torch.nn.functional.max_pool2d(hole, 2 * grow + 1, 1, grow)
    return hole


def _object_hole(num_frames: int, height: int, width: int, rng: np.random.Generator,
                 pool: list[np.ndarray]) -> torch.Tensor:
    """Object masks from ``pool`` cropped around a random window and resized; rectangle if the pool is empty."""
    if not pool:
        return mask_generators.random_rectangle(num_frames, height, width, rng, "static", sides=(0.2, 0.5))
    masks = pool[int(rng.integers(len(pool)))]
    donor = masks.astype(np.float32)
    # a random zoom into the donor: the object fills more or less of the frame
    zoom = rng.uniform(0.6, 1.0)
    dh, dw = max(2, round(donor.shape[1] * zoom)), max(2, round(donor.shape[2] * zoom))
    top = int(rng.integers(0, donor.shape[1] - dh + 1))
    left = int(rng.integers(0, donor.shape[2] - dw + 1))
    hole = mask_generators.object_masks(num_frames, height, width, donor[:, top:top + dh, left:left + dw], rng)
    if hole.sum() < 0.01 * hole.numel():  # the window missed the object: fall back to a rectangle
        return mask_generators.random_rectangle(num_frames, height, width, rng, "static", sides=(0.2, 0.5))
    return hole


# ------------------------------------------------------------------------------- frame stage
def frame_batch(data: TrainingData, rng: np.random.Generator, batch: int, size: tuple[int, int],
                kinds: tuple[str, ...] = HOLE_KINDS) -> dict[str, torch.Tensor]:
    """A batch for the frame network: ``{"frame": [B,3,h,w] in [0,1], "hole": [B,1,h,w] 0/1}``.

    ``frame`` is the clean crop (the target); the network sees it only outside ``hole``.
    Hole kinds are drawn uniformly from ``kinds``.
    """
    frames, holes = [], []
    for _ in range(batch):
        frames.append(colour_jitter(to_tensor(random_crop(data.random_image(rng), size, rng)), rng))
        kind = kinds[int(rng.integers(len(kinds)))]
        holes.append(random_hole(1, *size, rng, kind, data.object_masks)[0])
    return {"frame": torch.stack(frames), "hole": torch.stack(holes)}


# --------------------------------------------------------------------- synthetic motion (flow)
def _affine_path(num_frames: int, rng: np.random.Generator, speed: float, spin: float, zoom: float,
                 start: np.ndarray) -> list[np.ndarray]:
    """``num_frames`` 3x3 matrices of a smooth random similarity path (velocities drift slowly)."""
    matrices, position, angle, scale = [], start.astype(np.float64), 0.0, 1.0
    velocity = rng.normal(0.0, speed, size=2)
    turn, growth = rng.normal(0.0, spin), rng.normal(0.0, zoom)
    for _ in range(num_frames):
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        matrices.append(np.array([[c, -s, position[0]], [s, c, position[1]], [0.0, 0.0, 1.0]]))
        velocity = 0.8 * velocity + 0.2 * rng.normal(0.0, speed, size=2)
        position, angle, scale = position + velocity, angle + turn, scale * (1.0 + growth)
    return matrices


def _grid(height: int, width: int) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([xs, ys, np.ones_like(xs)], -1)  # [H,W,3] homogeneous pixel coordinates


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    mapped = points @ matrix.T
    return mapped[..., :2] / mapped[..., 2:3]


@dataclass
class SyntheticVideo:
    """Frames ``[T,H,W,3]`` uint8 and their true backward flow ``[T,2,H,W]`` float32 (``flow[0] = 0``)."""

    frames: np.ndarray
    flow: np.ndarray


def synthetic_video(data: TrainingData, rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                    max_pieces: int = 3) -> SyntheticVideo:
    """A video with known flow: a random camera path over a background image, with moving foreground pieces.

    The background (a still or a clip frame) is seen through a smooth random homography path
    (pan, small rotation and zoom, slight perspective); 1 to ``max_pieces`` pieces (a real object
    cut out of a train-clip frame by its mask) move on their own smooth similarity paths on top.
    ``flow[t]`` maps each pixel of frame t to its position in frame t-1 (the pack's convention);
    where a piece covers the pixel, the piece's motion is used.
    """
    h, w = size
    background = data.random_image(rng)
    bh, bw = background.shape[:2]
    # background: frame pixel p -> background pixel H_t p; start at a random window of the right size
    margin = 0.25
    fit = max(h / (bh * (1 - margin)), w / (bw * (1 - margin)), 1e-6)
    base = np.diag([1.0 / fit, 1.0 / fit, 1.0])
    start = np.array([rng.uniform(0, bw - w / fit), rng.uniform(0, bh - h / fit)])
    path = _affine_path(num_frames, rng, speed=rng.uniform(0.0, 6.0), spin=0.004, zoom=0.006, start=start)
    tilt = np.eye(3)
    tilt[2, :2] = rng.normal(0.0, 2e-5, size=2)
    cameras = [m @ base @ tilt for m in path]
    grid = _grid(h, w)
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    flow = np.zeros((num_frames, 2, h, w), np.float32)
    owner = np.full((num_frames, h, w), -1, np.int16)  # which piece covers each pixel (-1 = background)
    for t, camera in enumerate(cameras):
        frames[t] = cv2.warpPerspective(background, camera, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REFLECT)
        if t:
            previous = _apply(np.linalg.inv(cameras[t - 1]) @ camera, grid)
            flow[t] = (previous - grid[..., :2]).transpose(2, 0, 1)
    pieces = [_piece(data, rng, h, w, num_frames) for _ in range(int(rng.integers(1, max_pieces + 1)))]
    for index, (rgb, alpha, placements) in enumerate(p for p in pieces if p is not None):
        for t, place in enumerate(placements):
            warped = cv2.warpAffine(rgb, place[:2], (w, h), flags=cv2.INTER_LINEAR)
            cover = cv2.warpAffine(alpha, place[:2], (w, h), flags=cv2.INTER_NEAREST) > 0
            frames[t][cover] = warped[cover]
            owner[t][cover] = index
            if t:  # piece pixel p at frame t came from place_{t-1} place_t^{-1} p
                previous = _apply(placements[t - 1] @ np.linalg.inv(place), grid)
                flow[t][:, cover] = (previous - grid[..., :2]).transpose(2, 0, 1)[:, cover]
    return SyntheticVideo(frames, flow)


def _piece(data: TrainingData, rng: np.random.Generator, h: int, w: int, num_frames: int):
    """A foreground piece ``(rgb, alpha, placements)``: an object cut from a train clip, and its path."""
    if not data.clips:
        return None
    clip = data.clips[int(rng.integers(len(data.clips)))]
    index = int(rng.integers(len(clip.frames)))
    mask = clip.masks[index]
    ys, xs = np.nonzero(mask)
    if len(ys) < 64:
        return None
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = np.ascontiguousarray(clip.frames[index][top:bottom, left:right])
    alpha = np.ascontiguousarray(mask[top:bottom, left:right] * 255)
    target = rng.uniform(0.15, 0.45) * min(h, w)  # the piece's size in the frame
    scale = target / max(rgb.shape[:2])
    start = np.array([rng.uniform(-0.2 * w, 0.9 * w), rng.uniform(-0.2 * h, 0.9 * h)])
    path = _affine_path(num_frames, rng, speed=rng.uniform(0.5, 6.0), spin=0.02, zoom=0.01, start=start)
    placements = [m @ np.diag([scale, scale, 1.0]) for m in path]
    return rgb, alpha, placements


# -------------------------------------------------------------------------------- flow stage
def flow_batch(data: TrainingData, rng: np.random.Generator, batch: int, size: tuple[int, int],
               real_flows: list[np.ndarray] | None = None, real_share: float = 0.5) -> dict[str, torch.Tensor]:
    """A batch for the flow completion network.

    Returns ``{"flow": [B,2,h,w] true flow in pixels, "unknown": [B,1,h,w] 0/1}``: the union of
    the holes of two consecutive frames grown by 8 pixels, as Robust Flow marks it. Flows come
    from :func:`synthetic_video` (true flow) or, with probability ``real_share``, from
    ``real_flows`` (``[N,2,H,W]`` per clip: DIS on the clean train clips, see :func:`clip_flows`),
    randomly cropped and mirrored (the x component changes sign with the mirror).
    """
    flows, holes = [], []
    for _ in range(batch):
        if real_flows and rng.random() < real_share:
            flows.append(_crop_flow(real_flows[int(rng.integers(len(real_flows)))], size, rng))
        else:
            flows.append(torch.from_numpy(synthetic_video(data, rng, 2, size).flow[1]))
        kind = HOLE_KINDS[int(rng.integers(len(HOLE_KINDS)))]
        pair = random_hole(2, *size, rng, kind, data.object_masks, moving=True)
        union = torch.maximum(pair[0], pair[1])[None]
        holes.append(torch.nn.functional.max_pool2d(union, 17, 1, 8)[0])
    return {"flow": torch.stack(flows), "unknown": torch.stack(holes)}


def _crop_flow(flows: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    h, w = size
    flow = flows[int(rng.integers(len(flows)))].astype(np.float32)
    top = int(rng.integers(0, flow.shape[1] - h + 1))
    left = int(rng.integers(0, flow.shape[2] - w + 1))
    crop = torch.from_numpy(np.ascontiguousarray(flow[:, top:top + h, left:left + w]))
    if rng.random() < 0.5:
        crop = crop.flip(-1)
        crop[0] = -crop[0]
    return crop


def clip_flows(data: TrainingData, estimator) -> list[np.ndarray]:
    """Backward flow of every consecutive pair of every train clip -> per clip ``[T-1,2,H,W]`` float16.

    ``estimator``: ``(target [1,3,H,W], source [1,3,H,W]) -> [1,2,H,W]`` (e.g. DIS medium): a
    stand-in for the true flow of real footage, measured on the clean frames.
    """
    out = []
    for clip in data.clips:
        frames = [to_tensor(f)[None] for f in clip.frames]
        out.append(np.stack([estimator(frames[t], frames[t - 1])[0].numpy().astype(np.float16)
                             for t in range(1, len(frames))]))
    return out


# ------------------------------------------------------------------ recurrent stage (windows)
def clip_window(data: TrainingData, rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                estimator) -> SyntheticVideo | None:
    """``num_frames`` consecutive frames of a random train clip, one crop for all, and their flow.

    Frames are taken with a stride of 1 or 2, in either time order (the reverse-order pass of
    the paper is a window played backwards), rescaled by one random factor, cropped to ``size``
    ``(h, w)`` at one position and mirrored together. ``flow[t]`` is ``estimator(frame t,
    frame t-1)`` on the clean crops (e.g. DIS: a stand-in for the true flow of real footage);
    ``flow[0] = 0``. None when no clip has enough frames.
    """
    stride = int(rng.integers(1, 3))
    span = (num_frames - 1) * stride + 1
    clips = [c for c in data.clips if len(c.frames) >= span]
    if not clips:
        return None
    clip = clips[int(rng.integers(len(clips)))]
    start = int(rng.integers(0, len(clip.frames) - span + 1))
    indices = list(range(start, start + span, stride))
    if rng.random() < 0.5:
        indices.reverse()
    h, w = size
    full_h, full_w = clip.frames.shape[1:3]
    factor = max(rng.uniform(0.75, 1.25), h / full_h, w / full_w)
    new = (max(w, round(full_w * factor)), max(h, round(full_h * factor)))
    top = int(rng.integers(0, new[1] - h + 1))
    left = int(rng.integers(0, new[0] - w + 1))
    mirror = rng.random() < 0.5
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    for t, index in enumerate(indices):
        image = cv2.resize(clip.frames[index], new, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        crop = image[top:top + h, left:left + w]
        frames[t] = crop[:, ::-1] if mirror else crop
    tensors = [to_tensor(f)[None] for f in frames]
    flow = np.zeros((num_frames, 2, h, w), np.float32)
    for t in range(1, num_frames):
        flow[t] = estimator(tensors[t], tensors[t - 1])[0].cpu().numpy()
    return SyntheticVideo(frames, flow)


def video_window(data: TrainingData, rng: np.random.Generator, num_frames: int, size: tuple[int, int],
                 estimator, real_share: float = 0.5) -> SyntheticVideo:
    """A training window: a real clip window (:func:`clip_window`) with probability ``real_share``,
    else a :func:`synthetic_video` with true flow. Frames ``[T,h,w,3]`` uint8, flow ``[T,2,h,w]``."""
    if rng.random() < real_share:
        window = clip_window(data, rng, num_frames, size, estimator)
        if window is not None:
            return window
    return synthetic_video(data, rng, num_frames, size)
