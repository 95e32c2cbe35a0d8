"""``python -m imgbatch.bench MODE CONFIG_JSON ROWS``: one measuring child (see ``child``)."""

from __future__ import annotations

import sys

from .child import main

if __name__ == "__main__":
    sys.exit(main())
