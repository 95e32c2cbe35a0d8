"""``python -m imgbatch``: the same as the ``imgbatch`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
