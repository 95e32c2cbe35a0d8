"""``imgbatch bench`` (moving here from the benchmark module)."""

from __future__ import annotations

from ..benchmark import add_parser

__all__ = ["add_parser"]
