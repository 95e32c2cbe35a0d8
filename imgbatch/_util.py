"""Helpers every stage shares: argument checks, the progress bar, peak memory, size parsing.

Private as a module, public by name: other imgbatch modules import these names freely, users
should not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

__all__ = [
    "Batch",
    "check_size",
    "choice",
    "default_workers",
    "flag",
    "non_negative_int",
    "parse_size",
    "peak_rss_mb",
    "positive_int",
    "progress_bar",
    "shorten",
]


#: What a loader yields: ``(images, labels)``, or ``(images, labels, rows)`` with
#: ``with_index=True``.
Batch: TypeAlias = "tuple[np.ndarray, ...]"


def _integer(value: object) -> int | None:
    """``value`` as an int when it is an int or a numpy integer (never a bool), else None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return None


def positive_int(name: str, value: object) -> int:
    """``value`` as an int > 0, else a ValueError naming ``name``.

    Example:
        >>> positive_int("batch_size", 32)
        32
    """
    number = _integer(value)
    if number is None or number <= 0:
        msg = f"{name} must be a positive int, got {value!r}"
        raise ValueError(msg)
    return number


def non_negative_int(name: str, value: object) -> int:
    """``value`` as an int >= 0, else a ValueError naming ``name``."""
    number = _integer(value)
    if number is None or number < 0:
        msg = f"{name} must be a non-negative int, got {value!r}"
        raise ValueError(msg)
    return number


def flag(name: str, value: object) -> bool:
    """``value`` as a bool: True or False only (``"no"`` would be truthy), else a ValueError.

    Example:
        >>> flag("shuffle", False)
        False
    """
    if not isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be True or False, got {value!r}"
        raise ValueError(msg)
    return bool(value)


def choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        msg = f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        raise ValueError(msg)
    return value


def check_size(size: object) -> tuple[int, int]:
    """``size`` as ``(height, width)``: an int gives a square; anything else is a ValueError.

    Example:
        >>> check_size(224), check_size((224, 160))
        ((224, 224), (224, 160))
    """
    if isinstance(size, (tuple, list)) and len(size) == 2:
        sides = tuple(size)
    elif _integer(size) is not None:
        sides = (size, size)
    else:
        msg = f"size must be an int or a (height, width) pair of positive ints, got {size!r}"
        raise ValueError(msg)
    height, width = (_integer(side) for side in sides)
    if height is None or width is None or height <= 0 or width <= 0:
        msg = f"size must be a positive int or a (height, width) pair of them, got {size!r}"
        raise ValueError(msg)
    return height, width


def parse_size(text: str) -> int | tuple[int, int]:
    """``"224"`` or ``"224x160"`` (height x width) as given on a command line.

    Example:
        >>> parse_size("224"), parse_size("224x160")
        (224, (224, 160))
    """
    try:
        if "x" in text.lower():
            height, width = (int(t) for t in text.lower().split("x"))
            return height, width
        return int(text)
    except ValueError:
        msg = f"size must be N or HxW, got {text!r}"
        raise ValueError(msg) from None


def default_workers() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB (None where neither /proc nor ``resource``).

    On Linux it is ``VmHWM``, the high-water mark of the memory this process has run in since
    its exec. ``ru_maxrss`` is not: Linux carries it across exec, so a child started by a
    process of 800 MB reports at least 800 MB whatever it uses itself.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:  # no /proc: macOS, Windows
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar without tqdm's monitor thread: imgbatch leaves no thread running behind it."""
    from tqdm.auto import tqdm

    class Bar(tqdm):  # type: ignore[misc]
        monitor_interval = 0

    return Bar(**kwargs)


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when it was cut: what a
    message may quote of a line of input (an error about a 10 MB line must not embed it).

    Example:
        >>> shorten("abcdef", 4)
        'abc…'
    """
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"
