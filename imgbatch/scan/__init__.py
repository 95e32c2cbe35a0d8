"""``imgbatch scan``: find every bad row of a label file before training, not hours into it.

Each row is checked in parallel by a pool of threads: the file is there, is a regular file, is not
empty, and decodes fully, both with cv2 (what the loader uses) and with Pillow as a second opinion
(libjpeg only warns about garbage inside a JPEG's compressed data, so cv2 hands back an image made
of it; Pillow refuses it). ``quick=True`` reads headers only. The report also lists duplicate
paths, class names that look like typos of other classes, the class histogram with an imbalance
warning, and image size statistics. :func:`write_clean` writes a copy of the label file without
the bad rows.

Modules: ``findings`` (a bad file, a duplicate, a typo, the sizes), ``report`` (the report and its
text), ``check`` (one file), ``rows`` (every row, in threads), ``labels`` (duplicates, histogram,
typos), ``clean`` (the clean copy). The command
``imgbatch scan`` is :mod:`imgbatch.cli.scan`.

Example:
    >>> report = scan("labels.csv")  # doctest: +SKIP
    >>> report.clean, len(report.problems)  # doctest: +SKIP
    (False, 3)
    >>> write_clean(report, "labels.clean.csv")  # doctest: +SKIP
    97
"""

from __future__ import annotations

from .clean import write_clean
from .findings import REASONS, Duplicate, LabelTypo, Problem, SizeStats
from .report import IMBALANCE_RATIO, ScanReport
from .rows import scan

__all__ = [
    "IMBALANCE_RATIO",
    "REASONS",
    "Duplicate",
    "LabelTypo",
    "Problem",
    "ScanReport",
    "SizeStats",
    "scan",
    "write_clean",
]
