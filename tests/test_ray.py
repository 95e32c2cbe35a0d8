"""Ray Data: to_ray_dataset decodes as the Loader does (augmented too, for the same seed and
epoch), errors name the file and line, and scan_dataset reports what the local scan reports.

One local Ray (2 CPUs, no dashboard) for the module, shut down at its end.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imgbatch import ColorJitter, Loader, RandomHorizontalFlip, RandomResizedCrop, read_manifest
from imgbatch._pipeline import Sampler
from imgbatch.options import ImageOptions
from imgbatch.order import epoch_order
from imgbatch.scan import scan
from tests.helpers import encode, gradient, require, write
from tests.servers import FolderServer
from tests.test_scan import build_test_set

pytestmark = [
    # Ray Data's DataContext sets its own deprecated fields when it is created
    # (use_push_based_shuffle, use_polars: "... is deprecated") and warns about them; -W error
    # would turn Ray's own construction into a failure. Only that module's deprecations.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]

N = 23
AUGMENT = [RandomResizedCrop(), RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4, 0.1)]


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    ray = require("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """The suite's thread check for imgbatch's threads only: Ray's driver keeps threads of its
    own (its executor, its clients) for as long as it is initialised."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("imgbatch")]
    assert not left, f"threads left running: {left}"


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``N`` rows over five structured images (PNG and JPEG, several sizes); label = row."""
    root = tmp_path_factory.mktemp("ray")
    for k in range(5):
        data = encode(gradient(30 + 7 * k, 40 + 3 * k, seed=k), "PNG" if k % 2 else "JPEG")
        write(root / f"{k}.img", data)
    text = "\n".join(f"{row % 5}.img {row}" for row in range(N)) + "\n"
    (root / "list.txt").write_text(text, encoding="utf-8")
    return root / "list.txt"


def collect(dataset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batches = list(dataset.iter_batches(batch_format="numpy", batch_size=None))
    images = np.concatenate([b["image"] for b in batches])
    labels = np.concatenate([b["label"] for b in batches])
    rows = np.concatenate([b["row"] for b in batches])
    return images, labels, rows


def untimed(text: str) -> str:
    """A report's text without the time the checks took."""
    return re.sub(r"; [\d.]+ s$", "", text, flags=re.MULTILINE)


def loader_epoch(labels: Path, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    batches = list(Loader(labels, batch_size=5, workers=2, **options))
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def test_ray_decodes_what_the_loader_decodes(ray: Any, labels: Path) -> None:
    from imgbatch.integrations.ray import to_ray_dataset

    options: dict[str, Any] = {"size": (12, 16), "layout": "chw", "mean": 0.5, "std": 0.25}
    images, targets, rows = collect(to_ray_dataset(labels, rows_per_block=4, **options))
    expected, expected_labels = loader_epoch(labels, shuffle=False, **options)
    assert images.dtype == np.float32 and images.shape == (N, 3, 12, 16)
    np.testing.assert_array_equal(rows, np.arange(N))
    np.testing.assert_array_equal(targets, expected_labels)
    np.testing.assert_array_equal(images, expected)


def test_ray_augments_as_the_loader_does_for_the_same_seed_and_epoch(
    ray: Any, labels: Path
) -> None:
    from imgbatch.integrations.ray import to_ray_dataset

    options: dict[str, Any] = {"size": 16, "dtype": "uint8", "augment": AUGMENT, "seed": 5}
    loader = Loader(labels, batch_size=5, workers=2, shuffle=True, **options)
    list(loader)  # epoch 0; epoch 1 is compared
    expected = list(loader)
    got = collect(to_ray_dataset(labels, shuffle=True, epoch=1, rows_per_block=6, **options))
    images, targets, rows = got
    np.testing.assert_array_equal(rows, epoch_order(N, shuffle=True, seed=5, epoch=1))
    np.testing.assert_array_equal(targets, np.concatenate([y for _, y in expected]))
    np.testing.assert_array_equal(images, np.concatenate([x for x, _ in expected]))
    other = collect(to_ray_dataset(labels, epoch=0, rows_per_block=6, **options))
    by_row = dict(zip(rows.tolist(), images, strict=True))
    pairs = zip(other[0], other[2].tolist(), strict=True)
    changed = sum(not np.array_equal(image, by_row[row]) for image, row in pairs)
    assert changed >= N - 2, "epoch 0 and epoch 1 drew the same augmentation"


def test_ray_reads_images_over_http_as_the_loader_reads_them_from_disk(
    ray: Any, labels: Path
) -> None:
    require("fsspec")
    require("aiohttp")
    from imgbatch.integrations.ray import to_ray_dataset

    options: dict[str, Any] = {"size": 12, "dtype": "uint8", "augment": AUGMENT, "seed": 2}
    expected, expected_labels = loader_epoch(labels, shuffle=False, **options)
    with FolderServer(labels.parent) as server:
        dataset = to_ray_dataset(f"{server.url}/list.txt", rows_per_block=8, **options)
        images, targets, _ = collect(dataset)
        assert server.requests["/3.img"] >= 1
    np.testing.assert_array_equal(targets, expected_labels)
    np.testing.assert_array_equal(images, expected)


def segmentation_set(root: Path) -> Path:
    """7 images with a mask (class ids 0-2 in bands, so a flip or a crop shows) and tags."""
    rows = ["image,mask,tags"]
    for k in range(7):
        height, width = 20 + 3 * k, 30 - 2 * k
        classes = (np.arange(width)[None, :] * 3 // width).repeat(height, 0).astype(np.uint8)
        write(root / f"{k}.png", encode(gradient(height, width, seed=k)))
        write(root / f"{k}m.png", encode(Image.fromarray(classes, mode="L")))
        rows.append(f"{k}.png,{k}m.png,{'|'.join('abc'[: 1 + k % 3])}")
    (root / "seg.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "seg.csv"


def test_ray_gives_the_loaders_masks_and_multi_hot_labels(ray: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.ray import to_ray_dataset

    segmentation_set(tmp_path)
    options: dict[str, Any] = {
        "size": (10, 12), "dtype": "uint8", "augment": AUGMENT, "seed": 4, "label_sep": "|",
        "label_column": "tags",
    }  # fmt: skip
    masked = {**options, "mask_column": "mask", "mask_fill": 7}
    ds = to_ray_dataset(tmp_path / "seg.csv", shuffle=True, rows_per_block=3, **masked)
    batches = list(ds.iter_batches(batch_format="numpy", batch_size=None))
    got_masks = np.concatenate([b["mask"] for b in batches])
    got_labels = np.concatenate([b["label"] for b in batches])
    loader = Loader(tmp_path / "seg.csv", batch_size=3, workers=2, **masked)
    want_masks = np.concatenate([m for _, m in loader])
    assert got_masks.dtype == np.uint8 and got_masks.shape == (7, 10, 12)
    np.testing.assert_array_equal(got_masks, want_masks)
    assert len(np.unique(got_masks)) >= 3  # not vacuous: several classes survive the crops
    labels = Loader(tmp_path / "seg.csv", batch_size=3, workers=2, **options)
    want_labels = np.concatenate([y for _, y in labels])
    assert got_labels.dtype == np.float32 and got_labels.shape == (7, 3)  # multi-hot a, b, c
    np.testing.assert_array_equal(got_labels, want_labels)


def test_a_block_of_multi_label_rows_never_builds_the_dense_matrix(
    ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgbatch.integrations.ray import DecodeRows

    manifest = read_manifest(segmentation_set(tmp_path), label_column="tags", label_sep="|")
    monkeypatch.setattr("imgbatch.manifest.table.DENSE_LIMIT", 3 * len(manifest) - 1)
    with pytest.raises(ValueError, match="dense"):
        manifest.labels  # noqa: B018  # what a task must not ask for
    sampler = Sampler(manifest, ImageOptions(8, dtype="uint8"))
    rows = np.array([5, 0, 3])
    block = DecodeRows(ray.put((sampler, rows)), 0)({"id": np.arange(3)})  # one task's work
    np.testing.assert_array_equal(block["label"], manifest.label_rows(rows))


def test_torch_batches_come_out_of_the_dataset(ray: Any, labels: Path) -> None:
    torch = require("torch")
    from imgbatch.integrations.ray import to_ray_dataset

    dataset = to_ray_dataset(labels, size=8, layout="chw")
    batches = list(dataset.iter_torch_batches(batch_size=10))
    assert [len(b["label"]) for b in batches] == [10, 10, 3]
    assert batches[0]["image"].shape == (10, 3, 8, 8)
    assert batches[0]["image"].dtype == torch.float32


def test_a_bad_file_fails_with_its_path_and_line(ray: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.ray import to_ray_dataset

    write(tmp_path / "good.png", encode(gradient(10, 10)))
    write(tmp_path / "bad.png", b"not an image")
    (tmp_path / "list.txt").write_text("good.png 0\nbad.png 1\n", encoding="utf-8")
    # Ray passes the task's error on as text inside its own RayTaskError.
    with pytest.raises(ray.exceptions.RayTaskError, match=r"ImageReadError: .*bad\.png.*line 2"):
        collect(to_ray_dataset(tmp_path / "list.txt", size=8))


def test_scan_on_ray_reports_what_the_local_scan_reports(ray: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.ray import scan_dataset

    bad_set = build_test_set(tmp_path / "data")
    for quick in (False, True):
        local = scan(bad_set, workers=2, quick=quick, size=32)
        remote = scan_dataset(bad_set, quick=quick, size=32, rows_per_block=7)
        assert remote.problems == local.problems and len(local.problems) >= 3
        assert remote.sizes == local.sizes
        assert (remote.duplicates, remote.typos) == (local.duplicates, local.typos)
        assert remote.histogram == local.histogram
        assert untimed(remote.to_text()) == untimed(local.to_text())


def test_options_are_checked_before_ray_runs_anything(ray: Any, labels: Path) -> None:
    from imgbatch.integrations.ray import to_ray_dataset

    with pytest.raises(ValueError, match="size must be an int or a"):
        to_ray_dataset(labels, size=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows_per_block must be a positive int, got 0"):
        to_ray_dataset(labels, size=8, rows_per_block=0)
    with pytest.raises(ValueError, match="epoch must be a non-negative int, got -1"):
        to_ray_dataset(labels, size=8, epoch=-1)


def test_importing_imgbatch_does_not_import_ray() -> None:
    code = "import imgbatch, imgbatch.integrations.ray, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
