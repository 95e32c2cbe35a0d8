"""A batch's tuple: the images, their rows' labels and, with ``with_index``, the rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._util import Batch
from ..manifest import Manifest

__all__ = ["assemble"]


def assemble(
    manifest: Manifest, images: np.ndarray, indices: Sequence[int], *, with_index: bool,
    masks: np.ndarray | None = None,
) -> Batch:  # fmt: skip
    """``(images, labels)``, or ``(images, labels, rows)`` with ``with_index``: ``rows`` the
    ``int64`` manifest row of each image (``manifest.paths[rows]`` names the files). With
    ``masks`` (a mask column), the masks take the labels' place: ``(images, masks[, rows])``.

    Labels are built here, fresh for each batch: a multi-label manifest's multi-hot rows, a
    multi-target manifest's ``(B, k)`` targets, else one value per image.

    Example:
        >>> m = Manifest(["a.jpg", "b.jpg"], [3, 5])
        >>> _, labels, rows = assemble(m, np.zeros((1, 2, 2, 3)), [1], with_index=True)
        >>> labels.tolist(), rows.tolist()
        ([5], [1])
    """
    rows = np.asarray(indices, dtype=np.int64).reshape(-1)
    labels = manifest.label_rows(rows) if masks is None else masks
    return (images, labels, rows) if with_index else (images, labels)
