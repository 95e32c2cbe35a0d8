"""Label forms beyond one class per row: multi-label, multi-target, path-only lists, with_index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imgbatch
from imgbatch.cli import main
from imgbatch.manifest import MultiLabels
from tests.helpers import encode, solid, write

ROOT = Path(__file__).resolve().parent.parent
ROWS = 10


def row_images(root: Path, rows: int = ROWS) -> list[str]:
    """``rows`` tiny PNGs whose red channel encodes the row number (10 * row)."""
    names = []
    for i in range(rows):
        name = f"img_{i:02d}.png"
        write(root / name, encode(solid(6, 6, (10 * i, 0, 0))))
        names.append(name)
    return names


def row_of(images: np.ndarray) -> list[int]:
    """The row each uint8 image was made for (its red value / 10)."""
    return [int(v) // 10 for v in images[:, 0, 0, 0]]


TAGS = ["cat|dog", "", "dog", " bird | cat ", "cat||cat", "dog", "bird", "cat", "", "dog|bird"]
EXPECTED = [{"cat", "dog"}, set(), {"dog"}, {"bird", "cat"}, {"cat"}, {"dog"}, {"bird"},
            {"cat"}, set(), {"dog", "bird"}]  # fmt: skip
CLASSES = ("bird", "cat", "dog")


def multi_hot(names: set[str]) -> list[float]:
    return [1.0 if c in names else 0.0 for c in CLASSES]


@pytest.fixture
def tags_csv(tmp_path: Path) -> Path:
    names = row_images(tmp_path)
    lines = ["path,tags"] + [f"{n},{t}" for n, t in zip(names, TAGS, strict=True)]
    (tmp_path / "tags.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "tags.csv"


@pytest.fixture
def tags_jsonl(tmp_path: Path) -> Path:
    names = row_images(tmp_path)
    rows = [{"path": n, "label": sorted(e)} for n, e in zip(names, EXPECTED, strict=True)]
    rows[2]["label"] = "dog"  # a plain string among lists: one name
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "tags.jsonl").write_text(text, encoding="utf-8")
    return tmp_path / "tags.jsonl"


# -- multi-label ------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["tags_csv", "tags_jsonl"])
def test_multi_hot_labels_per_batch(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    sep = "|" if fixture == "tags_csv" else None
    loader = imgbatch.Loader(path, batch_size=4, size=4, dtype="uint8", label_sep=sep, seed=3)
    assert loader.classes == CLASSES
    seen = 0
    for images, labels in loader:
        assert labels.dtype == np.float32 and labels.shape == (len(images), 3)
        for row, hot in zip(row_of(images), labels.tolist(), strict=True):
            assert hot == multi_hot(EXPECTED[row]), f"row {row}"
        seen += len(images)
    assert seen == ROWS


def test_multi_label_manifest_is_compact(tags_csv: Path) -> None:
    m = imgbatch.read_manifest(tags_csv, label_sep="|")
    multi = m.multi_labels
    assert isinstance(multi, MultiLabels)
    assert multi.offsets.dtype == np.int64 and multi.offsets.shape == (ROWS + 1,)
    assert multi.ids.dtype == np.int64 and len(multi.ids) == sum(map(len, EXPECTED))
    path, ids = m[0]
    assert path.endswith("img_00.png") and np.asarray(ids).tolist() == [1, 2]  # cat, dog
    assert np.asarray(m[1][1]).tolist() == []  # an empty cell: no labels
    assert m.labels.shape == (ROWS, 3)  # dense, built when asked for
    assert m.labels.tolist() == [multi_hot(e) for e in EXPECTED]
    assert m.label_rows([3, 1]).tolist() == [multi_hot(EXPECTED[3]), multi_hot(set())]
    assert m.label_kind == "multi"
    sub = m.subset([9, 0])
    assert sub.labels.tolist() == [multi_hot(EXPECTED[9]), multi_hot(EXPECTED[0])]


def test_large_multi_label_manifest_never_dense() -> None:
    rows, classes = 200_000, 5_000
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 4, rows)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    multi = MultiLabels(offsets, rng.integers(0, classes, int(offsets[-1])), classes)
    names = [f"c{i}" for i in range(classes)]
    m = imgbatch.Manifest([f"{i}.jpg" for i in range(rows)], multi, classes=names)
    assert multi.nbytes < 8 * (rows + 1) + 8 * 4 * rows  # CSR: offsets + ids, no N x C matrix
    with pytest.raises(ValueError, match="multi_labels"):
        m.labels  # 10^9 values: refused  # noqa: B018
    loader = imgbatch.Loader(m, size=4, label_type="class")  # takes it without m.labels
    assert loader.manifest is m and loader.classes == tuple(names)
    batch = m.label_rows(np.array([5, 7]))
    assert batch.shape == (2, classes) and batch.sum() == lengths[5] + lengths[7]


def test_pinned_classes_and_unknown_names(tags_csv: Path) -> None:
    m = imgbatch.read_manifest(tags_csv, label_sep="|", classes=("dog", "cat", "bird", "fish"))
    assert m.classes == ("dog", "cat", "bird", "fish")
    assert m.label_rows([0]).tolist() == [[1.0, 1.0, 0.0, 0.0]]
    with pytest.raises(imgbatch.ManifestError, match="'bird' is not one of") as info:
        imgbatch.read_manifest(tags_csv, label_sep="|", classes=("cat", "dog"))
    assert info.value.line == 5 and info.value.path == str(tags_csv)  # the header is line 1
    renumbered = imgbatch.read_manifest(tags_csv, label_sep="|").with_classes(
        ("dog", "cat", "bird")
    )
    assert renumbered.labels.tolist() == m.labels[:, :3].tolist()


def test_multi_label_options_checked(tags_csv: Path) -> None:
    with pytest.raises(ValueError, match="label_sep"):
        imgbatch.read_manifest(tags_csv, label_sep="")
    with pytest.raises(imgbatch.ManifestError, match="label_type"):
        imgbatch.read_manifest(tags_csv, label_sep="|", label_type="int")
    given = imgbatch.read_manifest(tags_csv, label_sep="|")
    with pytest.raises(ValueError, match="label files"):
        imgbatch.Loader(given, label_sep="|", size=4)
    with pytest.raises(ValueError, match="label_column=None reads no labels"):
        imgbatch.read_manifest(tags_csv, label_column=None, label_sep="|")


def test_load_eager_multi_hot(tags_csv: Path) -> None:
    images, labels = imgbatch.load_eager(tags_csv, size=4, dtype="uint8", label_sep="|")
    assert labels.tolist() == [multi_hot(EXPECTED[r]) for r in row_of(images)]


# -- multi-target regression ------------------------------------------------------------------


def test_multi_target_labels(tmp_path: Path) -> None:
    names = row_images(tmp_path)
    lines = ["path,x,y,note"] + [f"{n},{i},{i / 4},r{i}" for i, n in enumerate(names)]
    (tmp_path / "xy.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    loader = imgbatch.Loader(tmp_path / "xy.csv", batch_size=3, size=4, dtype="uint8",
                             label_column=["x", "y"])  # fmt: skip
    assert loader.manifest.label_kind == "targets" and loader.classes is None
    for images, labels in loader:
        assert labels.dtype == np.float32 and labels.shape == (len(images), 2)
        rows = row_of(images)
        np.testing.assert_allclose(labels, [[r, r / 4] for r in rows], atol=1e-6)
    by_position = imgbatch.read_manifest(tmp_path / "xy.csv", label_column=[2, 1])
    assert by_position.labels[4].tolist() == [1.0, 4.0]


def test_non_numeric_target_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "xy.csv"
    path.write_text("path,x,y\na.jpg,1,2\nb.jpg,3,oops\n", encoding="utf-8")
    with pytest.raises(imgbatch.ManifestError, match="column 'y'") as info:
        imgbatch.read_manifest(path, label_column=["x", "y"])
    assert info.value.line == 3 and str(path) in str(info.value) and "oops" in str(info.value)
    with pytest.raises(ValueError, match="label_sep"):
        imgbatch.read_manifest(path, label_column=["x", "y"], label_sep="|")


# -- path-only lists --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("paths.txt", "img_00.png\nimg_01.png\n"),
        ("paths.csv", "path\nimg_00.png\nimg_01.png\n"),
        ("paths.csv", "img_00.png\nimg_01.png\n"),
        ("paths.jsonl", '{"path": "img_00.png"}\n{"path": "img_01.png"}\n'),
    ],
)
def test_path_only_lists(tmp_path: Path, name: str, text: str) -> None:
    row_images(tmp_path, 2)
    (tmp_path / name).write_text(text, encoding="utf-8")
    m = imgbatch.read_manifest(tmp_path / name)
    assert not m.labeled and m.label_kind == "none" and m.classes is None
    assert m.labels.dtype == np.int64 and m.labels.tolist() == [-1, -1]
    assert [Path(p).name for p in m.paths] == ["img_00.png", "img_01.png"]
    images, labels = next(iter(imgbatch.Loader(tmp_path / name, size=4, shuffle=False)))
    assert images.shape == (2, 4, 4, 3) and labels.tolist() == [-1, -1]


def test_path_only_txt_keeps_spaces_and_label_column_none(tmp_path: Path) -> None:
    (tmp_path / "paths.txt").write_text("my photo.jpg\nb.jpg\n", encoding="utf-8")
    assert [Path(p).name for p in imgbatch.read_manifest(tmp_path / "paths.txt").paths] == [
        "my photo.jpg", "b.jpg"
    ]  # fmt: skip
    (tmp_path / "l.csv").write_text("path,label\na.jpg,cat\n", encoding="utf-8")
    m = imgbatch.read_manifest(tmp_path / "l.csv", label_column=None)
    assert m.labels.tolist() == [-1] and m.classes is None
    with pytest.raises(imgbatch.ManifestError, match="path-only"):
        imgbatch.read_manifest(tmp_path / "l.csv", label_column=None, classes=("cat",))


# -- with_index -------------------------------------------------------------------------------


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    names = row_images(tmp_path, 11)
    lines = ["path,label"] + [f"{n},{100 + i}" for i, n in enumerate(names)]
    (tmp_path / "n.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "n.csv"


def check_rows(loader: imgbatch.Loader, batch: tuple[np.ndarray, ...]) -> list[int]:
    images, labels, rows = batch
    assert rows.dtype == np.int64
    assert row_of(images) == rows.tolist()
    assert labels.tolist() == [100 + r for r in rows.tolist()]
    paths = loader.manifest.paths[rows]
    assert [Path(p).name for p in paths] == [f"img_{r:02d}.png" for r in rows.tolist()]
    out: list[int] = rows.tolist()
    return out


def test_with_index_rows_match_images_labels_and_paths(numbered: Path) -> None:
    loader = imgbatch.Loader(numbered, batch_size=4, size=4, dtype="uint8", seed=5,
                             with_index=True)  # fmt: skip
    served = [r for batch in loader for r in check_rows(loader, batch)]
    assert sorted(served) == list(range(11)) and served != sorted(served)  # shuffled
    assert check_rows(loader, loader.batch(1, epoch=0)) == served[4:8]
    for x, y, rows in imgbatch.batches(numbered, batch_size=5, size=4, dtype="uint8",
                                       with_index=True):  # fmt: skip
        check_rows(loader, (x, y, rows))


def test_with_index_skip_ranks_and_resume(numbered: Path) -> None:
    (numbered.parent / "img_03.png").write_bytes(b"not an image")
    options: dict[str, Any] = dict(batch_size=3, size=4, dtype="uint8", with_index=True, seed=1)
    loader = imgbatch.Loader(numbered, on_error="skip", **options)
    with pytest.warns(imgbatch.ImgbatchWarning):
        served = [r for batch in loader for r in check_rows(loader, batch)]
    assert sorted(served) == [r for r in range(11) if r != 3]
    (numbered.parent / "img_03.png").write_bytes(encode(solid(6, 6, (30, 0, 0))))
    shards = [imgbatch.Loader(numbered, rank=k, world_size=2, **options) for k in range(2)]
    per_rank = [[r for b in s for r in check_rows(s, b)] for s in shards]
    assert sorted(per_rank[0] + per_rank[1]) == [*range(11), per_rank[1][-1]]  # one pad
    first = imgbatch.Loader(numbered, **options)
    run = iter(first)
    check_rows(first, next(run))
    state = first.state_dict()
    rest = [check_rows(first, b) for b in run]
    again = imgbatch.Loader(numbered, **options)
    again.load_state_dict(state)
    assert [check_rows(again, b) for b in again] == rest


def test_paths_fancy_indexing(numbered: Path) -> None:
    paths = imgbatch.read_manifest(numbered).paths
    assert [Path(p).name for p in paths[np.array([2, 0])]] == ["img_02.png", "img_00.png"]
    assert paths[[1]] == [paths[1]] and paths[np.int64(4)] == paths[4]
    assert paths[np.arange(11) == 7] == [paths[7]]


# -- info, scan, predict ----------------------------------------------------------------------


def test_info_and_scan_count_each_name(tags_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tags_csv), "--label-sep", "|"]) == 0
    out = capsys.readouterr().out
    counts = {c: sum(c in e for e in EXPECTED) for c in CLASSES}  # bird 3, cat 4, dog 4
    for i, name in enumerate(CLASSES):
        want = [str(i), name, str(counts[name])]
        assert any(line.split()[:3] == want for line in out.splitlines()), out
    assert "2 rows with none" in out
    assert main(["scan", str(tags_csv), "--label-sep", "|", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["histogram"] == counts


def test_info_for_targets_and_path_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "xy.csv").write_text("path,x,y\na.jpg,1,2\nb.jpg,3,4\n", encoding="utf-8")
    columns = ["--label-column", "x", "--label-column", "y"]
    assert main(["info", str(tmp_path / "xy.csv"), *columns]) == 0
    assert "target 1: min 2, max 4" in capsys.readouterr().out
    (tmp_path / "p.txt").write_text("a.jpg\n", encoding="utf-8")
    assert main(["info", str(tmp_path / "p.txt")]) == 0
    assert "path-only" in capsys.readouterr().out


def test_predict_script_writes_a_new_predictions_csv(tmp_path: Path) -> None:
    out = tmp_path / "predictions.csv"
    script = str(ROOT / "scripts" / "predict.py")
    run = subprocess.run([sys.executable, script, "--out", str(out)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    lines = out.read_text(encoding="utf-8").splitlines()
    m = imgbatch.read_manifest(ROOT / "sample_data" / "labels.csv")
    assert lines[0] == "path,predicted,score" and len(lines) == len(m) + 1
    assert {line.split(",")[0] for line in lines[1:]} == set(m.paths)
    assert all(line.split(",")[1] in (m.classes or ()) for line in lines[1:])
    assert "training accuracy" in run.stdout
    again = subprocess.run([sys.executable, script, "--out", str(out)], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert again.returncode == 2 and "exists" in again.stderr  # never overwritten silently


@pytest.mark.parametrize("sep", ["|", " ", "::", "\u00a6", None])
def test_cells_split_as_split_names_says(sep: str | None) -> None:
    """The numpy splitting of every distinct cell agrees with :func:`split_names`, cell by cell
    (NULs, as JSON lists are joined, separators at either end, empty cells, spaces)."""
    from imgbatch.manifest.label_types import LabelCodes
    from imgbatch.manifest.multilabel import multi_labels, split_names

    rng = np.random.default_rng(7)
    parts = ["cat", "dog", " owl ", "", "\x00", sep or "\x00", "é", "ba d"]
    cells = list(dict.fromkeys("".join(rng.choice(parts, rng.integers(0, 6))) for _ in range(300)))
    vocab = {c.encode(): i for i, c in enumerate(cells)}
    rows = rng.integers(0, len(cells), 500)
    codes = LabelCodes("x.csv", vocab, rows.astype(np.int64), np.arange(500, dtype=np.int64) + 2)
    labels, classes = multi_labels(codes, sep, None)
    expected_classes = sorted({n for c in cells for n in split_names(c, sep)})
    assert list(classes) == expected_classes
    for row, cell in enumerate(rows.tolist()):
        want = sorted({classes.index(n) for n in split_names(cells[cell], sep)})
        assert labels[row].tolist() == want, (row, cells[cell])


def test_multi_label_resume_fingerprint_uses_the_compact_ids(tags_csv: Path) -> None:
    options: dict[str, Any] = dict(batch_size=3, size=4, dtype="uint8", label_sep="|", seed=2)
    first = imgbatch.Loader(tags_csv, **options)
    run = iter(first)
    next(run)
    state = first.state_dict()
    rest = [labels.tolist() for _, labels in run]
    again = imgbatch.Loader(tags_csv, **options)
    again.load_state_dict(state)
    assert [labels.tolist() for _, labels in again] == rest
    other = imgbatch.Loader(tags_csv, **{**options, "label_sep": None, "label_column": None})
    with pytest.raises(ValueError, match="fingerprint"):
        other.load_state_dict(state)
