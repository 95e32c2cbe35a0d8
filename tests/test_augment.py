"""Tests of training augmentation: ``RandomResizedCrop``, flips, ``ColorJitter``, the transform
hook and ``crop_fraction``, through the real pipeline (``Loader`` and ``load_image``).

Windows are read back from lossless images whose pixels encode their own coordinates; the
statistical checks compare with a reference written here (torchvision's algorithm on numpy's
generator), and each is shown to reject a deliberately wrong sampler, so that it has power.
Every image is made in ``tmp_path``; every pixel check has an explicit tolerance.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable, Generator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from imgbatch import (
    ColorJitter,
    ImgbatchError,
    Loader,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomVerticalFlip,
    load_image,
)
from imgbatch.augment import sample_rng, transform_rng
from imgbatch.order import epoch_order, shard

from .helpers import assert_image_similar, encode, gradient, solid, write

Window = tuple[int, int, int, int]  # top, left, height, width
Batches = list[tuple[np.ndarray, ...]]

SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)
ALPHA_0001 = 1.949  # c(alpha) of the two-sample Kolmogorov-Smirnov test at alpha = 0.001


# ---------------------------------------------------------------------------------------------
# Helpers: images that encode their coordinates, manifests, the reference sampler, statistics


def coordinate_image(height: int, width: int) -> np.ndarray:
    """Pixel (y, x) holds x in red, y in green (low 8 bits) and both high nibbles in blue, so
    any window of a lossless image up to 4096 pixels a side can be read back exactly."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.dstack([x & 255, y & 255, (x >> 8) | ((y >> 8) << 4)])
    out: np.ndarray = image.astype(np.uint8)
    return out


def coordinates(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, x)`` of each pixel of a (resized) crop of a :func:`coordinate_image`."""
    pixels = image.astype(np.int64)
    x = pixels[..., 0] | ((pixels[..., 2] & 15) << 8)
    y = pixels[..., 1] | ((pixels[..., 2] >> 4) << 8)
    return y, x


def read_window(image: np.ndarray) -> Window:
    """The window an output came from, read from its corners (nearest-neighbour enlargement
    keeps the window's first and last pixel in the output's first and last)."""
    y, x = coordinates(image)
    top, left = int(y[0, 0]), int(x[0, 0])
    return top, left, int(y[-1, 0]) - top + 1, int(x[0, -1]) - left + 1


def manifest(folder: Path, files: Sequence[str]) -> Path:
    """A labels.csv listing ``files`` (relative to ``folder``), the label of each row its row
    number, so each batch's labels say which rows it holds."""
    rows = "".join(f"{name},{row}\n" for row, name in enumerate(files))
    labels = folder / "labels.csv"
    labels.write_text("path,label\n" + rows, encoding="utf-8")
    return labels


def reference_window(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
    log_uniform: bool = True,
    attempts: int = 10,
) -> tuple[Window, bool]:
    """torchvision's ``RandomResizedCrop.get_params`` on numpy's generator: the window and
    whether it is the fallback. ``log_uniform=False`` and ``attempts`` make wrong samplers."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target_area = area * float(rng.uniform(scale[0], scale[1]))
        if log_uniform:
            aspect = math.exp(float(rng.uniform(log_ratio[0], log_ratio[1])))
        else:
            aspect = float(rng.uniform(ratio[0], ratio[1]))
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            i = int(rng.integers(0, height - h + 1))
            j = int(rng.integers(0, width - w + 1))
            return (i, j, h, w), False
    in_ratio = width / height
    if in_ratio < min(ratio):
        w = width
        h = round(w / min(ratio))
    elif in_ratio > max(ratio):
        h = height
        w = round(h * max(ratio))
    else:
        w, h = width, height
    return ((height - h) // 2, (width - w) // 2, h, w), True


def reference_windows(count: int, height: int, width: int, seed: int, **kw: Any) -> list[Window]:
    rng = np.random.default_rng(seed)
    return [reference_window(rng, height, width, **kw)[0] for _ in range(count)]


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs,
    evaluated at every observation (ties included)."""
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_critical(n: int, m: int) -> float:
    return ALPHA_0001 * math.sqrt((n + m) / (n * m))


def area_and_log_aspect(windows: Sequence[Window], height: int, width: int) -> np.ndarray:
    """Per window: the fraction of the image's area it covers, and log(width / height)."""
    w = np.array(windows, dtype=np.float64)
    return np.stack([w[:, 2] * w[:, 3] / (height * width), np.log(w[:, 3] / w[:, 2])])


def photo_like(height: int, width: int, seed: int = 0, blur: float = 1.25) -> np.ndarray:
    """A photograph stand-in: random phases under a 1/f amplitude spectrum (detail at every
    scale, as natural images have), softened by a lens-like Gaussian blur of ``blur`` pixels."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    planes = []
    for _ in range(3):
        spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius
        plane = np.fft.irfft2(spectrum, s=(height, width))
        planes.append(128 + 45 * (plane - plane.mean()) / plane.std())
    blurred = cv2.GaussianBlur(np.stack(planes, axis=-1).astype(np.float32), (0, 0), blur)
    image: np.ndarray = np.clip(blurred, 0, 255).astype(np.uint8)
    return image


@cache
def big_photo() -> np.ndarray:
    """1200 x 1600: windows of it get a 1/2 or 1/4 JPEG decode at 224 pixels.

    Blurred by 1.25 pixels: tests/test_decode.py's stand-in (1.0) has more fine detail than
    photographs, and on it the fused path's mean PSNR is 37.9-39.3 dB over 12 image and loader
    seeds (linear after a reduced decode aliases at shrinks near 2x); with 1.25 it is
    39.6-40.9 dB, while a window one pixel off still scores at most ~34 dB.
    """
    return photo_like(1200, 1600)


def imdecode(data: bytes, flags: int = cv2.IMREAD_COLOR_RGB) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert image is not None
    return np.asarray(image)


def psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    """PSNR in dB of images in [0, 1]."""
    mse = float(np.mean((actual.astype(np.float64) - expected.astype(np.float64)) ** 2))
    return 10 * math.log10(1.0 / mse) if mse else math.inf


def epoch(loader: Loader) -> Batches:
    """One ``for`` over the loader, every batch kept."""
    return [(images, labels) for images, labels in loader]


def assert_same_batches(actual: Batches, expected: Batches) -> None:
    assert len(actual) == len(expected)
    for k, ((xa, ya), (xe, ye)) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_array_equal(ya, ye, err_msg=f"labels of batch {k}")
        np.testing.assert_array_equal(xa, xe, err_msg=f"images of batch {k}")


def by_row(batches: Batches) -> dict[int, np.ndarray]:
    """Each manifest row's image (labels are row numbers); a row seen twice (a padded shard)
    must have come out the same both times."""
    images: dict[int, np.ndarray] = {}
    for x, y in batches:
        for image, row in zip(x, y.tolist(), strict=True):
            if row in images:
                np.testing.assert_array_equal(image, images[row], err_msg=f"row {row} twice")
            images[row] = image
    return images


# ---------------------------------------------------------------------------------------------
# 1. RandomResizedCrop's windows: torchvision's distribution, read back through the pipeline

CROP_H, CROP_W = 100, 150
CROP_SAMPLES = 3000  # windows drawn by imgbatch (rows of one manifest)
REFERENCE_SAMPLES = 20000  # windows drawn by the reference (cheap: no image)


def pipeline_windows(
    tmp_path: Path, height: int, width: int, count: int, crop: RandomResizedCrop, seed: int = 0
) -> list[Window]:
    """``count`` windows drawn by a Loader over one coordinate PNG listed ``count`` times, each
    read back from the output and checked against a nearest resize of that window."""
    image = coordinate_image(height, width)
    write(tmp_path / "coords.png", encode(image))
    loader = Loader(
        manifest(tmp_path, ["coords.png"] * count), batch_size=100, size=256, shuffle=False,
        seed=seed, augment=[crop], interpolation="nearest", dtype="uint8", workers=2,
    )  # fmt: skip
    windows = []
    for images, labels in loader:
        for out, row in zip(images, labels.tolist(), strict=True):
            top, left, h, w = window = read_window(out)
            assert top >= 0 and left >= 0 and top + h <= height and left + w <= width, window
            crop_pixels = image[top : top + h, left : left + w]
            expected = cv2.resize(crop_pixels, (256, 256), interpolation=cv2.INTER_NEAREST)
            np.testing.assert_array_equal(out, expected, err_msg=f"row {row}: window {window}")
            windows.append(window)
    assert len(windows) == count
    return windows


@pytest.fixture(scope="module")
def drawn_windows(tmp_path_factory: pytest.TempPathFactory) -> list[Window]:
    folder = tmp_path_factory.mktemp("windows")
    return pipeline_windows(folder, CROP_H, CROP_W, CROP_SAMPLES, RandomResizedCrop())


def test_window_read_back_is_the_documented_draw(drawn_windows: list[Window]) -> None:
    # The pipeline's window of row r is RandomResizedCrop.window(sample_rng(seed, epoch, r)):
    # what the fused-JPEG tests below take as their reference's window.
    crop = RandomResizedCrop()
    expected = [crop.window(sample_rng(0, 0, row), CROP_H, CROP_W) for row in range(CROP_SAMPLES)]
    assert drawn_windows == expected


def test_crop_area_and_aspect_follow_torchvision(drawn_windows: list[Window]) -> None:
    ours = area_and_log_aspect(drawn_windows, CROP_H, CROP_W)
    ref = area_and_log_aspect(
        reference_windows(REFERENCE_SAMPLES, CROP_H, CROP_W, seed=0), CROP_H, CROP_W
    )
    critical = ks_critical(CROP_SAMPLES, REFERENCE_SAMPLES)
    area, aspect = ks_statistic(ours[0], ref[0]), ks_statistic(ours[1], ref[1])
    assert area < critical, f"area fraction: KS {area:.4f} >= {critical:.4f}"
    assert aspect < critical, f"log aspect: KS {aspect:.4f} >= {critical:.4f}"


@pytest.mark.parametrize(
    ("wrong", "feature"),
    [({"log_uniform": False}, 1), ({"scale": (0.3, 1.0)}, 0)],
    ids=["aspect-uniform-not-log-uniform", "scale-0.3-1"],
)
def test_the_crop_statistics_reject_a_wrong_sampler(
    drawn_windows: list[Window], wrong: dict[str, Any], feature: int
) -> None:
    # The same check, with the reference replaced by a wrong sampler, must fail: it has power.
    ours = area_and_log_aspect(drawn_windows, CROP_H, CROP_W)
    bad = area_and_log_aspect(
        reference_windows(REFERENCE_SAMPLES, CROP_H, CROP_W, seed=1, **wrong), CROP_H, CROP_W
    )
    critical = ks_critical(CROP_SAMPLES, REFERENCE_SAMPLES)
    statistic = ks_statistic(ours[feature], bad[feature])
    assert statistic > critical, f"KS {statistic:.4f} <= {critical:.4f}: no power"


@pytest.mark.parametrize(("height", "width"), [(40, 400), (400, 40)])
def test_an_image_outside_the_ratio_range_falls_back_to_the_clamped_centre_crop(
    tmp_path: Path, height: int, width: int
) -> None:
    # No window of >= 95% of the area has an aspect in [3/4, 4/3] here: every draw falls back.
    crop = RandomResizedCrop(scale=(0.95, 1.0))
    windows = pipeline_windows(tmp_path, height, width, 200, crop)
    rng = np.random.default_rng(0)
    fallback = {reference_window(rng, height, width, scale=(0.95, 1.0)) for _ in range(200)}
    assert len(fallback) == 1
    (window, is_fallback), *_ = fallback
    assert is_fallback
    assert window == ((0, 173, 40, 53) if height < width else (173, 0, 53, 40))
    assert set(windows) == {window}


def test_the_fallback_is_as_frequent_as_torchvision_s(tmp_path: Path) -> None:
    # On 100 x 140 with scale (0.9, 1), an attempt succeeds only with an area near 90% and an
    # aspect near 4/3: about a quarter of samples find a window in 10 attempts, the rest fall
    # back to (0, 3, 100, 133). Compare the fallback's frequency (a two-proportion z-test at
    # 4.5 sigma), and the successful windows' area and aspect.
    height, width, n, m = 100, 140, 1000, REFERENCE_SAMPLES
    crop = RandomResizedCrop(scale=(0.9, 1.0))
    ours = pipeline_windows(tmp_path, height, width, n, crop)
    rng = np.random.default_rng(0)
    ref = [reference_window(rng, height, width, scale=(0.9, 1.0)) for _ in range(m)]
    centre = (0, 3, 100, 133)
    assert {w for w, fell in ref if fell} == {centre}

    def z(ours_rate: float, ref_rate: float) -> float:
        pooled = (ours_rate * n + ref_rate * m) / (n + m)
        return abs(ours_rate - ref_rate) / math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))

    ours_rate = sum(w == centre for w in ours) / n
    ref_rate = sum(w == centre for w, _ in ref) / m
    assert 0.5 < ref_rate < 0.95  # both branches are taken often
    assert z(ours_rate, ref_rate) < 4.5, (ours_rate, ref_rate)
    for _, _, h, w in ours:
        assert 0.9 * height * width * 0.98 <= h * w  # rounding of each side: < 2% of area
        assert 3 / 4 * 0.97 <= w / h <= 4 / 3 * 1.03
    # Power: one attempt instead of ten falls back far more often, and is rejected.
    rng = np.random.default_rng(1)
    one = [reference_window(rng, height, width, scale=(0.9, 1.0), attempts=1) for _ in range(m)]
    assert z(ours_rate, sum(w == centre for w, _ in one) / m) > 4.5


# ---------------------------------------------------------------------------------------------
# 2. The fused JPEG path: window from the header, reduced decode, against full decode + area


def area_reference(full: np.ndarray, window: Window, size: int) -> np.ndarray:
    """The window of a full-size decode, area-averaged to ``size`` in float: in [0, 1]."""
    top, left, h, w = window
    pixels = full[top : top + h, left : left + w].astype(np.float32)
    resized: np.ndarray = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)
    return resized / 255


def fused_psnrs(
    tmp_path: Path, data: bytes, full: np.ndarray, rows: int, seed: int, size: int = 224
) -> tuple[list[float], list[Window], np.ndarray]:
    """Per row: PSNR of the loader's output against :func:`area_reference` of the same window;
    the windows; the outputs."""
    write(tmp_path / "photo.jpg", data)
    loader = Loader(
        manifest(tmp_path, ["photo.jpg"] * rows), batch_size=rows, size=size, shuffle=False,
        seed=seed, augment=[RandomResizedCrop()], dtype="uint8", workers=2,
    )  # fmt: skip
    ((images, labels),) = epoch(loader)
    assert labels.tolist() == list(range(rows))
    crop = RandomResizedCrop()
    windows = [crop.window(sample_rng(seed, 0, row), *full.shape[:2]) for row in range(rows)]
    values = [
        psnr(images[row] / 255, area_reference(full, windows[row], size)) for row in range(rows)
    ]
    return values, windows, images


def test_fused_random_crop_matches_full_decode_crop_and_area_resize(tmp_path: Path) -> None:
    data = encode(big_photo(), "JPEG", quality=90)
    full = imdecode(data)
    assert full.shape == (1200, 1600, 3)
    values, windows, images = fused_psnrs(tmp_path, data, full, rows=24, seed=5)
    # Most windows are at least twice the output on both sides: a 1/2 or 1/4 decode.
    assert sum(min(h, w) >= 2 * 224 for _, _, h, w in windows) >= 12
    assert float(np.mean(values)) >= 38, [round(v, 2) for v in values]
    # Power: the same check against the window moved by one full-size pixel fails clearly
    # (measured ~33 dB): a half-block or rounding error in the fused geometry cannot pass.
    moved = [
        psnr(
            images[row] / 255,
            area_reference(full, (top + 1 if top + h < 1200 else top - 1, left, h, w), 224),
        )
        for row, (top, left, h, w) in enumerate(windows)
    ]
    assert float(np.mean(moved)) < 36, [round(v, 2) for v in moved]


def test_fused_random_crop_draws_in_the_exif_rotated_image(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 1200 x 1600, shown 1600 x 1200 (turned 90 degrees clockwise)
    data = encode(big_photo(), "JPEG", quality=90, exif=exif.tobytes())
    upright = imdecode(data)
    assert upright.shape == (1600, 1200, 3)  # cv2 applies the EXIF rotation
    values, windows, images = fused_psnrs(tmp_path, data, upright, rows=20, seed=6)
    assert float(np.mean(values)) >= 38, [round(v, 2) for v in values]
    # Power: the same window in the stored (unrotated) pixels is another part of the picture.
    stored = imdecode(data, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    assert stored.shape == (1200, 1600, 3)
    wrong = [
        psnr(images[row] / 255, area_reference(stored, windows[row], 224))
        for row in range(len(windows))
        if windows[row][0] + windows[row][2] <= 1200
    ]
    assert wrong
    assert max(wrong) < 30, [round(v, 2) for v in wrong]


# ---------------------------------------------------------------------------------------------
# 3. Flips: how often, and the image mirrored exactly

FLIP_SAMPLES = 2000
FLIP_TOLERANCE = 0.05  # 4.5 binomial sigma at p = 0.5 and n = 2000


def asymmetric() -> np.ndarray:
    """6 x 8 pixels all different: any mirror changes it."""
    values = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    return values


def flip_states(tmp_path: Path, augment: list[Any], seed: int = 0) -> list[tuple[bool, bool]]:
    """(mirrored left-right, mirrored top-bottom) of each of FLIP_SAMPLES rows."""
    image = asymmetric()
    write(tmp_path / "a.png", encode(image))
    loader = Loader(
        manifest(tmp_path, ["a.png"] * FLIP_SAMPLES), batch_size=500, size=(6, 8),
        shuffle=False, seed=seed, augment=augment, dtype="uint8", workers=2,
    )  # fmt: skip
    variants = {
        (h, v): image[:: -1 if v else 1, :: -1 if h else 1]
        for h in (False, True)
        for v in (False, True)
    }
    states = []
    for images, _ in loader:
        for out in images:
            found = [key for key, variant in variants.items() if np.array_equal(out, variant)]
            assert len(found) == 1, "the output is not a mirror of the image"
            states.append((bool(found[0][0]), bool(found[0][1])))
    return states


@pytest.mark.parametrize("p", [0.5, 0.2])
@pytest.mark.parametrize("flip", [RandomHorizontalFlip, RandomVerticalFlip])
def test_flip_frequency_is_p(tmp_path: Path, flip: type[Any], p: float) -> None:
    axis = 0 if flip is RandomHorizontalFlip else 1
    states = flip_states(tmp_path, [flip(p=p)])
    assert not any(state[1 - axis] for state in states)  # never the other mirror
    fraction = sum(state[axis] for state in states) / FLIP_SAMPLES
    assert abs(fraction - p) <= FLIP_TOLERANCE, fraction
    # Power: a sampler whose probability is off by 0.1 fails the same check.
    rows = range(FLIP_SAMPLES)
    wrong = sum(sample_rng(0, 0, row).random() < p + 0.1 for row in rows) / FLIP_SAMPLES
    assert abs(wrong - p) > FLIP_TOLERANCE, wrong


@pytest.mark.parametrize("flip", [RandomHorizontalFlip, RandomVerticalFlip])
def test_flip_p0_never_p1_always(tmp_path: Path, flip: type[Any]) -> None:
    axis = 0 if flip is RandomHorizontalFlip else 1
    assert not any(state[axis] for state in flip_states(tmp_path, [flip(p=0)]))
    assert all(state[axis] for state in flip_states(tmp_path, [flip(p=1)]))


def test_both_flips_are_drawn_independently(tmp_path: Path) -> None:
    states = flip_states(tmp_path, [RandomHorizontalFlip(), RandomVerticalFlip()], seed=3)
    for state in [(False, False), (False, True), (True, False), (True, True)]:
        assert abs(states.count(state) / FLIP_SAMPLES - 0.25) <= FLIP_TOLERANCE, state


# ---------------------------------------------------------------------------------------------
# 4. ColorJitter: the draws, each op against torchvision's formulas, and the argument checks


def test_jitter_draws_factors_in_range_and_orders_as_permutations() -> None:
    jitter = ColorJitter(brightness=0.4, contrast=0.5, saturation=(0.2, 1.7), hue=0.2)
    ranges = {"brightness": (0.6, 1.4), "contrast": (0.5, 1.5), "saturation": (0.2, 1.7)}
    ranges["hue"] = (-0.2, 0.2)
    draws = [jitter.draw(sample_rng(0, 0, row)) for row in range(5000)]
    for name, (low, high) in ranges.items():
        values = np.array([getattr(draw, name) for draw in draws], dtype=np.float64)
        assert values.min() >= low and values.max() <= high, name
        # The whole range is used (a sampler stuck near the centre fails): ends within 1%.
        assert values.min() < low + 0.01 * (high - low) and values.max() > high - 0.01 * (
            high - low
        ), name
    orders = {draw.order for draw in draws}
    assert all(sorted(order) == [0, 1, 2, 3] for order in orders)
    assert len(orders) == 24  # every order turns up
    # A large brightness is clamped at 0 from below, as torchvision's max(0, 1 - v).
    strong = [ColorJitter(brightness=2).draw(sample_rng(1, 0, r)).brightness for r in range(500)]
    assert min(v for v in strong if v is not None) >= 0
    assert max(v for v in strong if v is not None) <= 3


@pytest.mark.parametrize(
    ("options", "drawn"),
    [({"brightness": 0.3}, {"brightness"}), ({"contrast": 0.3}, {"contrast"}),
     ({"saturation": 0.3}, {"saturation"}), ({"hue": 0.3}, {"hue"}),
     ({"brightness": 0, "contrast": (1, 1), "saturation": 0.0, "hue": (0, 0)}, set())],
)  # fmt: skip
def test_a_zero_option_draws_none(options: dict[str, Any], drawn: set[str]) -> None:
    for row in range(20):
        draw = ColorJitter(**options).draw(sample_rng(0, 0, row))
        for name in ("brightness", "contrast", "saturation", "hue"):
            assert (getattr(draw, name) is not None) == (name in drawn), name


def jitter_only(tmp_path: Path, image: np.ndarray, **options: Any) -> np.ndarray:
    """``image`` through load_image with one ColorJitter whose ranges are single points."""
    path = write(tmp_path / "jitter.png", encode(image))
    return load_image(path, augment=[ColorJitter(**options)], dtype="uint8")


def gray_level(image: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale, in float."""
    weights = np.array([0.299, 0.587, 0.114])
    level: np.ndarray = image.astype(np.float64) @ weights
    return level


@pytest.mark.parametrize("factor", [0.0, 0.55, 1.3, 1.9])
def test_brightness_is_round_x_times_b_clipped(tmp_path: Path, factor: float) -> None:
    image = gradient(24, 32)
    out = jitter_only(tmp_path, image, brightness=(factor, factor))
    expected = np.clip(np.round(image * factor), 0, 255)
    assert np.abs(out - expected).max() <= 1


@pytest.mark.parametrize("factor", [0.0, 0.6, 1.4, 2.0])
def test_contrast_blends_with_the_mean_gray(tmp_path: Path, factor: float) -> None:
    image = gradient(24, 32)
    out = jitter_only(tmp_path, image, contrast=(factor, factor))
    mean = gray_level(image).mean()
    expected = np.clip(factor * image + (1 - factor) * mean, 0, 255)
    assert np.abs(out - expected).max() <= 2


@pytest.mark.parametrize("factor", [0.0, 0.6, 1.4, 2.0])
def test_saturation_blends_with_the_gray_image(tmp_path: Path, factor: float) -> None:
    image = gradient(24, 32)
    out = jitter_only(tmp_path, image, saturation=(factor, factor))
    expected = np.clip(factor * image + (1 - factor) * gray_level(image)[..., None], 0, 255)
    assert np.abs(out - expected).max() <= 2


def hsv(image: np.ndarray) -> np.ndarray:
    """Float HSV: H in degrees [0, 360), S and V in [0, 1]."""
    out: np.ndarray = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2HSV)
    return out


@pytest.mark.parametrize("factor", [-0.5, -0.3, 0.1, 0.25, 0.5])
def test_hue_turns_the_colour_circle_by_the_factor(tmp_path: Path, factor: float) -> None:
    image = gradient(48, 64)
    out = jitter_only(tmp_path, image, hue=(factor, factor))
    before, after = hsv(image), hsv(out)
    # Hue is only defined where the colour has chroma; compare where max - min >= 64 levels.
    chroma = image.max(axis=-1).astype(np.int64) - image.min(axis=-1)
    coloured = chroma >= 64
    assert coloured.mean() > 0.5
    turn = (after[..., 0] - before[..., 0] - 360 * factor + 180) % 360 - 180
    # Tolerance: the 8-bit full-circle hue steps by 360/256 = 1.41 degrees: rounding the image's
    # hue (0.7) and the shift (0.7) to it, then rounding R, G, B back to 8 bits (at chroma 64,
    # up to 60 degrees * 1 level / 64 = 0.94), add up to 2.34 degrees; 3 leaves some slack for
    # the 8-bit S and V. Measured: at most 2.8, mean at most 1.3. A wrong sign or a half-circle
    # scale would be off by 18 degrees or more.
    assert float(np.abs(turn[coloured]).max()) <= 3.0
    assert float(np.abs(turn[coloured]).mean()) <= 1.5
    np.testing.assert_allclose(after[..., 1:][coloured], before[..., 1:][coloured], atol=0.02)
    # Against a float reference (torchvision: shift H, back to RGB): mean within 1.5 levels.
    shifted = before.copy()
    shifted[..., 0] = (shifted[..., 0] + 360 * factor) % 360
    reference = cv2.cvtColor(shifted, cv2.COLOR_HSV2RGB) * 255
    assert_image_similar(out, reference, 1.5)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: RandomResizedCrop(scale=(0.5, 0.1)), ValueError,
         "scale must be (min, max) with 0 < min <= max <= 1, got (0.5, 0.1)"),
        (lambda: RandomResizedCrop(scale=(0.0, 1.0)), ValueError, "scale must be"),
        (lambda: RandomResizedCrop(scale=(0.5, 1.5)), ValueError, "scale must be"),
        (lambda: RandomResizedCrop(ratio=(2.0, 1.0)), ValueError, "ratio must be"),
        (lambda: RandomResizedCrop(ratio=(0.0, 1.0)), ValueError, "ratio must be"),
        (lambda: RandomHorizontalFlip(p=1.5), ValueError,
         "p must be a probability in [0, 1], got 1.5"),
        (lambda: RandomVerticalFlip(p=-0.1), ValueError, "got -0.1"),
        (lambda: RandomHorizontalFlip(p=True), ValueError, "got True"),
        (lambda: RandomHorizontalFlip(p="0.5"), ValueError, "got '0.5'"),  # type: ignore[arg-type]
        (lambda: ColorJitter(brightness=-0.1), ValueError, "brightness must be"),
        (lambda: ColorJitter(contrast=(1.5, 0.5)), ValueError, "contrast must be"),
        (lambda: ColorJitter(saturation=-1), ValueError, "saturation must be"),
        (lambda: ColorJitter(hue=0.6), ValueError, "hue must be a number in [0, 0.5]"),
        (lambda: ColorJitter(hue=(-0.6, 0.1)), ValueError, "hue must be"),
    ],
)  # fmt: skip
def test_augmentation_arguments_are_checked(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        make()
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"augment": [object()]}, TypeError, "augment[0] is <object object"),
        ({"augment": [RandomHorizontalFlip(), lambda im: im]}, TypeError, "augment[1]"),
        ({"augment": RandomHorizontalFlip()}, TypeError, "augment must be a list"),
        ({"augment": [RandomResizedCrop(), RandomResizedCrop()]}, ValueError,
         "one RandomResizedCrop, first"),
        ({"augment": [RandomHorizontalFlip(), RandomResizedCrop()]}, ValueError,
         "one RandomResizedCrop, first"),
        ({"augment": [RandomResizedCrop()], "fit": "crop"}, ValueError,
         "RandomResizedCrop replaces fit"),
        ({"augment": [RandomResizedCrop()], "fit": "pad"}, ValueError,
         "RandomResizedCrop replaces fit"),
        ({"crop_fraction": 0.875}, ValueError, 'crop_fraction goes with fit="crop"'),
        ({"crop_fraction": 0.875, "fit": "pad"}, ValueError, 'crop_fraction goes with fit="crop"'),
        ({"crop_fraction": 0, "fit": "crop"}, ValueError,
         "crop_fraction must be a number in (0, 1], got 0"),
        ({"crop_fraction": 1.5, "fit": "crop"}, ValueError, "got 1.5"),
        ({"crop_fraction": -0.5, "fit": "crop"}, ValueError, "got -0.5"),
        ({"crop_fraction": math.nan, "fit": "crop"}, ValueError, "got nan"),
        ({"crop_fraction": True, "fit": "crop"}, ValueError, "got True"),
        ({"transform": "not a function"}, TypeError, "transform must be a function"),
    ],
)  # fmt: skip
def test_loader_and_load_image_check_augment_and_crop_options(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    # Checked at construction, before any file is read (the label file does not exist).
    with pytest.raises(error) as info:
        Loader(tmp_path / "missing.csv", size=32, **options)
    assert message in str(info.value)
    with pytest.raises(error) as info:
        load_image(tmp_path / "missing.png", size=32, **options)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# 5. Reproducibility: per sample, whatever the workers, prefetch, ranks, resume or access

REPRO_ROWS = 25  # odd: with two ranks, "pad" repeats a sample and "drop" leaves one out
REPRO_BATCH = 4


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """25 rows over three images: a PNG, a small JPEG and a 600 x 800 JPEG whose windows get a
    reduced decode at 48 pixels."""
    write(tmp_path / "a.png", encode(gradient(40, 56)))
    write(tmp_path / "b.jpg", encode(gradient(30, 30, seed=1), "JPEG", quality=90))
    write(tmp_path / "c.jpg", encode(photo_like(600, 800, seed=2), "JPEG", quality=90))
    files = ["a.png", "b.jpg", "c.jpg"]
    return manifest(tmp_path, [files[row % 3] for row in range(REPRO_ROWS)])


def augmenting(labels: Path, **options: Any) -> Loader:
    options = {
        "batch_size": REPRO_BATCH, "size": 48, "shuffle": True, "seed": 11, "dtype": "uint8",
        "workers": 2,
        "augment": [RandomResizedCrop(), RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4, 0.1)],
        **options,
    }  # fmt: skip
    return Loader(labels, **options)


def test_workers_and_prefetch_do_not_change_the_augmented_batches(mixed: Path) -> None:
    expected = epoch(augmenting(mixed, workers=1, prefetch=0))
    for workers, prefetch in [(1, 4), (2, 0), (2, 4)]:
        assert_same_batches(epoch(augmenting(mixed, workers=workers, prefetch=prefetch)), expected)


@pytest.mark.parametrize("mode", ["drop", "pad"])
def test_each_rank_augments_a_row_as_a_single_process_does(mixed: Path, mode: str) -> None:
    single = by_row(epoch(augmenting(mixed)))
    assert sorted(single) == list(range(REPRO_ROWS))
    order = epoch_order(REPRO_ROWS, shuffle=True, seed=11, epoch=0)
    for rank in (0, 1):
        batches = epoch(augmenting(mixed, rank=rank, world_size=2, shard_mode=mode))
        rows = shard(order, rank=rank, world_size=2, mode=mode)
        served = np.concatenate([labels for _, labels in batches])
        np.testing.assert_array_equal(served, rows)
        for row, image in by_row(batches).items():
            np.testing.assert_array_equal(image, single[row], err_msg=f"rank {rank}, row {row}")


@pytest.mark.parametrize("taken", [1, 2, 3])
def test_resume_mid_epoch_yields_exactly_the_remaining_augmented_batches(
    mixed: Path, taken: int
) -> None:
    full = epoch(augmenting(mixed))
    first = augmenting(mixed)
    batches = iter(first)
    assert isinstance(batches, Generator)  # closing it joins the threads
    head = [next(batches) for _ in range(taken)]
    state = json.loads(json.dumps(first.state_dict()))  # it is plain JSON
    batches.close()
    assert (state["epoch"], state["batch"]) == (0, taken)
    assert_same_batches(head, full[:taken])
    resumed = augmenting(mixed)
    resumed.load_state_dict(state)
    assert_same_batches(epoch(resumed), full[taken:])


def test_epochs_and_seeds_draw_anew_and_random_access_agrees(mixed: Path) -> None:
    loader = augmenting(mixed)
    epochs = [epoch(loader), epoch(loader)]  # epoch 0, then epoch 1
    first, second = by_row(epochs[0]), by_row(epochs[1])
    other_seed = by_row(epoch(augmenting(mixed, seed=12)))
    for row in range(REPRO_ROWS):
        assert not np.array_equal(first[row], second[row]), f"row {row}: epoch 1 as epoch 0"
        assert not np.array_equal(first[row], other_seed[row]), f"row {row}: seed 12 as 11"
    for e, batches in enumerate(epochs):
        for k, expected in enumerate(batches):
            assert_same_batches([loader.batch(k, epoch=e)], [expected])


# ---------------------------------------------------------------------------------------------
# 6. The transform hook


HOOK_ROWS = 16


@pytest.fixture
def dark(tmp_path: Path) -> Path:
    """16 rows of one dark 8 x 8 PNG: adding up to 49 cannot overflow."""
    write(tmp_path / "dark.png", encode(solid(8, 8, (10, 20, 30))))
    return manifest(tmp_path, ["dark.png"] * HOOK_ROWS)


class AddNoise:
    """A hook adding one draw of its generator to the whole image, and recording its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, type]] = []
        self.lock = threading.Lock()

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        with self.lock:
            self.calls.append((threading.current_thread().name, type(rng)))
        out: np.ndarray = image + np.uint8(rng.integers(0, 50))
        return out


def hooked(labels: Path, hook: Callable[[np.ndarray, np.random.Generator], np.ndarray],
           **options: Any) -> Loader:  # fmt: skip
    options = {"batch_size": 4, "size": 8, "seed": 7, "dtype": "uint8", **options}
    return Loader(labels, transform=hook, **options)


def test_the_hook_runs_in_the_decode_threads_with_the_sample_s_generator(dark: Path) -> None:
    hook = AddNoise()
    batches = epoch(hooked(dark, hook, workers=2))
    assert len(hook.calls) == HOOK_ROWS
    assert all(name.startswith("imgbatch") for name, _ in hook.calls), hook.calls
    assert all(kind is np.random.Generator for _, kind in hook.calls)
    added = {row: int(image[0, 0, 0]) - 10 for row, image in by_row(batches).items()}
    expected = {row: int(transform_rng(7, 0, row).integers(0, 50)) for row in range(HOOK_ROWS)}
    assert added == expected
    assert len(set(added.values())) > 1  # rows of the same file get their own draws
    for row, image in by_row(batches).items():
        np.testing.assert_array_equal(image, solid(8, 8, (10, 20, 30)) + added[row])
    assert_same_batches(epoch(hooked(dark, AddNoise(), workers=1)), batches)
    # The hook's generator is apart from the augmentation's: a flip (that draws) changes nothing.
    flipping = hooked(dark, AddNoise(), workers=2, augment=[RandomHorizontalFlip(p=0)])
    assert_same_batches(epoch(flipping), batches)


def wrong_shape(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image[:4]


def wrong_dtype(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image.astype(np.float32)


def not_an_array(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image.tolist()  # type: ignore[no-any-return]


def raising(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    msg = "the hook's own bug"
    raise RuntimeError(msg)


@pytest.mark.parametrize(
    ("hook", "words"),
    [(wrong_shape, "(4, 8, 3) uint8"), (wrong_dtype, "(8, 8, 3) float32"),
     (not_an_array, "<class 'list'>"), (raising, "the hook's own bug")],
)  # fmt: skip
def test_a_bad_hook_is_an_error_naming_the_file(
    dark: Path, hook: Callable[[np.ndarray, np.random.Generator], np.ndarray], words: str
) -> None:
    path = str(dark.parent / "dark.png")
    with pytest.raises(ImgbatchError) as info:
        epoch(hooked(dark, hook, workers=2))
    message = str(info.value)
    assert path in message and "line" in message and words in message, message
    if hook is raising:
        assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(ImgbatchError, match=r"dark\.png"):
        load_image(path, size=8, transform=hook)


def add_five(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out: np.ndarray = image + np.uint8(5)
    return out


def test_repr_and_state_dict_show_the_augmentation(dark: Path) -> None:
    hook = add_five
    loader = hooked(dark, hook, augment=[RandomHorizontalFlip(p=0.5)])
    assert "augment=[RandomHorizontalFlip(p=0.5)], transform=add_five" in repr(loader)
    state = loader.state_dict()
    assert state["augment"] == ["RandomHorizontalFlip(p=0.5)"]
    assert state["transform"] == "add_five"
    hooked(dark, hook, augment=[RandomHorizontalFlip(p=0.5)]).load_state_dict(state)
    for other in ([RandomHorizontalFlip(p=0.3)], [RandomVerticalFlip(p=0.5)], None):
        with pytest.raises(ValueError, match="augment"):
            hooked(dark, hook, augment=other).load_state_dict(state)
    with pytest.raises(ValueError, match="transform"):
        hooked(dark, wrong_shape, augment=[RandomHorizontalFlip(p=0.5)]).load_state_dict(state)


def test_a_state_loads_into_a_loader_with_an_equal_callable_object_hook(dark: Path) -> None:
    saved, again = AddNoise(), AddNoise()  # both alive: never one address reused
    state = hooked(dark, saved).state_dict()
    hooked(dark, again).load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# 7. crop_fraction: the evaluation transform


def smooth(height: int, width: int) -> np.ndarray:
    """A smooth colour image: a pixel's misplacement shows, a filter's detail does not."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        128 + 100 * np.sin(x / 23 + y / 37),
        128 + 100 * np.cos(x / 31 - y / 19),
        255 * (x + 2 * y) / (width + 2 * height),
    ]
    image: np.ndarray = np.clip(np.stack(planes, axis=-1), 0, 255).round().astype(np.uint8)
    return image


@pytest.mark.parametrize(
    ("shape", "flag"),
    [((128, 192), cv2.INTER_LINEAR), ((192, 128), cv2.INTER_LINEAR),
     ((320, 480), cv2.INTER_AREA)],
    ids=["landscape-linear", "portrait-linear", "area"],
)  # fmt: skip
def test_crop_fraction_resizes_the_shorter_side_to_size_over_fraction_then_centre_crops(
    tmp_path: Path, shape: tuple[int, int], flag: int
) -> None:
    # Reference: the shorter side to 56 / 0.875 = 64, by the code's rule (linear up to a 3x
    # shrink, area beyond), then the centre 56 x 56. These shapes make every size and offset a
    # whole number of pixels in both orders of work (resize then crop, crop then resize) and
    # the shrink an integer, so the two sample the same points: 0.5 level covers the edges.
    image = smooth(*shape)
    path = write(tmp_path / "s.png", encode(image))
    out = load_image(path, size=56, fit="crop", crop_fraction=0.875, dtype="uint8")
    factor = 64 / min(shape)
    resized_h, resized_w = round(shape[0] * factor), round(shape[1] * factor)
    resized = cv2.resize(image, (resized_w, resized_h), interpolation=flag)
    top, left = (resized_h - 56) // 2, (resized_w - 56) // 2
    reference = resized[top : top + 56, left : left + 56]
    assert_image_similar(out, reference, 0.5)
    # Power: plain fit="crop" (the fraction ignored) is far from it.
    plain = load_image(path, size=56, fit="crop", dtype="uint8")
    diff = np.abs(plain.astype(np.float64) - reference).mean()
    assert diff > 5, diff


def exact_centre_crop(image: np.ndarray, size: int, fraction: float) -> np.ndarray:
    """The centre ``size`` of ``image`` with its shorter side scaled to ``size / fraction``,
    sampled bilinearly at the exact (fractional) positions: pixel k of the output covers
    source pixels [k / s, (k + 1) / s) from the exact centred origin."""
    height, width = image.shape[:2]
    s = size / fraction / min(height, width)
    y0, x0 = (height - size / s) / 2, (width - size / s) / 2
    inverse = np.array([[1 / s, 0, x0 + 0.5 / s - 0.5], [0, 1 / s, y0 + 0.5 / s - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out: np.ndarray = cv2.warpAffine(image.astype(np.float32), inverse, (size, size), flags=flags)
    return out


def test_crop_fraction_on_fractional_geometry_is_the_exact_centre_within_rounding(
    tmp_path: Path,
) -> None:
    # 120 x 160 to 56 at 0.875: scale 64/120, a 105-pixel crop whose origin (7.5, 27.5) the code
    # rounds to whole pixels (8, 28): half a source pixel, 0.27 of an output pixel. On this
    # image (at most ~8 levels per output pixel) that is at most ~2 levels, ~1 on average:
    # mean 2 levels allowed.
    image = smooth(120, 160)
    path = write(tmp_path / "s.png", encode(image))
    out = load_image(path, size=56, fit="crop", crop_fraction=0.875, dtype="uint8")
    assert_image_similar(out, exact_centre_crop(image, 56, 0.875), 2.0)
    plain = load_image(path, size=56, fit="crop", dtype="uint8")
    diff = np.abs(plain.astype(np.float64) - exact_centre_crop(image, 56, 0.875)).mean()
    assert diff > 5, diff


def test_crop_fraction_one_is_plain_crop(tmp_path: Path) -> None:
    for name, data in [
        ("s.png", encode(smooth(120, 160))),
        ("p.jpg", encode(photo_like(600, 800, seed=3), "JPEG", quality=90)),
    ]:
        path = write(tmp_path / name, data)
        plain = load_image(path, size=(56, 64), fit="crop", dtype="uint8")
        one = load_image(path, size=(56, 64), fit="crop", crop_fraction=1.0, dtype="uint8")
        np.testing.assert_array_equal(one, plain)


def test_crop_fraction_on_a_reduced_jpeg_matches_full_decode(tmp_path: Path) -> None:
    # 640 x 960 at 112 / 0.875 = 128: a 1/4 decode (160 x 240, not below 128), a 140-pixel
    # centre crop of it and a linear 1.25x shrink, against the full decode area-averaged to
    # 128 x 192 and cropped (the same geometry, in whole pixels of both).
    data = encode(photo_like(640, 960, seed=4), "JPEG", quality=90)
    path = write(tmp_path / "p.jpg", data)
    out = load_image(path, size=112, fit="crop", crop_fraction=0.875)
    full = imdecode(data).astype(np.float32)
    resized = cv2.resize(full, (192, 128), interpolation=cv2.INTER_AREA)
    reference = resized[8:120, 40:152] / 255
    assert psnr(out, reference) >= 38


def test_a_state_loads_into_a_loader_with_an_equal_partial_hook(dark: Path) -> None:
    def shift(image: np.ndarray, rng: np.random.Generator, by: int) -> np.ndarray:
        return image + np.uint8(by)

    saved, again = functools.partial(shift, by=1), functools.partial(shift, by=1)
    state = hooked(dark, saved).state_dict()
    assert "0x" not in str(state["transform"])
    hooked(dark, again).load_state_dict(state)
