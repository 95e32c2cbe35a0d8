"""Helpers shared by the benchmark scripts in ``scripts/`` (not part of the package).

- ``machine_info``: cores, CPU model, memory and library versions, without importing the heavy
  frameworks (versions come from package metadata);
- ``survey_files``: measure the files (count, bytes, mean size);
- ``warm_page_cache`` / ``evict_page_cache``: make the next run find the files in the page
  cache, or not;
- ``run_json``: run a command in a fresh process and parse the one JSON line it prints;
- ``peak_rss_mb``: peak resident memory of this process and of its largest reaped child;
- ``text_table`` / ``markdown_table``: aligned tables of already formatted cells;
- ``Progress``: a tqdm bar without tqdm's monitor thread.

Example:
    >>> print(text_table(["case", "images/s"], [["a", "1,234"]], align="lr"))
    case  images/s
    ----  --------
    a        1,234
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import PIL.Image
from tqdm import tqdm

from imgbatch import _util


class Progress(tqdm):  # type: ignore[misc]
    """A tqdm bar that starts no monitor thread (the scripts also run inside the test suite,
    which fails a test that leaves a thread behind)."""

    monitor_interval = 0


# Distribution names to report, with the label they get; the first installed one of a group wins.
VERSIONED = (
    ("numpy", ("numpy",)),
    ("opencv", ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless")),
    ("pillow", ("pillow",)),
    ("torch", ("torch",)),
    ("tensorflow", ("tensorflow-cpu", "tensorflow")),
    ("imgbatch", ("imgbatch",)),
)


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB from ``/proc/meminfo``, or None when it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20  # kB -> GiB
    except (OSError, ValueError, IndexError):
        pass
    return None


def versions() -> dict[str, str]:
    """Installed versions of the libraries a benchmark depends on (absent ones are left out)."""
    found: dict[str, str] = {}
    for label, dists in VERSIONED:
        for dist in dists:
            try:
                found[label] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
            break
    return found


def machine_info() -> dict[str, Any]:
    """What a benchmark ran on: cores, CPU, memory, OS, Python and library versions."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = memory_gib()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": cpu_model(),
        "memory_gib": None if mem is None else round(mem, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **versions(),
    }


def describe_machine(info: dict[str, Any]) -> str:
    """One line naming the machine and the versions in ``info`` (from ``machine_info``)."""
    parts = [f"{info['cores']} cores ({info['cpu']})"]
    if info.get("memory_gib"):
        parts.append(f"{info['memory_gib']:.0f} GiB")
    parts.append(f"Python {info['python']}")
    parts.extend(f"{label} {info[label]}" for label, _ in VERSIONED if label in info)
    return ", ".join(parts)


@dataclass(frozen=True)
class Survey:
    """What ``survey_files`` found: file count, bytes, mean width and height in px."""

    files: int
    nbytes: int
    mean_width: float
    mean_height: float

    def describe(self) -> str:
        """``1,000 files, mean 499x392 px, 42.5 KB``."""
        kb = self.nbytes / max(self.files, 1) / 1e3
        return (
            f"{self.files:,} files, mean {self.mean_width:.0f}x{self.mean_height:.0f} px, "
            f"{kb:,.1f} KB"
        )


def survey_files(paths: Iterable[str]) -> Survey:
    """Count the files and their bytes, and measure their mean width and height.

    Dimensions come from the image header (Pillow parses only that); unreadable headers count
    as 0 x 0 rather than stopping the benchmark, whose own runs will name the file.
    """
    files = nbytes = width = height = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        files += 1
        nbytes += len(data)
        try:
            with PIL.Image.open(io.BytesIO(data)) as img:
                width += img.width
                height += img.height
        except (OSError, ValueError):
            pass
    n = max(files, 1)
    return Survey(files, nbytes, width / n, height / n)


def warm_page_cache(paths: Iterable[str]) -> float:
    """Read every file (into one reused buffer) so that a run starting now finds it in the page
    cache; return the seconds it took (long when the files had to come from disk).

    Call it right before each timed run, not once at the start: on the machine the README's
    figures come from, the kernel pages out file data unused for about 30 s (DAMON reclaim).
    """
    buffer = memoryview(bytearray(1 << 20))
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass
    return time.perf_counter() - start


def evict_page_cache(paths: Iterable[str]) -> None:
    """Drop the files' cached pages (``POSIX_FADV_DONTNEED``), so the next run reads from disk.

    The files themselves are not touched. Linux only; elsewhere this raises OSError.
    """
    if not hasattr(os, "posix_fadvise"):
        msg = "evicting files from the page cache needs os.posix_fadvise (Linux)"
        raise OSError(msg)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS in MB of this process, and of the largest child it has waited for.

    ``RUSAGE_CHILDREN`` reports the largest single descendant, not a sum, and only once the child
    has been reaped (a ``DataLoader`` joins its workers when an epoch ends).
    """
    scale = 1024 if platform.system() != "Darwin" else 1  # Linux: KiB, macOS: bytes
    # This process's own: imgbatch's VmHWM (ru_maxrss would carry the parent's peak across exec).
    own = (_util.peak_rss_mb() or 0.0) * 2**20 / 1e6
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1e6
    return own, children


def run_json(
    command: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``command`` and return the JSON object on the last line of its output.

    Raises:
        RuntimeError: the command failed, timed out, or printed no JSON object; the message
            carries the end of its standard error.
    """
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as e:
        msg = f"timed out after {timeout:.0f} s"
        raise RuntimeError(msg) from e
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        msg = f"exit status {done.returncode}, no result; stderr ends:\n{tail}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _check(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> None:
    if len(align) != len(headers) or any(len(row) != len(headers) for row in rows):
        msg = f"every row and align must have {len(headers)} cells, got align={align!r}"
        raise ValueError(msg)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, align: str) -> str:
    """An aligned plain-text table; ``align`` holds one ``l`` or ``r`` per column."""
    _check(headers, rows, align)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, align: str) -> str:
    """A GitHub Markdown table; ``align`` holds one ``l`` or ``r`` per column."""
    _check(headers, rows, align)
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join(
        "| " + " | ".join(cells) + " |" for cells in [list(headers), rule, *map(list, rows)]
    )
