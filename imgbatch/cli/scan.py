"""``imgbatch scan`` (moving here from the scan package)."""

from __future__ import annotations

from ..scan import add_parser

__all__ = ["add_parser"]
