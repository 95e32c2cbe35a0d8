"""The last stage: a uint8 image into its slot of the batch array (dtype, scale, mean/std, layout).

The options are checked by :class:`imgbatch.options.ImageOptions`; a :class:`Writer` only
precomputes the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DTYPES", "LAYOUTS", "Writer"]

LAYOUTS = ("hwc", "chw")
DTYPES = ("float32", "float16", "uint8")


@dataclass(frozen=True)
class Writer:
    """How a decoded uint8 image is written into its slot: layout, dtype, scaling, mean/std.

    Args:
        channels: 3 for colour, 1 for gray.
        layout: ``"hwc"`` or ``"chw"``.
        dtype: ``"float32"`` or ``"float16"`` (scaled to [0, 1]) or ``"uint8"`` (unscaled).
        mean: one value per channel (subtracted after scaling), or None.
        std: one positive value per channel (divided by after subtracting the mean), or None.

    Example:
        >>> w = Writer(3)
        >>> out = w.empty(1, (2, 2))[0]
        >>> w.write(np.full((2, 2, 3), 255, np.uint8), out)
        >>> float(out.max())
        1.0
    """

    channels: int
    layout: str = "hwc"
    dtype: str = "float32"
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    _scale: Any = field(init=False, repr=False)
    _offset: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mean, std = self.mean, self.std
        # (x / 255 - mean) / std  ==  x * scale - offset: one multiply into the slot, one subtract.
        scale = np.float32(1 / 255) if std is None else (1 / (255 * std)).astype(np.float32)
        offset = None if mean is None else (mean / (1 if std is None else std)).astype(np.float32)
        if self.layout == "chw":
            scale = scale.reshape(-1, 1, 1) if np.ndim(scale) else scale
            offset = offset.reshape(-1, 1, 1) if offset is not None else None
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_offset", offset)

    def shape(self, size: tuple[int, int]) -> tuple[int, int, int]:
        """One image's shape at ``size`` (height, width) in this layout."""
        height, width = size
        if self.layout == "chw":
            return self.channels, height, width
        return height, width, self.channels

    def empty(self, n: int, size: tuple[int, int]) -> np.ndarray:
        """A fresh batch array for ``n`` images."""
        return np.empty((n, *self.shape(size)), dtype=self.dtype)

    def write(self, image: np.ndarray, out: np.ndarray) -> None:
        """Write one (H, W, C) uint8 image into ``out``: converted, scaled, mean-subtracted."""
        src = image.transpose(2, 0, 1) if self.layout == "chw" else image
        if self.dtype == "uint8":
            np.copyto(out, src)
            return
        # One multiply from uint8 straight into the slot (numpy converts through a small
        # buffer), so the slot, in a fresh batch array and not in cache, is written once.
        # Converting first and then scaling in place is quicker into a cached slot but about
        # 30 us per 224x224 image slower into a fresh batch (interleaved rounds; see
        # docs/performance.md).
        np.multiply(src, self._scale, out=out, casting="same_kind")
        if self._offset is not None:
            out -= self._offset
