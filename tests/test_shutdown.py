"""No hangs, no leaks: however an epoch stops, every thread ends and the next epoch works.

tests/test_loader.py covers a ``break``, an exception or a KeyboardInterrupt in the loop body,
closing the iterator, dropping it, and a worker whose read fails on every file. This file covers
the rest: a decode that raises in the middle of an epoch (in a worker, and in the main thread
during a skip-mode refill), a warning turned into an error during a refill, Ctrl-C while the loop
waits for a batch, generators dropped in a reference cycle, ``forever()`` and ``batches()``
closed, a stop while workers are busy (it must not wait for the prefetched work), the all-failed
error, ``load_eager``, ``loader.batch`` and ``imgbatch scan``. Every test counts the threads
whose name starts with "imgbatch" (the pools' names), and runs under a timeout.
"""

from __future__ import annotations

import _thread
import gc
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imgbatch
import imgbatch.decode
from imgbatch import ImgbatchError, ImgbatchWarning, Loader
from imgbatch.scan import scan
from tests.helpers import encode, solid, write

pytestmark = pytest.mark.timeout(60)

SIDE = 6
real_decode = imgbatch.decode.decode_bytes


def colour(k: int) -> tuple[int, int, int]:
    """Sample ``k``'s solid colour: its red channel is ``k``, so a pixel names the sample."""
    return k, 255 - k, (7 * k) % 256


def make_set(root: Path, n: int, bad: dict[int, bytes] | None = None) -> Path:
    """``n`` tiny PNGs whose colour encodes their index (the label); ``bad`` replaces some."""
    rows = []
    for k in range(n):
        data = (bad or {}).get(k)
        write(root / f"{k:03d}.png", encode(solid(SIDE, SIDE, colour(k))) if data is None else data)
        rows.append(f"{k:03d}.png {k}")
    labels = root / "list.txt"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def loader_for(labels: Path, **options: Any) -> Loader:
    options.setdefault("size", SIDE)
    options.setdefault("dtype", "uint8")
    options.setdefault("shuffle", False)
    return Loader(labels, **options)


def imgbatch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("imgbatch") and t.is_alive()]


def assert_threads_gone(timeout: float = 5.0) -> None:
    """Every imgbatch thread has ended (they are joined before control returns, so at once;
    the timeout only turns a leak into a clear failure rather than a hang)."""
    deadline = time.monotonic() + timeout
    while imgbatch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not imgbatch_threads(), f"threads left: {[t.name for t in imgbatch_threads()]}"


def full_epoch(loader: Loader) -> list[int]:
    """One whole epoch's sample ids, checking each image against its label."""
    ids: list[int] = []
    for images, labels in loader:
        assert [int(v) for v in images[:, 0, 0, 0]] == labels.tolist()
        ids.extend(labels.tolist())
    return ids


def raising_decode(when: Callable[[], bool], error: BaseException) -> Callable[..., np.ndarray]:
    """decode_bytes, raising ``error`` (once) on the first call for which ``when()`` holds."""
    fired = threading.Event()
    lock = threading.Lock()

    def decode(data: bytes, path: object, **options: Any) -> np.ndarray:
        with lock:
            fire = not fired.is_set() and when()
            if fire:
                fired.set()
        if fire:
            raise error
        return real_decode(data, path, **options)  # type: ignore[arg-type]

    return decode


def nth_call(n: int) -> Callable[[], bool]:
    calls = iter(range(1, 1 << 30))
    return lambda: next(calls) == n


# ---------------------------------------------------------------------------------------------
# The loader


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_decode_that_raises_mid_epoch_reaches_the_caller_and_the_next_epoch_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_error: str
) -> None:
    # Not an ImageReadError: a bug or a broken library is never skipped, whatever on_error says.
    boom = RuntimeError("decoder exploded")
    monkeypatch.setattr(imgbatch.decode, "decode_bytes", raising_decode(nth_call(7), boom))
    loader = loader_for(make_set(tmp_path, 30), batch_size=4, workers=3, prefetch=3,
                        on_error=on_error)  # fmt: skip
    served = []
    with pytest.raises(RuntimeError, match="decoder exploded"):
        for _, labels in loader:
            served.extend(labels.tolist())
    assert len(served) < 30
    assert_threads_gone()
    assert sorted(full_epoch(loader)) == list(range(30))
    assert loader.errors == []


def test_an_exception_in_the_middle_of_skip_mode_refills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replacements for failed files are decoded in the calling thread: fail exactly there.
    labels = make_set(tmp_path, 24, bad={1: b"", 2: b"not an image", 9: b""})
    in_main = threading.main_thread
    boom = RuntimeError("refill exploded")
    patched = raising_decode(lambda: threading.current_thread() is in_main(), boom)
    monkeypatch.setattr(imgbatch.decode, "decode_bytes", patched)
    loader = loader_for(labels, batch_size=4, workers=2, prefetch=2, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImgbatchWarning)
        with pytest.raises(RuntimeError, match="refill exploded"):
            for _ in loader:
                pass
        assert_threads_gone()
        assert sorted(full_epoch(loader)) == sorted(set(range(24)) - {1, 2, 9})


def test_a_skip_warning_turned_into_an_error_during_a_refill(tmp_path: Path) -> None:
    # The replacement for file 0 is file 4 (the next one not handed out), also bad: its warning
    # is raised inside the refill. A run with -W error does exactly this.
    labels = make_set(tmp_path, 12, bad={0: b"", 4: b""})
    loader = loader_for(labels, batch_size=4, workers=2, prefetch=0, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImgbatchWarning)
        warnings.filterwarnings("error", message=r"skipped .*004\.png", category=ImgbatchWarning)
        with pytest.raises(ImgbatchWarning, match=r"004\.png"):
            for _ in loader:
                pass
    assert_threads_gone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImgbatchWarning)
        assert sorted(full_epoch(loader)) == sorted(set(range(12)) - {0, 4})


def slow_decode(delay: float) -> Callable[..., np.ndarray]:
    def decode(data: bytes, path: object, **options: Any) -> np.ndarray:
        time.sleep(delay)
        return real_decode(data, path, **options)  # type: ignore[arg-type]

    return decode


def test_ctrl_c_while_waiting_for_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The interrupt lands while the loop is blocked inside the loader, not in the loop body.
    monkeypatch.setattr(imgbatch.decode, "decode_bytes", slow_decode(0.05))
    loader = loader_for(make_set(tmp_path, 40), batch_size=8, workers=2, prefetch=2)
    stream = iter(loader)
    next(stream)
    timer = threading.Timer(0.02, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in stream:
            pass
    timer.join()
    assert_threads_gone()
    monkeypatch.undo()
    assert sorted(full_epoch(loader)) == list(range(40))


def test_stopping_does_not_wait_for_the_prefetched_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 batches of 16 prefetched at 0.05 s an image on 2 threads is 1.6 s of work; stopping
    # cancels what has not started, and a task under way ends after its current image: no
    # decode starts once close() has begun, but for one per worker that was racing it.
    starts: list[float] = []
    slow = slow_decode(0.05)

    def counted(*args: Any, **options: Any) -> np.ndarray:
        starts.append(time.perf_counter())
        return slow(*args, **options)

    monkeypatch.setattr(imgbatch.decode, "decode_bytes", counted)
    loader = loader_for(make_set(tmp_path, 96), batch_size=16, workers=2, prefetch=4)
    stream = iter(loader)
    next(stream)
    time.sleep(0.12)  # the workers are inside the next batches' tasks
    started = time.perf_counter()
    stream.close()  # type: ignore[attr-defined]
    assert sum(t >= started for t in starts) <= 2
    assert time.perf_counter() - started < 0.8
    assert_threads_gone()


def test_generators_dropped_in_a_reference_cycle(tmp_path: Path) -> None:
    labels = make_set(tmp_path, 20)
    one, other = (loader_for(labels, batch_size=4, workers=2, prefetch=3) for _ in range(2))
    holder: dict[str, Any] = {}
    holder["self"] = holder  # only the cycle collector frees this
    holder["epoch"] = iter(one)
    holder["forever"] = other.forever()
    holder["batches"] = imgbatch.batches(labels, batch_size=4, size=SIDE, workers=2)
    for name in ("epoch", "forever", "batches"):
        next(holder[name])
    assert len(imgbatch_threads()) >= 3
    del holder
    gc.collect()
    assert_threads_gone()
    assert sorted(full_epoch(one)) == sorted(full_epoch(other)) == list(range(20))


@pytest.mark.parametrize("where", ["mid-epoch", "epoch boundary", "several epochs"])
def test_forever_closed(tmp_path: Path, where: str) -> None:
    loader = loader_for(make_set(tmp_path, 10), batch_size=4, workers=2, prefetch=4, seed=1,
                        shuffle=True)  # fmt: skip
    stream = loader.forever()
    take = {"mid-epoch": 2, "epoch boundary": 3, "several epochs": 7}[where]
    got = [next(stream)[1].tolist() for _ in range(take)]
    stream.close()  # type: ignore[attr-defined]
    assert_threads_gone()
    if take >= 3:  # epoch 0 was whole
        assert sorted(k for batch in got[:3] for k in batch) == list(range(10))
    # The next `for` runs the epoch after the last one started, in full.
    assert loader.epoch == -(-take // 3)
    assert sorted(full_epoch(loader)) == list(range(10))


def test_breaking_out_of_forever_and_of_batches(tmp_path: Path) -> None:
    labels = make_set(tmp_path, 10)
    loader = loader_for(labels, batch_size=3, workers=2, prefetch=2)
    for k, _ in enumerate(loader.forever()):
        if k == 5:
            break
    assert_threads_gone()
    for _ in imgbatch.batches(labels, batch_size=3, size=SIDE, workers=2):
        break
    assert_threads_gone()
    assert sorted(full_epoch(loader)) == list(range(10))


def test_forever_over_files_that_all_fail_ends_in_one_error(tmp_path: Path) -> None:
    labels = make_set(tmp_path, 5, bad={k: b"" for k in range(5)})
    loader = loader_for(labels, batch_size=2, workers=2, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImgbatchWarning)
        with pytest.raises(ImgbatchError, match="5 of 5 files failed"):
            for _ in loader.forever():
                pass
    assert_threads_gone()


def test_progress_bar_leaves_no_monitor_thread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(threading.enumerate())
    loader = loader_for(make_set(tmp_path, 12), batch_size=2, progress=True, workers=2)
    for _ in loader:
        break
    assert_threads_gone()
    assert set(threading.enumerate()) <= before  # tqdm's monitor thread included
    capsys.readouterr()


def test_load_eager_stops_at_the_first_bad_file_and_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imgbatch.decode, "decode_bytes", slow_decode(0.02))
    labels = make_set(tmp_path, 120, bad={0: b""})
    started = time.perf_counter()
    with pytest.raises(imgbatch.ImageReadError, match=r"000\.png"):
        imgbatch.load_eager(labels, size=SIDE, workers=2)
    # The 119 queued decodes (1.2 s on 2 threads) are cancelled, not waited for.
    assert time.perf_counter() - started < 0.8
    assert_threads_gone()


def test_random_access_with_a_decode_that_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        imgbatch.decode, "decode_bytes", raising_decode(nth_call(2), RuntimeError("once"))
    )
    loader = loader_for(make_set(tmp_path, 12), batch_size=4, workers=2)
    with pytest.raises(RuntimeError, match="once"):
        loader.batch(1)
    assert_threads_gone()
    assert loader.batch(1)[1].tolist() == [4, 5, 6, 7]
    assert_threads_gone()


# ---------------------------------------------------------------------------------------------
# imgbatch scan


def test_scan_interrupted_joins_its_threads_and_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = make_set(tmp_path, 40)
    interrupt = raising_decode(nth_call(9), KeyboardInterrupt())
    monkeypatch.setattr("imgbatch.scan.check.decode_bytes", interrupt)
    with pytest.raises(KeyboardInterrupt):
        scan(labels, workers=3)
    assert_threads_gone()
    report = scan(labels, workers=3)
    assert report.clean and report.sizes is not None and report.sizes.images == 40


def test_scan_with_an_unexpected_error_reports_it_as_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = make_set(tmp_path, 10)
    monkeypatch.setattr(
        "imgbatch.scan.check.decode_bytes", raising_decode(nth_call(3), MemoryError())
    )
    report = scan(labels, workers=2)
    assert [p.reason for p in report.problems] == ["error"]
    assert report.problems[0].detail.startswith("cannot check: MemoryError")
    assert_threads_gone()
