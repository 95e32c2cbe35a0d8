"""Shared test helpers: tiny images made on the spot, and pixel comparisons with a tolerance."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


def solid(height: int, width: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 image of one colour: a channel-order bug cannot hide in it."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = rgb
    return image


def gradient(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth (H, W, 3) uint8 image with some structure, and distinct channels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 3)
    channels = [
        127.5 + 120 * np.sin(x / (7 + 3 * c) + y / (11 + 2 * c) + phase[c]) for c in range(3)
    ]
    image: np.ndarray = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    return image


def encode(image: np.ndarray | Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """Encode an array (RGB, or gray when 2-D) or a Pillow image with Pillow."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    pil.save(buffer, fmt, **options)
    return buffer.getvalue()


def write(path: str | os.PathLike[str], data: bytes) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def assert_image_similar(actual: np.ndarray, expected: np.ndarray, epsilon: float) -> None:
    """Fail unless the arrays have the same shape and mean absolute difference <= ``epsilon``.

    The failure message gives the measured difference (mean and max), like Pillow's helper.
    """
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    mean = float(diff.mean()) if diff.size else 0.0
    assert mean <= epsilon, (
        f"mean absolute difference {mean:.4f} > {epsilon} (max {float(diff.max()):.4f})"
    )


def require(module: str) -> Any:
    """Import an optional framework or skip; fail instead where IMGBATCH_REQUIRE_EXTRAS names it."""
    required = {m.strip() for m in os.environ.get("IMGBATCH_REQUIRE_EXTRAS", "").split(",")}
    if module in required:
        import importlib

        return importlib.import_module(module)
    return pytest.importorskip(module)


def make_dataset(
    root: Path, classes: dict[str, tuple[int, int, int]], per_class: int, size: tuple[int, int]
) -> Path:
    """Class folders of solid-colour PNGs plus a labels.csv; returns the labels.csv path."""
    rows = ["path,label"]
    for name, rgb in classes.items():
        for k in range(per_class):
            rel = f"{name}/{name}_{k:03d}.png"
            write(root / rel, encode(solid(*size, rgb)))
            rows.append(f"{rel},{name}")
    labels = root / "labels.csv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def assert_same_batches(got: Iterable[Any], want: Iterable[Any]) -> None:
    """Two loaders' epochs are equal batch for batch, array for array (exactly)."""
    first = [tuple(np.copy(a) for a in batch) for batch in got]
    second = [tuple(np.copy(a) for a in batch) for batch in want]
    assert len(first) == len(second) > 1, (len(first), len(second))
    for k, (a, b) in enumerate(zip(first, second, strict=True)):
        assert len(a) == len(b), f"batch {k}: {len(a)} vs {len(b)} arrays"
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"batch {k}")
