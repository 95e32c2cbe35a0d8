"""loader.stats(): where the last epoch's time went, stage by stage, and who waited."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from imgbatch import Loader
from imgbatch.cli import main
from tests.helpers import encode, gradient, write


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    for k in range(24):
        write(tmp_path / f"{k}.png", encode(gradient(64, 64, seed=k)))
    path = tmp_path / "labels.csv"
    path.write_text("path,label\n" + "".join(f"{k}.png,{k % 3}\n" for k in range(24)), "utf-8")
    return path


def test_no_stats_before_an_epoch(labels: Path) -> None:
    assert Loader(labels, size=16).stats() is None


def test_an_epoch_accounts_for_its_images_and_stages(labels: Path) -> None:
    loader = Loader(labels, batch_size=8, size=16, workers=2)
    started = time.perf_counter()
    served = sum(len(y) for _, y in loader)
    elapsed = time.perf_counter() - started
    stats = loader.stats()
    assert stats is not None
    assert (stats.epoch, stats.images, stats.workers) == (0, served, 2)
    assert 0 < stats.seconds <= elapsed + 0.05
    assert set(stats.stages) == {"read", "decode", "transform", "write"}
    assert stats.stages["decode"] > 0 and stats.stages["read"] > 0 and stats.stages["write"] > 0
    assert sum(stats.stages.values()) <= 2 * stats.seconds + 0.05  # two threads at most
    assert 0 <= stats.waited <= stats.seconds
    assert stats.images_per_s == pytest.approx(served / stats.seconds)
    assert "images/s" in str(stats) and stats.as_dict()["images"] == served


def test_waiting_tells_which_side_is_slow(labels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loader = Loader(labels, batch_size=8, size=16, workers=1, prefetch=2)
    for _ in loader:
        time.sleep(0.05)  # a slow training step: batches are ready before they are asked for
    slow_step = loader.stats()
    assert slow_step is not None and slow_step.waited < 0.3 * slow_step.seconds

    from imgbatch.read import read_bytes as real

    def slow_read(path: str, **options: object) -> bytes:
        time.sleep(0.01)
        return real(path, **options)  # type: ignore[arg-type]

    monkeypatch.setattr("imgbatch.read.files.read_bytes", slow_read)
    list(loader)  # a slow loader and a quick loop: the loop waits
    slow_read_stats = loader.stats()
    assert slow_read_stats is not None and slow_read_stats.epoch == 1
    assert slow_read_stats.waited > 0.7 * slow_read_stats.seconds
    assert slow_read_stats.stages["read"] >= 24 * 0.01


def test_an_epoch_left_early_reports_what_was_consumed(labels: Path) -> None:
    loader = Loader(labels, batch_size=8, size=16)
    for _ in loader:
        break
    stats = loader.stats()
    assert stats is not None and stats.images == 8


def test_iterate_prints_them(labels: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iterate", str(labels), "--size", "16", "--no-progress", "--stats"]) == 0
    out = capsys.readouterr().out
    assert "the loop waited" in out and "decode" in out and "workers busy" in out
