"""Generate the small synthetic image dataset in ``sample_data/``.

Three classes of 32 images each, drawn from a fixed seed so that every run writes byte-identical
files:

- ``beach``: a blue sky over a sea band and sand-coloured ground, horizon at a random height;
- ``forest``: a green canopy of leaf blobs over dark vertical trunks;
- ``night``: a dark blue sky with white star dots, a moon and a dark ground silhouette.

Hues, horizon, positions and sizes are random, each image gets a few random small shapes and mild
noise, and widths and heights are each drawn from 160..800 px. Most files are JPEG (quality 85);
the edge cases a loader must handle are:

- ``forest/forest_005.png``: grayscale PNG (mode ``L``);
- ``beach/beach_007.png``: RGBA PNG with a non-trivial alpha channel;
- ``night/night_003.jpg``: JPEG with EXIF Orientation 6. Its pixels are stored rotated 90 degrees
  counter-clockwise, so a loader that applies EXIF (``PIL.ImageOps.exif_transpose``, or
  ``cv2.imread`` with its default flags) sees the upright scene, and one that ignores EXIF sees it
  lying on its side.

``labels.csv`` (header ``path,label``) lists every image by its path relative to the output folder.

``segmentation/`` is a small semantic segmentation set: 24 scenes of 64 x 64 pixels
(``images/``, JPEG) with their masks (``masks/``, palette PNGs whose indices are the class ids:
0 background, 1 circle, 2 square, 3 triangle; each shape class has its own hue, the background
is gray, all with noise) and ``segmentation/labels.csv`` (header ``image,mask,label``, the label
being the class of the largest shape).

Usage:
    python scripts/make_sample_data.py               # writes <repo>/sample_data/
    python scripts/make_sample_data.py --out /tmp/sd
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

Array = npt.NDArray[np.uint8]
Color = tuple[int, int, int]

SEED = 20240611
PER_CLASS = 32
MIN_SIDE, MAX_SIDE = 160, 800
JPEG_QUALITY = 85
NOISE_SIGMA = 2.0
GRAY_PNG = ("forest", 5)
RGBA_PNG = ("beach", 7)
EXIF_ROTATED = ("night", 3)
EXIF_ORIENTATION_TAG = 0x0112
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data"
SEG_SCENES, SEG_SIDE = 24, 64
SEG_CLASSES = ("background", "circle", "square", "triangle")
SEG_HUES: tuple[Color, ...] = ((128, 128, 128), (210, 60, 50), (60, 180, 70), (60, 90, 220))
# The palette of the masks: what a viewer shows (the loader reads the indices, never these).
SEG_PALETTE = [0, 0, 0, 220, 40, 40, 40, 200, 40, 40, 60, 230]


def _jitter(rng: np.random.Generator, base: Color, spread: int) -> Color:
    """Return ``base`` with each channel moved by up to ``spread``, clipped to 0..255."""
    moved = np.asarray(base) + rng.integers(-spread, spread + 1, size=3)
    r, g, b = (int(c) for c in np.clip(moved, 0, 255))
    return (r, g, b)


def _gradient(height: int, width: int, top: Color, bottom: Color) -> Array:
    """Return a (height, width, 3) vertical gradient from ``top`` to ``bottom``."""
    t = np.linspace(0.0, 1.0, max(height, 1), dtype=np.float32)[:, None]
    rows = (1.0 - t) * np.asarray(top, np.float32) + t * np.asarray(bottom, np.float32)
    return np.repeat(rows[:, None, :], width, axis=1).round().astype(np.uint8)


def _random_shapes(rng: np.random.Generator, img: Array, count: int) -> None:
    """Draw ``count`` small random circles and rectangles in random colours onto ``img``."""
    h, w = img.shape[:2]
    for _ in range(count):
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(3, max(4, min(h, w) // 14)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, color, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x - r, y - r // 2), (x + r, y + r // 2), color, -1)


def draw_beach(rng: np.random.Generator, h: int, w: int) -> Array:
    """Blue sky, a sea band and sand, with the horizon somewhere in the middle."""
    horizon = int(h * rng.uniform(0.3, 0.6))
    shore = horizon + int(h * rng.uniform(0.08, 0.2))
    img = np.empty((h, w, 3), np.uint8)
    img[:horizon] = _gradient(
        horizon, w, _jitter(rng, (70, 140, 230), 25), _jitter(rng, (170, 210, 245), 20)
    )
    img[horizon:shore] = _gradient(
        shore - horizon, w, _jitter(rng, (20, 90, 170), 25), _jitter(rng, (60, 160, 190), 25)
    )
    img[shore:] = _gradient(
        h - shore, w, _jitter(rng, (225, 200, 150), 20), _jitter(rng, (205, 175, 120), 20)
    )
    if rng.random() < 0.7:
        sun = (int(rng.integers(0, w)), int(rng.integers(0, max(1, horizon // 2))))
        cv2.circle(
            img, sun, int(min(h, w) * rng.uniform(0.04, 0.08)), (255, 245, 200), -1, cv2.LINE_AA
        )
    return img


def draw_forest(rng: np.random.Generator, h: int, w: int) -> Array:
    """A green canopy of overlapping leaf blobs over dark trunks and a dark ground."""
    ground = int(h * rng.uniform(0.7, 0.85))
    img = _gradient(h, w, _jitter(rng, (40, 90, 40), 20), _jitter(rng, (60, 70, 35), 15))
    img[ground:] = _gradient(
        h - ground, w, _jitter(rng, (70, 60, 35), 15), _jitter(rng, (45, 40, 25), 10)
    )
    canopy = int(h * rng.uniform(0.35, 0.55))
    for _ in range(int(rng.integers(6, 12))):
        x = int(rng.integers(0, w))
        half = int(w * rng.uniform(0.015, 0.04))
        trunk = _jitter(rng, (55, 38, 25), 12)
        cv2.rectangle(img, (x - half, canopy // 2), (x + half, ground), trunk, -1)
    for _ in range(int(rng.integers(25, 45))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, canopy)))
        radius = int(min(h, w) * rng.uniform(0.06, 0.16))
        cv2.circle(img, center, radius, _jitter(rng, (50, 130, 45), 30), -1, cv2.LINE_AA)
    return img


def draw_night(rng: np.random.Generator, h: int, w: int) -> Array:
    """A dark blue sky with star dots and a moon over a black ground silhouette."""
    horizon = int(h * rng.uniform(0.65, 0.9))
    img = _gradient(h, w, _jitter(rng, (8, 12, 40), 8), _jitter(rng, (25, 35, 85), 12))
    for _ in range(int(rng.integers(30, 90))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, horizon))
        shade = int(rng.integers(180, 256))
        cv2.circle(img, (x, y), int(rng.integers(1, 3)), (shade, shade, shade), -1, cv2.LINE_AA)
    moon = (int(rng.integers(w // 8, w - w // 8)), int(rng.integers(h // 10, horizon // 2 + 1)))
    radius = int(min(h, w) * rng.uniform(0.06, 0.12))
    cv2.circle(img, moon, radius, _jitter(rng, (240, 235, 200), 12), -1, cv2.LINE_AA)
    # Half the moons are crescents: a sky-coloured disc bites into them.
    if rng.random() < 0.5:
        bite = (moon[0] + radius // 2, moon[1] - radius // 4)
        cv2.circle(img, bite, radius, tuple(int(c) for c in img[0, 0]), -1, cv2.LINE_AA)
    ridge = [
        (int(x), horizon + int(rng.integers(-h // 12, h // 12 + 1))) for x in np.linspace(0, w, 6)
    ]
    hills = [(0, h), *ridge, (w, h)]
    cv2.fillPoly(img, [np.asarray(hills, np.int32)], _jitter(rng, (10, 12, 15), 6))
    return img


DRAWERS: dict[str, Callable[[np.random.Generator, int, int], Array]] = {
    "beach": draw_beach,
    "forest": draw_forest,
    "night": draw_night,
}


def make_image(rng: np.random.Generator, label: str, *, noise: bool = True) -> Array:
    """Draw one (height, width, 3) uint8 RGB scene of class ``label`` with shapes and noise."""
    h, w = (int(s) for s in rng.integers(MIN_SIDE, MAX_SIDE + 1, size=2))
    img = DRAWERS[label](rng, h, w)
    _random_shapes(rng, img, int(rng.integers(1, 5)))
    if not noise:
        return img
    return np.clip(img + rng.normal(0.0, NOISE_SIGMA, size=img.shape), 0, 255).astype(np.uint8)


def save(pixels: Array, path: Path, label: str, index: int) -> Path:
    """Save ``pixels`` under ``path`` (suffix chosen here) and return the written path."""
    if (label, index) == GRAY_PNG:
        path = path.with_suffix(".png")
        Image.fromarray(pixels).convert("L").save(path)
    elif (label, index) == RGBA_PNG:
        path = path.with_suffix(".png")
        h, w = pixels.shape[:2]
        # Opaque in the middle, fading towards the left and right edges.
        ramp = 1.0 - np.abs(np.linspace(-1.0, 1.0, w)) ** 4
        alpha = np.repeat((255 * ramp)[None, :], h, axis=0).round().astype(np.uint8)
        Image.fromarray(np.dstack([pixels, alpha]), mode="RGBA").save(path)
    elif (label, index) == EXIF_ROTATED:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = 6  # display = stored rotated 90 degrees clockwise
        stored = np.ascontiguousarray(np.rot90(pixels, k=1))  # k=1: counter-clockwise
        Image.fromarray(stored).save(path, quality=JPEG_QUALITY, exif=exif.tobytes())
    else:
        Image.fromarray(pixels).save(path, quality=JPEG_QUALITY)
    return path


def _seg_scene(rng: np.random.Generator) -> tuple[Array, Array, str]:
    """One 64 x 64 scene: the RGB image, the class-id mask, the class of the largest shape."""
    side = SEG_SIDE
    mask = np.zeros((side, side), np.uint8)
    areas = [0] * len(SEG_CLASSES)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(1, len(SEG_CLASSES)))
        x, y = (int(v) for v in rng.integers(12, side - 12, size=2))
        r = int(rng.integers(7, 16))
        shape = np.zeros_like(mask)
        if kind == 1:
            cv2.circle(shape, (x, y), r, 1, -1)
        elif kind == 2:
            cv2.rectangle(shape, (x - r, y - r), (x + r, y + r), 1, -1)
        else:
            corners = np.array([(x, y - r), (x - r, y + r), (x + r, y + r)], np.int32)
            cv2.fillPoly(shape, [corners], 1)
        mask[shape == 1] = kind
        areas[kind] += int(shape.sum())
    colours = np.array([_jitter(rng, hue, 25) for hue in SEG_HUES], np.float64)
    image = colours[mask] + rng.normal(0.0, 12.0, size=(side, side, 3))
    label = SEG_CLASSES[int(np.argmax(areas[1:])) + 1]
    return np.clip(image, 0, 255).astype(np.uint8), mask, label


def generate_segmentation(out: Path, *, seed: int = SEED) -> list[tuple[str, str, str]]:
    """Write the segmentation set into ``out`` (replaced as a whole); its (image, mask, label)
    rows."""
    rng = np.random.default_rng([seed, 1])
    shutil.rmtree(out, ignore_errors=True)
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    rows = []
    for index in range(SEG_SCENES):
        image, mask, label = _seg_scene(rng)
        name = f"scene_{index:03d}"
        Image.fromarray(image).save(out / "images" / f"{name}.jpg", quality=90)
        palette = Image.fromarray(mask, mode="P")
        palette.putpalette(SEG_PALETTE)
        palette.save(out / "masks" / f"{name}.png")
        rows.append((f"images/{name}.jpg", f"masks/{name}.png", label))
    with (out / "labels.csv").open("w", encoding="utf-8", newline="\n") as f:
        f.write("image,mask,label\n")
        f.writelines(",".join(row) + "\n" for row in rows)
    return rows


def generate(out: Path, *, seed: int = SEED, per_class: int = PER_CLASS) -> list[tuple[str, str]]:
    """Write the dataset into ``out`` and return its (relative path, label) rows.

    Only the class folders and ``labels.csv`` are replaced; nothing else in ``out`` is touched.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str]] = []
    for label in sorted(DRAWERS):
        # Start the class folder afresh so that files from an older layout cannot linger.
        shutil.rmtree(out / label, ignore_errors=True)
        (out / label).mkdir(parents=True)
        for index in range(per_class):
            # Noise would only bloat the lossless PNGs.
            pixels = make_image(rng, label, noise=(label, index) not in (GRAY_PNG, RGBA_PNG))
            path = save(pixels, out / label / f"{label}_{index:03d}.jpg", label, index)
            rows.append((path.relative_to(out).as_posix(), label))
    with (out / "labels.csv").open("w", encoding="utf-8", newline="\n") as f:
        f.write("path,label\n")
        f.writelines(f"{path},{label}\n" for path, label in rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the dataset and print a one-line summary."""
    parser = argparse.ArgumentParser(description="Generate the synthetic sample_data/ set.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    rows = generate(args.out, seed=args.seed)
    total = sum((args.out / path).stat().st_size for path, _ in rows)
    print(f"wrote {len(rows)} images in {len(DRAWERS)} classes to {args.out}: {total / 1e6:.2f} MB")
    seg = generate_segmentation(args.out / "segmentation", seed=args.seed)
    print(f"wrote {len(seg)} segmentation scenes with masks to {args.out / 'segmentation'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
