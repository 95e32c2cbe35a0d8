"""Parquet and Arrow IPC files as manifests: path columns, embedded image bytes read lazily by
the read stage, the same arrays as the image files they came from, errors naming the file and
row, and memory flat in the number of rows."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imgbatch
from imgbatch import ImageReadError, Loader, ManifestError, read_manifest
from imgbatch.cli import main
from imgbatch.manifest import EmbeddedPaths
from imgbatch.read import read_embedded
from imgbatch.scan import scan
from tests.helpers import assert_same_batches, encode, gradient, require, write

pa = require("pyarrow")
pq = require("pyarrow.parquet")
feather = require("pyarrow.feather")

ROWS = 40
NAMES = ("cat", "dog", "owl")
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


class Images:
    """``ROWS`` small images as files with a labels.csv, and their bytes and labels."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names = [f"img_{i:03d}.{'jpg' if i % 2 else 'png'}" for i in range(ROWS)]
        self.blobs = [
            encode(gradient(20 + i % 7, 24 + i % 5, seed=i), "JPEG" if i % 2 else "PNG")
            for i in range(ROWS)
        ]
        self.labels = [NAMES[(i * 7) % 3] for i in range(ROWS)]
        rows = ["path,label"]
        for name, blob, label in zip(self.names, self.blobs, self.labels, strict=True):
            write(root / name, blob)
            rows.append(f"{name},{label}")
        self.csv = root / "labels.csv"
        self.csv.write_text("\n".join(rows) + "\n", encoding="utf-8")

    def embedded(self, name: str = "train.parquet", **columns: Any) -> Path:
        """A Parquet file of the images as Hugging Face ``Image`` structs, row groups of 16."""
        cells = [{"bytes": b, "path": None} for b in self.blobs]
        table = pa.table({"image": pa.array(cells, IMAGE), "label": self.labels, **columns})
        pq.write_table(table, self.root / name, row_group_size=16)
        return self.root / name


@pytest.fixture
def images(tmp_path: Path) -> Images:
    return Images(tmp_path)


def embedded(m: imgbatch.Manifest) -> EmbeddedPaths:
    assert isinstance(m.paths, EmbeddedPaths)
    return m.paths


OPTIONS: dict[str, Any] = {"batch_size": 8, "size": 16, "workers": 2}


def test_path_column_reads_like_the_csv(images: Images) -> None:
    pq.write_table(pa.table({"label": images.labels, "path": images.names}),
                   images.root / "paths.parquet", row_group_size=7)  # fmt: skip
    m, ref = read_manifest(images.root / "paths.parquet"), read_manifest(images.csv)
    assert list(m.paths) == list(ref.paths)
    np.testing.assert_array_equal(m.labels, ref.labels)
    assert m.classes == ref.classes == NAMES and m.format == "parquet"
    assert m.lines.tolist() == list(range(1, ROWS + 1))  # table row + 1
    for shuffle in (False, True):
        assert_same_batches(Loader(m, shuffle=shuffle, seed=4, **OPTIONS),
                            Loader(ref, shuffle=shuffle, seed=4, **OPTIONS))  # fmt: skip


@pytest.mark.parametrize("kind", ["struct", "binary", "arrow-file", "arrow-stream"])
def test_embedded_bytes_give_the_arrays_of_the_files(images: Images, kind: str) -> None:
    if kind == "struct":
        source = images.embedded()
    elif kind == "binary":
        source = images.root / "binary.parquet"
        table = pa.table({"label": images.labels, "jpeg": pa.array(images.blobs, pa.binary())})
        pq.write_table(table, source, row_group_size=9)
    else:
        source = images.root / "train.arrow"
        table = pa.table({"img": pa.array(images.blobs, pa.large_binary()), "y": images.labels})
        if kind == "arrow-file":
            feather.write_feather(table, source, chunksize=11)
        else:
            with pa.OSFile(str(source), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
                for batch in table.to_batches(max_chunksize=11):
                    w.write_batch(batch)
    m = read_manifest(source)
    assert isinstance(m.paths, EmbeddedPaths) and len(m) == ROWS
    assert m.paths[3] == f"{source}#row=3" and m.classes == NAMES
    assert [read_embedded(m.paths, i) for i in range(ROWS)] == images.blobs
    ref = read_manifest(images.csv)
    np.testing.assert_array_equal(m.labels, ref.labels)
    assert_same_batches(Loader(source, shuffle=False, **OPTIONS),
                        Loader(images.csv, shuffle=False, **OPTIONS))  # fmt: skip
    # Shuffled with a seed: the file loader's batches, over two epochs of one loader each.
    a, b = Loader(source, seed=11, **OPTIONS), Loader(images.csv, seed=11, **OPTIONS)
    for _ in range(2):
        assert_same_batches(a, b)


def test_subset_and_load_eager_read_the_right_rows(images: Images) -> None:
    m = read_manifest(images.embedded())
    part = m.subset([30, 2, 17])
    assert [part.paths.relative(i) for i in range(3)] == [
        f"train.parquet#row={r}" for r in (30, 2, 17)
    ]
    x, _ = imgbatch.load_eager(part, size=12, workers=2)
    want, _ = imgbatch.load_eager(read_manifest(images.csv).subset([30, 2, 17]), size=12, workers=2)
    np.testing.assert_array_equal(x, want)
    assert part.lines.tolist() == [31, 3, 18]


def test_random_access_resume_and_pickling(images: Images) -> None:
    source = images.embedded()
    files = Loader(images.csv, seed=2, **OPTIONS)
    table = Loader(source, seed=2, **OPTIONS)
    for got, want in zip(table.batch(3, epoch=1), files.batch(3, epoch=1), strict=True):
        np.testing.assert_array_equal(got, want)
    stream = iter(table)
    next(stream), next(stream)
    state = table.state_dict()
    stream.close()  # type: ignore[attr-defined]
    resumed = Loader(source, seed=2, **OPTIONS)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == len(files) - 2
    np.testing.assert_array_equal(rest[0][0], files.batch(2, epoch=0)[0])
    other = images.embedded("other.parquet")  # the same rows under another name
    with pytest.raises(ValueError, match="fingerprint"):
        Loader(other, seed=2, **OPTIONS).load_state_dict(state)
    copy = pickle.loads(pickle.dumps(read_manifest(source)))  # a process of its own
    assert read_embedded(embedded(copy), 5) == images.blobs[5]
    arrow = images.root / "t.arrow"
    feather.write_feather(
        pa.table({"image": pa.array(images.blobs), "label": images.labels}), arrow
    )
    mapped = read_manifest(arrow)
    assert read_embedded(embedded(mapped), 1) == images.blobs[1]  # the file is mapped now
    assert read_embedded(embedded(pickle.loads(pickle.dumps(mapped))), 2) == images.blobs[2]


def test_labels_through_the_label_builder(tmp_path: Path) -> None:
    blobs = [encode(gradient(8, 8, seed=i), "PNG") for i in range(4)]
    column = pa.array(blobs, pa.binary())
    ints = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"image": column, "label": [3, 1, 2, 3]}), ints)
    m = read_manifest(ints)
    assert m.classes is None and m.labels.dtype == np.int64 and m.labels.tolist() == [3, 1, 2, 3]
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"image": column, "target": [1.0, 2.0, 0.5, 3.0]}), floats)
    m = read_manifest(floats)  # whole numbers in a float column stay regression targets
    assert m.labels.dtype == np.float32 and m.labels.tolist() == [1.0, 2.0, 0.5, 3.0]
    names = tmp_path / "names.parquet"
    pq.write_table(pa.table({"image": column, "class": ["b", "a", "b", "c"]}), names)
    assert read_manifest(names).labels.tolist() == [1, 0, 1, 2]
    pinned = read_manifest(names, classes=("c", "b", "a", "z"))
    assert pinned.labels.tolist() == [1, 2, 1, 0] and pinned.classes == ("c", "b", "a", "z")
    with pytest.raises(ManifestError, match=r"names\.parquet, line 4: label 'c' is not one"):
        read_manifest(names, classes=("a", "b"))


def test_path_only_multi_label_and_targets(tmp_path: Path) -> None:
    blobs = [encode(gradient(8, 8, seed=i), "PNG") for i in range(4)]
    source = tmp_path / "t.parquet"
    columns = {"image": pa.array(blobs, pa.binary()), "tags": ["a|b", "b", "", "c|a"],
               "x": [0.5, 1.0, 1.5, 2.0], "y": [1, 2, 3, 4]}  # fmt: skip
    pq.write_table(pa.table(columns), source)
    unlabelled = read_manifest(source, label_column=None)
    assert unlabelled.labels.tolist() == [-1] * 4 and unlabelled.classes is None
    tags = read_manifest(source, label_column="tags", label_sep="|")
    assert tags.classes == ("a", "b", "c")
    assert tags.labels.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 1]]
    assert isinstance(tags.paths, EmbeddedPaths)
    targets = read_manifest(source, label_column=["x", "y"])
    assert targets.labels.tolist() == [[0.5, 1], [1, 2], [1.5, 3], [2, 4]]
    rows = [r.tolist() for _, _, r in Loader(source, label_column=None, batch_size=3, size=8,
                                             shuffle=False, with_index=True)]  # fmt: skip
    assert rows == [[0, 1, 2], [3]]


def test_class_label_names_from_hugging_face_metadata(tmp_path: Path) -> None:
    blobs = [encode(gradient(8, 8, seed=i), "PNG") for i in range(3)]
    meta = {"info": {"features": {"label": {"names": ["zebra", "ant"], "_type": "ClassLabel"}}}}
    table = pa.table({"image": pa.array(blobs, pa.binary()), "label": [1, 0, 1]})
    table = table.replace_schema_metadata({"huggingface": json.dumps(meta)})
    pq.write_table(table, tmp_path / "hf.parquet")
    m = read_manifest(tmp_path / "hf.parquet")
    assert m.classes == ("zebra", "ant") and m.labels.tolist() == [1, 0, 1]  # the ids kept
    assert read_manifest(tmp_path / "hf.parquet", label_type="int").classes is None


def test_a_corrupt_embedded_image_names_the_file_and_row(images: Images) -> None:
    blobs = list(images.blobs)
    blobs[21] = blobs[21][:40]  # a truncated JPEG
    cells = [{"bytes": b, "path": None} for b in blobs]
    source = images.root / "bad.parquet"
    pq.write_table(pa.table({"image": pa.array(cells, IMAGE), "label": images.labels}), source,
                   row_group_size=16)  # fmt: skip
    with pytest.raises(ImageReadError) as info:
        list(Loader(source, shuffle=False, **OPTIONS))
    error = info.value
    assert error.path == f"{source}#row=21" and error.line == 22
    assert error.manifest == str(source) and "bad.parquet#row=21" in str(error)
    skipping = Loader(source, shuffle=False, on_error="skip", **OPTIONS)
    with pytest.warns(imgbatch.ImgbatchWarning):
        assert sum(len(y) for _, y in skipping) == ROWS - 1
    report = scan(source, workers=2)
    assert [(p.row, p.line, p.path) for p in report.problems] == [(21, 22, "bad.parquet#row=21")]
    assert report.problems[0].reason == "truncated"


def test_missing_or_ambiguous_columns_are_manifest_errors(images: Images, tmp_path: Path) -> None:
    source = images.embedded(other=pa.array(images.blobs, pa.binary()))
    assert embedded(read_manifest(source)).images.column == "image"  # the one named "image"
    assert embedded(read_manifest(source, image_column="other")).images.column == "other"
    with pytest.raises(ManifestError, match=r"train\.parquet: no image column 'photo'"):
        read_manifest(source, image_column="photo")
    with pytest.raises(ManifestError, match=r"header has no 'y'.*pass label_column="):
        read_manifest(source, label_column="y")
    two = tmp_path / "two.parquet"
    pq.write_table(pa.table({"a": images.blobs, "b": images.blobs, "label": images.labels}), two)
    with pytest.raises(ManifestError, match=r"several image columns \('a', 'b'\)"):
        read_manifest(two)
    unlabelled = tmp_path / "nolabel.parquet"
    pq.write_table(pa.table({"image": pa.array(images.blobs, pa.binary())}), unlabelled)
    with pytest.raises(ManifestError, match=r"nolabel\.parquet: header has no label column"):
        read_manifest(unlabelled)
    nulls = tmp_path / "null.parquet"
    labels = [*images.labels[:5], None, *images.labels[6:]]
    pq.write_table(pa.table({"image": pa.array(images.blobs, pa.binary()), "label": labels}), nulls)
    with pytest.raises(ManifestError, match=r"null\.parquet, line 6: row has no label"):
        read_manifest(nulls)
    with pytest.raises(ValueError, match="image_column applies to Parquet and Arrow"):
        read_manifest(images.csv, image_column="image")
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ManifestError, match=r"fake\.parquet: not a readable Parquet file"):
        read_manifest(tmp_path / "fake.parquet")


def test_null_cells_and_struct_paths(images: Images) -> None:
    outside = images.root / "outside.png"
    write(outside, images.blobs[0])
    cells = [{"bytes": None, "path": "outside.png"}, None, {"bytes": b"", "path": None}]
    source = images.root / "cells.parquet"
    pq.write_table(pa.table({"image": pa.array(cells, IMAGE), "label": [0, 1, 2]}), source)
    m = read_manifest(source)
    assert read_embedded(embedded(m), 0) == images.blobs[0]  # a path-only cell: that file is read
    with pytest.raises(ImageReadError, match=r"cells\.parquet#row=1: empty cell"):
        read_embedded(embedded(m), 1)
    with pytest.raises(ImageReadError, match=r"cells\.parquet#row=2: empty image"):
        read_embedded(embedded(m), 2)
    too_large = r"train\.parquet#row=0: too large: [0-9,]+ bytes exceeds max_file_bytes=4"
    with pytest.raises(ImageReadError, match=too_large):
        read_embedded(embedded(read_manifest(images.embedded())), 0, max_bytes=4)


def test_a_file_changed_after_reading_is_an_image_read_error(images: Images) -> None:
    source = images.embedded()
    m = read_manifest(source)
    pq.write_table(pa.table({"image": pa.array(images.blobs[:5], pa.binary())}), source)
    with pytest.raises(ImageReadError, match="has 5 rows, not 40: it changed after it was read"):
        read_embedded(embedded(m), 0)


def test_info_and_scan_commands(images: Images, capsys: pytest.CaptureFixture[str]) -> None:
    source = str(images.embedded())
    assert main(["info", source]) == 0
    out = capsys.readouterr().out
    assert f"{source}: parquet, 40 rows" in out
    assert "images: embedded bytes, column 'image', 3 row groups" in out
    assert main(["scan", "--quick", source]) == 0
    assert "clean" in capsys.readouterr().out


# The child's own peak: VmHWM, the high-water mark of the memory it runs in since its exec.
# (Not ru_maxrss: Linux carries it across exec, so a child started by a large pytest process
# would report the parent's size.)
PEAK = """
import sys
import imgbatch
count = sum(len(y) for _, y in imgbatch.Loader(sys.argv[1], batch_size=64, size=32,
                                                 shuffle=False, workers=2))
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
print(count, int(status[0]) / 1024)
"""


def peak_rss(source: Path) -> tuple[int, float]:
    """Rows read and peak RSS (MB) of a fresh interpreter iterating a loader over ``source``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(PEAK), str(source)], env=env,
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    count, peak = done.stdout.split()
    return int(count), float(peak)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (VmHWM)")
def test_memory_is_flat_in_the_number_of_rows(tmp_path: Path) -> None:
    """10x the rows (and 10x the bytes: 1,000 distinct 96x96 noise JPEGs of ~11 KB, repeated)
    in row groups of 256: the peak RSS stays within 1.25x + 20 MB of the 1k-row file's.

    Measured here: see docs/parquet.md (``scripts/bench_parquet.py --memory``). Holding the
    image column would add its ~100 MB.
    """
    import cv2

    rng = np.random.default_rng(0)
    blobs = [
        cv2.imencode(".jpg", rng.integers(0, 256, (96, 96, 3), np.uint8))[1].tobytes()
        for _ in range(1000)
    ]
    sources = {}
    for rows in (1000, 10_000):
        column = pa.array([blobs[i % 1000] for i in range(rows)], pa.binary())
        table = pa.table({"image": column, "label": np.arange(rows) % 10})
        sources[rows] = tmp_path / f"{rows}.parquet"
        pq.write_table(table, sources[rows], row_group_size=256, use_dictionary=False)
    small, large = (os.path.getsize(sources[n]) for n in (1000, 10_000))
    assert large > 9.5 * small > 9.5 * 10e6
    (rows_small, peak_small), (rows_large, peak_large) = map(peak_rss, sources.values())
    assert (rows_small, rows_large) == (1000, 10_000)
    assert peak_large < 1.25 * peak_small + 20, (peak_small, peak_large)


def test_bench_parquet_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark script on a few sample images, one round: every case ran (no figure is
    checked: they mean nothing at this size)."""
    import importlib.util

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    spec = importlib.util.spec_from_file_location("bench_parquet", scripts / "bench_parquet.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    labels = scripts.parent / "sample_data" / "labels.csv"
    argv = ["--labels", str(labels), "--limit", "12", "--repeats", "1", "--batch-size", "4"]
    assert bench.main([*argv, "--size", "16", "--row-groups", "4"]) == 0
    out = capsys.readouterr().out
    for case in ("files", "parquet, row groups of 4", "arrow (memory-mapped)"):
        assert f"\n{case} " in out
    assert "12 images of" in out
