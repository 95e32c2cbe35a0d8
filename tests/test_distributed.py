"""Distributed sharding under torchrun: 2 CPU processes, gloo, rank and world size from torch.

The worker (``tests/dist_worker.py``) records each rank's samples per epoch; here we check that
the ranks' shares are disjoint, cover the dataset, and have equal batch counts (so collectives
never hang), for a dataset size that divides neither by the world size nor by the batch size.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imgbatch.order import epoch_order
from tests.helpers import encode, require, solid, write

N = 13  # odd, and not a multiple of the worker's batch size (3)
WORKER = Path(__file__).resolve().parent / "dist_worker.py"
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def make_dataset(root: Path) -> Path:
    """``N`` tiny images whose label is their id: a batch's labels name its samples."""
    rows = []
    for k in range(N):
        rel = f"img/{k:02d}.png"
        write(root / rel, encode(solid(4, 4, (k, 0, 0))))
        rows.append(f"{rel} {k}")
    labels = root / "list.txt"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def torchrun(labels: Path, out: Path) -> None:
    """Run the worker on 2 local processes; fail with its output if it fails or hangs."""
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes=1", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}",
        str(WORKER), str(labels), str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only
    posix = os.name == "posix"
    # A session of its own, so that a timeout kills the workers too, not only torchrun.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=posix,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        output, _ = process.communicate()
        pytest.fail(f"torchrun did not finish in {TIMEOUT} s (a rank hung?):\n{output[-4000:]}")
    assert process.returncode == 0, f"torchrun failed ({process.returncode}):\n{output[-4000:]}"


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_torchrun_two_ranks_share_each_epoch(tmp_path: Path) -> None:
    require("torch")
    out = tmp_path / "out"
    out.mkdir()
    torchrun(make_dataset(tmp_path / "data"), out)

    records = [json.loads((out / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    for rank, record in enumerate(records):
        assert (record["rank"], record["world_size"]) == (rank, 2)
        for mode in ("pad", "drop"):  # taken from torch.distributed, not passed
            assert (record["modes"][mode]["rank"], record["modes"][mode]["world_size"]) == (rank, 2)

    for mode, per_rank in (("pad", -(-N // 2)), ("drop", N // 2)):
        runs: list[dict[str, Any]] = [record["modes"][mode] for record in records]
        for epoch in (0, 1):
            ids = [run["epochs"][epoch]["ids"] for run in runs]
            shares = [set(i) for i in ids]
            assert [len(i) for i in ids] == [per_rank, per_rank]
            assert not shares[0] & shares[1], f"{mode}: ranks share samples in epoch {epoch}"
            if mode == "pad":
                assert shares[0] | shares[1] == set(range(N))
                # The shorter share repeats one of its own samples.
                assert sorted(len(s) for s in shares) == [N // 2, N - N // 2]
            else:
                assert len(shares[0] | shares[1]) == N - 1
            batches = [run["epochs"][epoch]["batches"] for run in runs]
            assert batches[0] == batches[1] == runs[0]["epochs"][epoch]["len"]
        for run in runs:
            assert run["epochs"][0]["ids"] != run["epochs"][1]["ids"], f"{mode}: not reshuffled"
    # A state of one process after a batch of 3: the ranks found from torch share the rest.
    rest = [record["resumed"] for record in records]
    order = epoch_order(N, shuffle=True, seed=1, epoch=0).tolist()
    assert [len(ids) for ids in rest] == [(N - 3) // 2] * 2
    assert sorted(rest[0] + rest[1]) == sorted(order[3:])
