"""The Hugging Face adapter: a Loader over a ``datasets.Dataset``'s Arrow table, decoded by
imgbatch's threads, equal to the loader over the image files the dataset was made from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgbatch import ImageReadError, Loader, ManifestError
from imgbatch.manifest import EmbeddedPaths
from tests.helpers import assert_same_batches, encode, gradient, require, write


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No hub access: every test runs with datasets and huggingface_hub offline; and no
    progress bars (tqdm's monitor thread would outlive the test)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = require("datasets")
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


ROWS = 30
NAMES = ["zebra", "ant", "moth"]  # ClassLabel order, not sorted: the ids must be kept
OPTIONS: dict[str, Any] = {"batch_size": 8, "size": 16, "workers": 2}


def make(root: Path) -> tuple[Any, Path]:
    """A dataset of ``ROWS`` images (bytes in an ``Image`` column, a ``ClassLabel``) and a csv
    of the same images as files, labelled with the class ids."""
    datasets = require("datasets")
    blobs = [encode(gradient(18 + i % 4, 22, seed=i), "JPEG" if i % 3 else "PNG")
             for i in range(ROWS)]  # fmt: skip
    ids = [(i * 5) % 3 for i in range(ROWS)]
    rows = ["path,label"]
    for i, blob in enumerate(blobs):
        write(root / f"{i}.img", blob)
        rows.append(f"{i}.img,{ids[i]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=NAMES)}
    )
    cells = [{"bytes": b, "path": None} for b in blobs]
    ds = datasets.Dataset.from_dict({"image": cells, "label": ids}, features=features)
    return ds, root / "labels.csv"


def test_a_dataset_in_memory_gives_the_arrays_of_the_files(tmp_path: Path) -> None:
    from imgbatch.integrations.hf import from_hf_dataset

    ds, csv = make(tmp_path)
    loader = from_hf_dataset(ds, shuffle=False, **OPTIONS)
    assert loader.classes == tuple(NAMES)
    assert isinstance(loader.manifest.paths, EmbeddedPaths)
    assert loader.manifest.paths[4] == "dataset#row=4"
    assert_same_batches(loader, Loader(csv, shuffle=False, label_type="int", **OPTIONS))
    assert_same_batches(
        from_hf_dataset(ds, seed=3, **OPTIONS), Loader(csv, seed=3, label_type="int", **OPTIONS)
    )
    assert ds.features["image"].decode  # the caller's dataset is left as it was


def test_a_saved_dataset_is_read_through_its_memory_map(tmp_path: Path) -> None:
    from imgbatch.integrations.hf import from_hf_dataset

    datasets = require("datasets")
    ds, csv = make(tmp_path)
    ds.save_to_disk(str(tmp_path / "saved"), max_shard_size="20KB")  # several shards
    saved = datasets.load_from_disk(str(tmp_path / "saved"))
    assert len(saved.cache_files) > 1
    assert_same_batches(from_hf_dataset(saved, seed=1, **OPTIONS),
                Loader(csv, seed=1, label_type="int", **OPTIONS))  # fmt: skip


def test_shuffled_and_selected_datasets_follow_their_indices(tmp_path: Path) -> None:
    from imgbatch.integrations.hf import from_hf_dataset, hf_manifest

    ds, csv = make(tmp_path)
    picked = ds.shuffle(seed=0).select(range(5, 25))
    order = [int(i) for i in picked._indices.column(0).to_pylist()]
    m = hf_manifest(picked)
    assert [m.paths.relative(i) for i in range(3)] == [f"dataset#row={r}" for r in order[:3]]
    assert m.lines.tolist() == [r + 1 for r in order]
    from imgbatch import read_manifest

    want = read_manifest(csv, label_type="int").subset(order)
    np.testing.assert_array_equal(m.labels, want.labels)
    assert_same_batches(from_hf_dataset(picked, shuffle=False, **OPTIONS),
                Loader(want, shuffle=False, **OPTIONS))  # fmt: skip


def test_a_parquet_file_written_by_datasets(tmp_path: Path) -> None:
    from imgbatch import read_manifest

    ds, csv = make(tmp_path)
    ds.to_parquet(str(tmp_path / "train.parquet"))
    m = read_manifest(tmp_path / "train.parquet")
    assert m.classes == tuple(NAMES)
    assert_same_batches(
        Loader(m, seed=2, **OPTIONS), Loader(csv, seed=2, label_type="int", **OPTIONS)
    )


def test_path_columns_labels_and_errors(tmp_path: Path) -> None:
    from imgbatch.integrations.hf import from_hf_dataset, hf_manifest

    datasets = require("datasets")
    ds, _ = make(tmp_path)
    files = datasets.Dataset.from_dict(
        {"file": [str(tmp_path / f"{i}.img") for i in range(4)], "y": [0.5, 1.0, 2.0, 3.5]}
    )
    m = hf_manifest(files, image_column="file", label_column="y")
    assert m.paths[1] == os.path.join(tmp_path, "1.img")
    assert m.labels.dtype == np.float32 and m.labels.tolist() == [0.5, 1.0, 2.0, 3.5]
    assert hf_manifest(ds, label_column=None).labels.tolist() == [-1] * ROWS
    tagged = datasets.Dataset.from_dict({"file": files["file"], "tags": ["b|a", "", "a", "c|a"]})
    loader = from_hf_dataset(tagged, image_column="file", label_column="tags", label_sep="|")
    assert loader.classes == ("a", "b", "c")
    assert loader.manifest.label_rows([0, 1, 3]).tolist() == [[1, 1, 0], [0, 0, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="label_column=None reads no labels"):
        hf_manifest(tagged, image_column="file", label_column=None, label_sep="|")
    pinned = hf_manifest(ds, classes=["ant", "moth", "zebra"])
    assert pinned.labels[:3].tolist() == [2, 1, 0]  # zebra, moth, ant: ids 0, 2, 1 renamed
    with pytest.raises(ManifestError, match=r"dataset: no label column 'tag' \(found 'image'"):
        hf_manifest(ds, label_column="tag")
    with pytest.raises(ManifestError, match=r"column 'y' is double: not image bytes"):
        hf_manifest(files, image_column="y", label_column="y")
    with pytest.raises(TypeError, match=r"a DatasetDict: pick a split"):
        hf_manifest(datasets.DatasetDict({"train": ds}))
    broken = ds.cast_column("image", datasets.Image(decode=False)).map(
        lambda row, i: {"image": {"bytes": row["image"]["bytes"][:30] if i == 7 else
                                  row["image"]["bytes"], "path": None}},
        with_indices=True,
    )  # fmt: skip
    with pytest.raises(ImageReadError, match=r"dataset#row=7: .*\(from dataset, line 8\)"):
        list(from_hf_dataset(broken, shuffle=False, **OPTIONS))
