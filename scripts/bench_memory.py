"""Peak memory of eager loading against the lazy loader, by dataset size.

The same benchmark as the installed ``imgbatch bench memory`` command (its code is the
``imgbatch.bench`` package, its options ``imgbatch/cli/bench.py``); this wrapper runs it from a
checkout and first prints the machine. Each figure comes from a fresh process; with
``--repeats 3`` the table holds medians.

Usage:
    python scripts/bench_memory.py sample_data/labels.csv           # 500 ... 8,000 rows, 224 px
    python scripts/bench_memory.py sample_data/labels.csv --quick   # 200, 400, 800 rows, 128 px
    python scripts/bench_memory.py sample_data/labels.csv --repeats 3 --csv m.csv --plot m.png
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _bench import describe_machine, machine_info

from imgbatch.cli import main as imgbatch_main


def main(argv: Sequence[str] | None = None) -> int:
    """``bench_memory.py LABELS [options]``: ``imgbatch bench memory LABELS [options]``."""
    return imgbatch_main(["bench", "memory", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    print(f"machine: {describe_machine(machine_info())}")
    sys.exit(main())
