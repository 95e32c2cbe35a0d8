"""Smoke tests over the shipped sample_data/ and the scripts that make and use it."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import imgbatch

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


def test_sample_data_matches_the_issue() -> None:
    m = imgbatch.read_manifest(SAMPLE / "labels.csv")
    assert m.classes is not None and len(m.classes) >= 3
    assert np.bincount(m.labels).min() >= 30
    suffixes = [Path(p).suffix for p in m.paths]
    assert 0 < suffixes.count(".png") < suffixes.count(".jpg")
    size = sum(f.stat().st_size for f in SAMPLE.rglob("*") if f.is_file())
    assert size < 3 * 2**20


def test_one_epoch_over_sample_data_loads_every_image() -> None:
    loader = imgbatch.Loader(SAMPLE / "labels.csv", batch_size=16, size=64, seed=1)
    seen = 0
    for images, labels in loader:
        assert images.shape[1:] == (64, 64, 3) and np.isfinite(images).all()
        assert images.min() >= 0.0 and images.max() <= 1.0
        seen += len(labels)
    assert seen == len(loader.manifest)


@pytest.mark.slow
def test_make_sample_data_is_deterministic(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_sample_data.py"
    for out in ("a", "b"):
        subprocess.run([sys.executable, str(script), "--out", str(tmp_path / out)], check=True)
    compared = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not compared.diff_files and not compared.left_only and not compared.right_only
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (SAMPLE / "labels.csv").read_bytes()
    # The shipped images are what the script makes (pixels, allowing another encoder build).
    made = imgbatch.load_eager(tmp_path / "a" / "labels.csv", size=48, dtype="uint8")[0]
    shipped = imgbatch.load_eager(SAMPLE / "labels.csv", size=48, dtype="uint8")[0]
    assert np.abs(made.astype(int) - shipped.astype(int)).mean() < 1.0


@pytest.mark.slow
def test_the_numpy_demo_learns_well_above_chance() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_numpy.py"), "--epochs", "4"],
        capture_output=True,
        text=True,
        check=True,
    )
    last = result.stdout.strip().splitlines()[-1]
    accuracy = float(last.split("accuracy")[1].split()[0])
    chance = float(last.split("chance")[1].strip(" )"))
    assert accuracy > chance + 0.3, result.stdout
