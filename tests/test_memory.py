"""Forked worker processes read the manifest's paths without copying it (pytorch/pytorch#13246).

A ``list`` of 200,000 ``str`` is shared copy-on-write with forked children until they read it:
each read writes the string's reference count, so the page holding it is copied, and every
child ends up with a private copy of the whole list. A ``Manifest`` keeps its paths in one
bytes buffer plus an offsets array, whose pages reading never writes: the children's private
memory stays flat. The parent measures each child through ``/proc/<pid>/smaps_rollup``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from imgbatch import Manifest, read_manifest

ROWS = 200_000
LIMIT_MB = 10.0

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs os.fork and /proc/<pid>/smaps_rollup"
)


def private_mb(pid: int) -> float:
    """Private (not shared with any other process) resident memory of ``pid``, in MB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            lines = f.readlines()
    except FileNotFoundError:  # Linux < 4.14: sum the per-mapping lines
        with open(f"/proc/{pid}/smaps", encoding="ascii") as f:
            lines = f.readlines()
    private = ("Private_Clean:", "Private_Dirty:")
    kb = sum(int(line.split()[1]) for line in lines if line.startswith(private))
    return kb / 1024


def fork_and_measure(work: Callable[[], object], children: int = 2) -> list[float]:
    """Fork ``children`` processes that each run ``work()``; their private memory growth (MB).

    Each child waits after the fork and after its work, so that the parent can read its
    ``smaps_rollup`` at both points.
    """
    procs = []
    for _ in range(children):
        to_parent_r, to_parent_w = os.pipe()
        to_child_r, to_child_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            status = 1
            try:
                os.close(to_parent_r)
                os.close(to_child_w)
                os.write(to_parent_w, b"r")  # forked: measure me
                os.read(to_child_r, 1)
                work()
                os.write(to_parent_w, b"d")  # done: measure me again
                os.read(to_child_r, 1)
                status = 0
            finally:
                os._exit(status)
        os.close(to_parent_w)
        os.close(to_child_r)
        procs.append((pid, to_parent_r, to_child_w))
    growth = []
    finished = False
    try:
        before = []
        for pid, from_child, _ in procs:
            assert os.read(from_child, 1) == b"r"
            before.append(private_mb(pid))
        for _, _, to_child in procs:
            os.write(to_child, b"g")  # both children work at the same time
        for (pid, from_child, _), start in zip(procs, before, strict=True):
            assert os.read(from_child, 1) == b"d"
            growth.append(private_mb(pid) - start)
        for _, _, to_child in procs:
            os.write(to_child, b"x")  # measured: exit
        finished = True
    finally:
        for pid, from_child, to_child in procs:
            os.close(to_child)
            os.close(from_child)
            if not finished:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            if finished:
                assert os.waitstatus_to_exitcode(status) == 0
    return growth


def read_every_path(paths: Sequence[str]) -> Callable[[], object]:
    def work() -> int:
        total = 0
        for i in range(len(paths)):
            total += len(paths[i])
        return total

    return work


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    folder = tmp_path_factory.mktemp("memory")
    lines = ["path,label\n"]
    lines += [f"train/n{i % 1000:08d}/n{i % 1000:08d}_{i}.JPEG,n{i % 1000:08d}\n"
              for i in range(ROWS)]  # fmt: skip
    path = Path(folder) / "labels.csv"
    path.write_text("".join(lines), encoding="utf-8")
    m = read_manifest(path)
    assert len(m) == ROWS
    return m


def test_forked_readers_share_the_manifest(manifest: Manifest) -> None:
    growth = fork_and_measure(read_every_path(manifest.paths))
    assert len(growth) == 2
    assert all(g <= LIMIT_MB for g in growth), f"private memory grew by {growth} MB"


def test_forked_readers_copy_a_list_of_str(manifest: Manifest) -> None:
    # The contrast that shows the measurement can fail: the same paths as a list of str.
    paths = list(manifest.paths)
    growth = fork_and_measure(read_every_path(paths))
    assert all(g > LIMIT_MB for g in growth), f"private memory grew by only {growth} MB"
    assert len(paths) == ROWS
