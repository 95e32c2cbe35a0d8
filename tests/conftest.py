"""Fixtures for every test: no test may leave a thread running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


def _extra_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail any test after which a thread it started is still alive (after a short grace)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while _extra_threads(before) and time.monotonic() < deadline:
        time.sleep(0.01)
    left = _extra_threads(before)
    assert not left, f"threads left running: {[t.name for t in left]}"
