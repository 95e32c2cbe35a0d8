"""The shipped segmentation sample set, the script that makes it, and the demo trained on it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

import imgbatch

ROOT = Path(__file__).resolve().parent.parent
SEGMENTATION = ROOT / "sample_data" / "segmentation"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module


def test_segmentation_sample_is_small_with_palette_masks_of_four_classes() -> None:
    m = imgbatch.read_manifest(SEGMENTATION / "labels.csv", mask_column="mask")
    assert len(m) == 24 and m.classes == ("circle", "square", "triangle")
    assert m.masks is not None
    ids: set[int] = set()
    for mask_path, image_path in zip(m.masks, m.paths, strict=True):
        with Image.open(mask_path) as mask, Image.open(image_path) as image:
            assert mask.mode == "P" and mask.size == image.size == (64, 64)
            ids |= set(np.unique(np.asarray(mask)).tolist())
    assert ids == {0, 1, 2, 3}
    size = sum(f.stat().st_size for f in SEGMENTATION.rglob("*") if f.is_file())
    assert size < 200_000


def test_make_sample_data_writes_the_shipped_segmentation_set(tmp_path: Path) -> None:
    rows = _script("make_sample_data").generate_segmentation(tmp_path / "seg")
    assert len(rows) == 24
    for name in ["labels.csv"] + [p for row in rows for p in row[:2]]:
        made, shipped = tmp_path / "seg" / name, SEGMENTATION / name
        if name.endswith(".jpg"):  # pixels, allowing another JPEG encoder build
            a = np.asarray(Image.open(made), np.int16)
            b = np.asarray(Image.open(shipped), np.int16)
            assert np.abs(a - b).mean() < 1.0, name
        else:
            assert made.read_bytes() == shipped.read_bytes(), name


def test_segmentation_demo_learns_more_than_the_background(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _script("train_segmentation").main(["--epochs", "6"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    epochs = [line for line in lines if line.startswith("epoch")]
    assert len(epochs) == 6
    losses = [float(line.split("loss")[1].split()[0]) for line in epochs]
    assert losses[-1] < 0.6 * losses[0], lines
    final = float(epochs[-1].split("validation pixel accuracy")[1])
    majority = float(lines[-1].split("scores")[1].split()[0])
    assert final > majority + 0.05, lines
