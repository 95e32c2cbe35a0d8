"""ImageOptions and the loader's own options: every mistake a new user makes is a clear
ValueError naming the option, at construction (before any file is read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgbatch import Loader, load_eager, load_image
from imgbatch.options import ImageOptions
from tests.helpers import make_dataset

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


COLOURS = {"red": (255, 0, 0), "blue": (0, 0, 255)}


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, COLOURS, 2, (8, 8))


@pytest.mark.parametrize(
    ("kwargs", "name", "bad"),
    [
        ({"shuffle": "no"}, "shuffle", "'no'"),
        ({"shuffle": 0}, "shuffle", "0"),
        ({"drop_last": "false"}, "drop_last", "'false'"),
        ({"progress": "yes"}, "progress", "'yes'"),
        ({"std": -1}, "std", "-1"),
        ({"std": (0.2, -0.2, 0.2)}, "std", "-0.2"),
        ({"mean": "0.5"}, "mean", "'0.5'"),
        ({"mean": IMAGENET_MEAN_255}, "mean", "123.675"),
        ({"std": IMAGENET_STD_255}, "std", "58.395"),
        ({"dtype": np.float64}, "dtype", "float64"),
        ({"dtype": float}, "dtype", "float"),
        ({"prefetch": -1}, "prefetch", "-1"),
        ({"prefetch": True}, "prefetch", "True"),
        ({"workers": 0}, "workers", "0"),
    ],
)
def test_loader_option_mistakes(labels: Path, kwargs: dict[str, Any], name: str, bad: str) -> None:
    with pytest.raises(ValueError, match=name) as info:
        Loader(labels, **kwargs)
    assert bad in str(info.value)


def test_imagenet_stats_in_0_255_units_say_to_divide_by_255(labels: Path) -> None:
    with pytest.raises(ValueError, match="divide it by 255"):
        Loader(labels, mean=IMAGENET_MEAN_255, std=IMAGENET_STD_255)
    with pytest.raises(ValueError, match="divide it by 255"):
        load_image(labels.parent / "missing.jpg", mean=IMAGENET_MEAN_255)


def test_stats_in_0_1_units_are_taken(labels: Path) -> None:
    mean = np.array(IMAGENET_MEAN_255) / 255
    std = np.array(IMAGENET_STD_255) / 255
    loader = Loader(labels, batch_size=4, size=8, mean=mean, std=std, shuffle=False)
    images, ids = next(iter(loader))
    assert loader.classes is not None
    for image, label in zip(images, ids.tolist(), strict=True):
        rgb = np.array(COLOURS[loader.classes[label]]) / 255
        np.testing.assert_allclose(image[4, 4], (rgb - mean) / std, atol=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.dtype("float16"), "uint8", np.uint8])
def test_numpy_dtypes_are_accepted(labels: Path, dtype: Any) -> None:
    loader = Loader(labels, batch_size=2, size=8, dtype=dtype)
    images, _ = next(iter(loader))
    assert images.dtype == np.dtype(dtype)
    assert loader.dtype == np.dtype(dtype)


def test_numpy_bools_and_ints_are_accepted(labels: Path) -> None:
    loader = Loader(
        labels,
        batch_size=np.int64(2),  # type: ignore[arg-type]
        shuffle=np.bool_(False),  # type: ignore[arg-type]
        size=np.int32(8),  # type: ignore[arg-type]
    )
    assert loader.batch_size == 2 and loader.shuffle is False and loader.size == (8, 8)


def test_every_entry_point_checks_the_same_options(labels: Path) -> None:
    for call in (
        lambda: Loader(labels, dtype=np.float64),
        lambda: load_eager(labels, dtype=np.float64),
        lambda: load_image(labels.parent / "missing.jpg", dtype=np.float64),
    ):
        with pytest.raises(ValueError, match="dtype must be one of"):
            call()


def test_options_checked_before_the_manifest_is_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shuffle"):
        Loader(tmp_path / "missing.csv", shuffle="no")  # type: ignore[arg-type]


def test_image_options_build_the_decoder_and_the_writer() -> None:
    options = ImageOptions((24, 32), color="gray", layout="chw", dtype=np.float16)
    assert options.size == (24, 32)
    assert options.dtype == "float16"
    assert options.image_shape == (1, 24, 32)
    assert options.decoder.size == (24, 32) and options.decoder.color == "gray"
    assert options.writer.layout == "chw" and options.writer.dtype == "float16"
    assert ImageOptions(224) == ImageOptions((224, 224))  # compared by the options themselves
