"""One rank of the 2-process run that ``tests/test_distributed.py`` launches with torchrun.

Joins a gloo process group, builds a ``Loader`` without ``rank`` or ``world_size`` (so they come
from ``torch.distributed``), iterates two epochs with each shard mode, resumes the first epoch
from a one-process state, and writes what this rank saw to ``OUT/rank<r>.json``. Every batch
ends with an ``all_reduce``: a rank with fewer batches than the others would leave them
waiting, and the run would time out instead of finishing.

Usage:
    python -m torch.distributed.run --nproc_per_node=2 tests/dist_worker.py LABELS OUT
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

import imgbatch


def run(labels: Path, mode: str) -> dict[str, Any]:
    """Two epochs of this rank's shard: sample ids (the labels) and batch counts per epoch."""
    loader = imgbatch.Loader(labels, batch_size=3, size=4, dtype="uint8", seed=1, shard_mode=mode)
    epochs = []
    for _ in range(2):
        ids: list[int] = []
        batches = 0
        for _images, batch_ids in loader:
            ids.extend(int(i) for i in batch_ids)
            batches += 1
            dist.all_reduce(torch.tensor([len(batch_ids)]))
        epochs.append({"ids": ids, "batches": batches, "len": len(loader)})
    return {"rank": loader.rank, "world_size": loader.world_size, "epochs": epochs}


def resume(labels: Path) -> list[int]:
    """The ids this rank serves of the rest of epoch 0 after a state taken by a single process
    after one batch (an elastic resume from 1 rank to the group's, detected from torch)."""
    options: dict[str, Any] = dict(batch_size=3, size=4, dtype="uint8", seed=1, shard_mode="drop")
    single = imgbatch.Loader(labels, rank=0, world_size=1, **options)
    run = iter(single)
    next(run)
    state = json.loads(json.dumps(single.state_dict()))
    run.close()  # type: ignore[attr-defined]
    resumed = imgbatch.Loader(labels, **options)
    resumed.load_state_dict(state)
    ids: list[int] = []
    for _images, batch_ids in resumed:
        ids.extend(int(i) for i in batch_ids)
        dist.all_reduce(torch.tensor([len(batch_ids)]))
    return ids


def main(argv: list[str]) -> int:
    labels, out = Path(argv[0]), Path(argv[1])
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    try:
        rank = dist.get_rank()
        record = {
            "rank": rank,
            "world_size": dist.get_world_size(),
            "modes": {mode: run(labels, mode) for mode in ("pad", "drop")},
            "resumed": resume(labels),
        }
        (out / f"rank{rank}.json").write_text(json.dumps(record), encoding="utf-8")
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
