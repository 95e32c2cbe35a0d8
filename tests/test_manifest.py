"""Label files and class folders -> Manifest: formats, tolerance, paths, labels, errors, the API."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imgbatch
import imgbatch.manifest.blocks as manifest_module
from imgbatch import ImgbatchError, Manifest, ManifestError, read_folder, read_manifest
from imgbatch.manifest import PathTable

from .helpers import write

FORMATS = ("csv", "tsv", "txt", "jsonl")
FILENAMES = {"csv": "labels.csv", "tsv": "labels.tsv", "txt": "labels.txt", "jsonl": "labels.jsonl"}


# ---------------------------------------------------------------------------------------------
# Helpers


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 exactly as given (no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def render_row(fmt: str, path: str, label: str) -> str:
    """One data line of a label file of format ``fmt`` (no line ending)."""
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n").writerow(
            [path, label]
        )
        return out.getvalue().rstrip("\n")
    if fmt == "txt":
        return f"{path} {label}"
    return json.dumps({"path": path, "label": label}, ensure_ascii=False)


def render(fmt: str, rows: Sequence[tuple[str, str]], *, newline: str = "\n") -> str:
    return "".join(render_row(fmt, p, lab) + newline for p, lab in rows)


def manifest_error(path: Path | str, **options: Any) -> ManifestError:
    """Read ``path`` expecting a ManifestError that names the file (and its line, when set)."""
    with pytest.raises(ManifestError) as info:
        read_manifest(path, **options)
    err = info.value
    assert err.path == os.fspath(path)
    assert os.fspath(path) in str(err)
    if err.line is not None:
        assert f"line {err.line}" in str(err)
    return err


def resolved(base: Path, rels: Sequence[str]) -> list[str]:
    return [os.path.join(str(base), r) for r in rels]


def relative(m: Manifest, base: Path | str) -> list[str]:
    return [os.path.relpath(p, base) for p in m.paths]


# ---------------------------------------------------------------------------------------------
# Formats


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_and_without_header(tmp_path: Path, header: bool) -> None:
    text = ("path,label\n" if header else "") + "a.jpg,cat\nb.jpg,dog\nc.jpg,cat\n"
    m = read_manifest(write_text(tmp_path / "labels.csv", text))
    assert m.format == "csv"
    assert list(m.paths) == resolved(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    assert m.labels.tolist() == [0, 1, 0]
    assert m.classes == ("cat", "dog")
    first = 2 if header else 1
    assert m.lines.tolist() == [first, first + 1, first + 2]


def test_csv_quoted_fields_with_commas_and_spaces(tmp_path: Path) -> None:
    text = (
        "path,label\n"
        '"my photos/a, b.jpg","big cat"\n'
        '"say ""hi"".jpg",dog\n'
        "plain dir/c d.jpg,big cat\n"
    )
    m = read_manifest(write_text(tmp_path / "labels.csv", text))
    assert relative(m, tmp_path) == ["my photos/a, b.jpg", 'say "hi".jpg', "plain dir/c d.jpg"]
    assert m.classes == ("big cat", "dog")
    assert m.labels.tolist() == [0, 1, 0]


def test_tsv(tmp_path: Path) -> None:
    text = "path\tlabel\nmy dir/a, b.jpg\tcat\nb.jpg\tdog\n"
    m = read_manifest(write_text(tmp_path / "labels.tsv", text))
    assert m.format == "tsv"
    assert relative(m, tmp_path) == ["my dir/a, b.jpg", "b.jpg"]
    assert m.classes == ("cat", "dog")
    assert m.lines.tolist() == [2, 3]


def test_txt_splits_at_the_last_whitespace(tmp_path: Path) -> None:
    text = (
        "n01440764/n01440764_10026.JPEG 0\n"
        "my photos/a b  c.jpg   12\n"
        "tabbed dir/x.jpg\t3\n"
        "trailing.jpg 4   \n"
    )
    m = read_manifest(write_text(tmp_path / "train.txt", text))
    assert m.format == "txt"
    assert relative(m, tmp_path) == [
        "n01440764/n01440764_10026.JPEG",
        "my photos/a b  c.jpg",
        "tabbed dir/x.jpg",
        "trailing.jpg",
    ]
    assert m.labels.dtype == np.int64
    assert m.labels.tolist() == [0, 12, 3, 4]
    assert m.classes is None


def test_txt_header_is_skipped(tmp_path: Path) -> None:
    m = read_manifest(write_text(tmp_path / "train.txt", "path label\na.jpg cat\nb.jpg dog\n"))
    assert relative(m, tmp_path) == ["a.jpg", "b.jpg"]
    assert m.lines.tolist() == [2, 3]


def test_jsonl(tmp_path: Path) -> None:
    text = '{"path": "a.jpg", "label": "cat"}\n{"label": "dog", "path": "b c.jpg", "extra": 1}\n'
    m = read_manifest(write_text(tmp_path / "labels.jsonl", text))
    assert m.format == "jsonl"
    assert relative(m, tmp_path) == ["a.jpg", "b c.jpg"]
    assert m.classes == ("cat", "dog")
    assert m.labels.tolist() == [0, 1]
    assert m.lines.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("filename,class", "a.jpg,cat", ("a.jpg", "cat")),
        ("image,target", "a.jpg,cat", ("a.jpg", "cat")),
        ("Path,Label", "a.jpg,cat", ("a.jpg", "cat")),
        (" file_name , category ", "a.jpg,cat", ("a.jpg", "cat")),
        ("class,filename", "cat,a.jpg", ("a.jpg", "cat")),
        ("label,path", "cat,a.jpg", ("a.jpg", "cat")),
        ("img,y", "a.jpg,cat", ("a.jpg", "cat")),
        ("id,filename,class", "7,a.jpg,cat", ("a.jpg", "cat")),
        ("target,notes,image_path", "cat,hello,a.jpg", ("a.jpg", "cat")),
    ],
)
def test_recognised_header_names(
    tmp_path: Path, header: str, row: str, expected: tuple[str, str]
) -> None:
    m = read_manifest(write_text(tmp_path / "labels.csv", f"{header}\n{row}\n"))
    assert len(m) == 1
    assert relative(m, tmp_path) == [expected[0]]
    assert m.classes == (expected[1],)
    assert m.lines.tolist() == [2]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_columns_chosen_by_name(tmp_path: Path, fmt: str) -> None:
    sep = "," if fmt == "csv" else "\t"
    rows = [
        ["url", "extra", "breed", "notes"],
        ["a.jpg", "x", "cat", "n"],
        ["b.jpg", "y", "dog", ""],
    ]
    text = "".join(sep.join(r) + "\n" for r in rows)
    m = read_manifest(
        write_text(tmp_path / FILENAMES[fmt], text), path_column="url", label_column="breed"
    )
    assert relative(m, tmp_path) == ["a.jpg", "b.jpg"]
    assert m.classes == ("cat", "dog")
    assert m.lines.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("text", "path_column", "label_column", "expected"),
    [
        ("x,a.jpg,cat\ny,b.jpg,dog\n", 1, 2, (["a.jpg", "b.jpg"], ("cat", "dog"))),
        ("cat,a.jpg\ndog,b.jpg\n", 1, 0, (["a.jpg", "b.jpg"], ("cat", "dog"))),
        ("a.jpg,x,cat\nb.jpg,y,dog\n", None, 2, (["a.jpg", "b.jpg"], ("cat", "dog"))),
    ],
)
def test_columns_chosen_by_position_in_headerless_files(
    tmp_path: Path,
    text: str,
    path_column: int | None,
    label_column: int,
    expected: tuple[list[str], tuple[str, ...]],
) -> None:
    path = write_text(tmp_path / "labels.csv", text)
    m = read_manifest(path, path_column=path_column, label_column=label_column)
    assert relative(m, tmp_path) == expected[0]
    assert m.classes == expected[1]
    assert m.lines.tolist() == [1, 2]


def test_jsonl_fields_chosen_by_name(tmp_path: Path) -> None:
    text = '{"img_url": "a.jpg", "path": "wrong.jpg", "breed": "cat", "label": 9}\n'
    path = write_text(tmp_path / "labels.jsonl", text)
    m = read_manifest(path, path_column="img_url", label_column="breed")
    assert relative(m, tmp_path) == ["a.jpg"]
    assert m.classes == ("cat",)


def test_jsonl_recognised_field_names(tmp_path: Path) -> None:
    text = '{"filename": "a.jpg", "class": "cat"}\n{"filename": "b.jpg", "class": "dog"}\n'
    m = read_manifest(write_text(tmp_path / "labels.jsonl", text))
    assert relative(m, tmp_path) == ["a.jpg", "b.jpg"]
    assert m.classes == ("cat", "dog")


def test_csv_file_that_is_really_tab_separated(tmp_path: Path) -> None:
    text = "path\tlabel\nmy dir/a.jpg\tcat\nb.jpg\tdog\n"
    m = read_manifest(write_text(tmp_path / "export.csv", text))
    assert m.format == "tsv"
    assert relative(m, tmp_path) == ["my dir/a.jpg", "b.jpg"]
    assert m.classes == ("cat", "dog")


@pytest.mark.parametrize(
    ("name", "text", "fmt", "expected"),
    [
        ("labels.csv", "my photo.jpg cat\nb.jpg dog\n", "txt", ["my photo.jpg", "b.jpg"]),
        ("labels.txt", "a b.jpg,cat\nc.jpg,dog\n", "csv", ["a b.jpg", "c.jpg"]),
        ("labels.data", '{"path": "a.jpg", "label": "cat"}\n', "jsonl", ["a.jpg"]),
        ("labels.jsonl", "a.jpg\tcat\n", "tsv", ["a.jpg"]),
    ],
)
def test_format_argument_overrides_detection(
    tmp_path: Path, name: str, text: str, fmt: str, expected: list[str]
) -> None:
    m = read_manifest(write_text(tmp_path / name, text), format=fmt)
    assert m.format == fmt
    assert relative(m, tmp_path) == expected


JSONL_AB = '{"path": "a.jpg", "label": "cat"}\n{"path": "b.jpg", "label": "dog"}\n'


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("train.lst", "a.jpg\tcat\nb.jpg\tdog\n", "tsv"),
        ("train.list", "a.jpg cat\nb.jpg dog\n", "txt"),
        ("train.txt", "a.jpg cat\nb.jpg dog\n", "txt"),
        ("labels", JSONL_AB, "jsonl"),
        ("labels.json", JSONL_AB, "jsonl"),
        ("labels.dat", "a.jpg,cat\nb.jpg,dog\n", "csv"),
        ("labels.dat", "path,label\na.jpg,cat\nb.jpg,dog\n", "csv"),
    ],
)  # fmt: skip
def test_unknown_extension_is_sniffed_from_content(
    tmp_path: Path, name: str, text: str, fmt: str
) -> None:
    m = read_manifest(write_text(tmp_path / name, text))
    assert m.format == fmt
    assert relative(m, tmp_path) == ["a.jpg", "b.jpg"]
    assert m.classes == ("cat", "dog")


def test_unknown_extension_csv_with_spaces_in_paths_is_sniffed_as_csv(tmp_path: Path) -> None:
    # "my photo.jpg,cat" has white space, but its last white-space token holds the comma: csv.
    m = read_manifest(write_text(tmp_path / "labels.dat", "my photo.jpg,cat\nb c.jpg,dog\n"))
    assert m.format == "csv"
    assert relative(m, tmp_path) == ["my photo.jpg", "b c.jpg"]
    assert m.classes == ("cat", "dog")


def test_bad_format_argument(tmp_path: Path) -> None:
    path = write_text(tmp_path / "labels.csv", "a.jpg,cat\n")
    with pytest.raises(ValueError, match="format must be one of"):
        read_manifest(path, format="xml")


def test_column_arguments_that_do_not_apply(tmp_path: Path) -> None:
    txt = write_text(tmp_path / "labels.txt", "a.jpg cat\n")
    with pytest.raises(ValueError, match="path_column and label_column"):
        read_manifest(txt, path_column="path")
    jsonl = write_text(tmp_path / "labels.jsonl", '{"path": "a.jpg", "label": 1}\n')
    with pytest.raises(TypeError, match="field names"):
        read_manifest(jsonl, path_column=0)


# ---------------------------------------------------------------------------------------------
# BOM, CRLF, blank lines and comments


ROWS = [("a.jpg", "cat"), ("b b.jpg", "dog"), ("c.jpg", "cat")]


@pytest.mark.parametrize(
    ("fmt", "header"),
    [(fmt, False) for fmt in FORMATS] + [(fmt, True) for fmt in ("csv", "tsv", "txt")],
)
def test_utf8_bom(tmp_path: Path, fmt: str, header: bool) -> None:
    head = {"csv": "path,label\n", "tsv": "path\tlabel\n", "txt": "path label\n"}.get(fmt, "")
    text = "\ufeff" + (head if header else "") + render(fmt, ROWS)
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], text))
    assert relative(m, tmp_path) == [p for p, _ in ROWS]
    assert m.classes == ("cat", "dog")
    assert m.lines[0] == (2 if header else 1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_line_endings(tmp_path: Path, fmt: str) -> None:
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], render(fmt, ROWS, newline="\r\n")))
    assert relative(m, tmp_path) == [p for p, _ in ROWS]
    assert m.classes == ("cat", "dog")
    assert m.lines.tolist() == [1, 2, 3]
    assert not any(p.endswith("\r") for p in m.paths)


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_without_final_newline(tmp_path: Path, fmt: str) -> None:
    text = render(fmt, ROWS, newline="\r\n").removesuffix("\r\n")
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], text))
    assert relative(m, tmp_path) == [p for p, _ in ROWS]
    assert m.classes == ("cat", "dog")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("blank", "newline"),
    [("", "\n"), ("   ", "\n"), (" \t ", "\n"), ("", "\r\n")],
    ids=["empty", "spaces", "tab", "crlf"],
)
def test_blank_and_comment_lines_keep_line_numbers(
    tmp_path: Path, fmt: str, blank: str, newline: str
) -> None:
    lines = [
        "# exported 2024-01-01",  # 1
        blank,  # 2
        render_row(fmt, *ROWS[0]),  # 3
        "   # indented comment",  # 4
        blank,  # 5
        blank,  # 6
        render_row(fmt, *ROWS[1]),  # 7
        "#",  # 8
        render_row(fmt, *ROWS[2]),  # 9
        blank,  # 10
        "# trailing comment",  # 11
    ]
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], newline.join(lines) + newline))
    assert relative(m, tmp_path) == [p for p, _ in ROWS]
    assert m.lines.tolist() == [3, 7, 9]
    assert [m.where(i) for i in range(3)] == [
        f"{tmp_path / FILENAMES[fmt]}, line {n}" for n in (3, 7, 9)
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_line_number_counts_blank_and_comment_lines(tmp_path: Path, fmt: str) -> None:
    bad = '{"path": "b.jpg"}' if fmt == "jsonl" else "b.jpg"
    text = f"# comment\n\n{render_row(fmt, 'a.jpg', 'cat')}\r\n# more\n\n   \n{bad}\n"
    err = manifest_error(write_text(tmp_path / FILENAMES[fmt], text))
    assert err.line == 7
    assert "line 7" in str(err)
    assert "no label" in str(err)


def test_csv_comment_line_with_a_stray_quote(tmp_path: Path) -> None:
    # A comment line is skipped whole: a quote in it must not open a quoted field.
    text = '# exported by tool,"v2\na.jpg,cat\nb.jpg,dog\n'
    m = read_manifest(write_text(tmp_path / "labels.csv", text))
    assert relative(m, tmp_path) == ["a.jpg", "b.jpg"]
    assert m.lines.tolist() == [2, 3]


def test_csv_quoted_path_starting_with_hash_is_a_row_not_a_comment(tmp_path: Path) -> None:
    # Only a *line* that starts with '#' is a comment; a quoted field "#1.jpg" is data.
    text = 'path,label\n"#1.jpg",cat\nb.jpg,dog\n'
    m = read_manifest(write_text(tmp_path / "labels.csv", text))
    assert relative(m, tmp_path) == ["#1.jpg", "b.jpg"]
    assert m.lines.tolist() == [2, 3]


# ---------------------------------------------------------------------------------------------
# Paths


@pytest.mark.parametrize("fmt", FORMATS)
def test_relative_paths_resolve_against_the_manifest_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    data = tmp_path / "data"
    path = write_text(data / FILENAMES[fmt], render(fmt, [("img/a.jpg", "1"), ("b.jpg", "2")]))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    m = read_manifest(path)
    assert list(m.paths) == [str(data / "img" / "a.jpg"), str(data / "b.jpg")]
    assert m.source == str(path)


def test_relative_manifest_path_given_from_another_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_text(data / "labels.csv", "a.jpg,1\n")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    m = read_manifest(os.path.join("..", "data", "labels.csv"))
    assert list(m.paths) == [str(data / "a.jpg")]
    monkeypatch.chdir(tmp_path)  # the manifest remembers its folder, not the cwd at access time
    assert list(m.paths) == [str(data / "a.jpg")]


def test_root_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text(tmp_path / "meta" / "labels.csv", "a.jpg,1\nsub/b.jpg,2\n")
    images = tmp_path / "images"
    m = read_manifest(path, root=images)
    assert list(m.paths) == [str(images / "a.jpg"), str(images / "sub" / "b.jpg")]
    # A relative root is taken relative to the cwd at read time (like any path argument).
    monkeypatch.chdir(tmp_path)
    m = read_manifest(path, root="images")
    assert list(m.paths) == [str(images / "a.jpg"), str(images / "sub" / "b.jpg")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_absolute_paths_are_kept(tmp_path: Path, fmt: str) -> None:
    absolute = str(tmp_path / "far away" / "x.jpg")
    path = write_text(
        tmp_path / "d" / FILENAMES[fmt], render(fmt, [(absolute, "1"), ("y.jpg", "2")])
    )
    m = read_manifest(path, root=tmp_path / "root")
    assert list(m.paths) == [absolute, str(tmp_path / "root" / "y.jpg")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_ascii_paths_round_trip(tmp_path: Path, fmt: str) -> None:
    rows = [("fotos/ñandú 猫.jpg", "ñandú"), ("Ωmega/日本語 ü.png", "猫"), ("plain.jpg", "ñandú")]
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], render(fmt, rows)))
    assert relative(m, tmp_path) == [p for p, _ in rows]
    assert m[0][0] == os.path.join(str(tmp_path), "fotos/ñandú 猫.jpg")
    assert m.classes == ("ñandú", "猫")
    assert m.labels.tolist() == [0, 1, 0]


# ---------------------------------------------------------------------------------------------
# Labels


@pytest.mark.parametrize(
    ("labels", "dtype", "values", "classes"),
    [
        (["3", "-1", "0", "3"], np.int64, [3, -1, 0, 3], None),
        (["+7", "007", "-12"], np.int64, [7, 7, -12], None),
        (["1", "2.5", "-3e2", ".5"], np.float32, [1.0, 2.5, -300.0, 0.5], None),
        (["1.0", "2.0"], np.float32, [1.0, 2.0], None),
        (["cat", "dog", "ant", "cat"], np.int64, [1, 2, 0, 1], ("ant", "cat", "dog")),
        (["3", "cat", "3"], np.int64, [0, 1, 0], ("3", "cat")),
        (["1.5", "cat"], np.int64, [0, 1], ("1.5", "cat")),
        (["b", "B", "a"], np.int64, [2, 0, 1], ("B", "a", "b")),
        (["big cat", "dog"], np.int64, [0, 1], ("big cat", "dog")),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_labels(
    tmp_path: Path,
    fmt: str,
    labels: list[str],
    dtype: type[np.generic],
    values: list[float],
    classes: tuple[str, ...] | None,
) -> None:
    if fmt == "txt" and any(" " in lab for lab in labels):
        labels = [lab.replace(" ", "_") for lab in labels]  # txt labels cannot hold white space
        classes = tuple(c.replace(" ", "_") for c in classes or ())
    rows = [(f"{i}.jpg", lab) for i, lab in enumerate(labels)]
    m = read_manifest(write_text(tmp_path / FILENAMES[fmt], render(fmt, rows)))
    assert m.labels.dtype == dtype
    assert m.labels.tolist() == values
    assert m.classes == classes
    label = m[0][1]
    assert type(label) is (float if dtype is np.float32 else int)


@pytest.mark.parametrize(
    ("json_labels", "dtype", "values", "classes"),
    [
        ([3, -1, 0], np.int64, [3, -1, 0], None),
        ([1.5, 2, -0.25], np.float32, [1.5, 2.0, -0.25], None),
        ([1.0, 2.0], np.float32, [1.0, 2.0], None),
        (["3", 4], np.int64, [3, 4], None),
        (["cat", "dog", "cat"], np.int64, [0, 1, 0], ("cat", "dog")),
        ([True, False, True], np.int64, [1, 0, 1], ("false", "true")),
        ([1, "cat"], np.int64, [0, 1], ("1", "cat")),
    ],
)
def test_jsonl_native_labels(
    tmp_path: Path,
    json_labels: list[object],
    dtype: type[np.generic],
    values: list[float],
    classes: tuple[str, ...] | None,
) -> None:
    text = "".join(
        json.dumps({"path": f"{i}.jpg", "label": lab}) + "\n" for i, lab in enumerate(json_labels)
    )
    m = read_manifest(write_text(tmp_path / "labels.jsonl", text))
    assert m.labels.dtype == dtype
    assert m.labels.tolist() == values
    assert m.classes == classes


# ---------------------------------------------------------------------------------------------
# Class folders


def make_tree(root: Path, files: Sequence[str]) -> None:
    for rel in files:
        write(root / rel, b"not really an image")


TREE = [
    "dog/b.png",
    "dog/a.JPG",
    "dog/sub/c.jpeg",
    "dog/sub/B.Png",
    "dog/.hidden.png",
    "dog/.cache/x.png",
    "dog/notes.txt",
    "dog/Thumbs.db",
    "dog/noext",
    "cat/z.webp",
    "cat/deeper/more/y.bmp",
    "cat/deeper/w.tif",
    ".git/objects.png",
    "readme.png",
    "zebra/ñandú 猫.jpg",
]
TREE_EXPECTED = [
    ("cat/z.webp", 0),
    ("cat/deeper/w.tif", 0),
    ("cat/deeper/more/y.bmp", 0),
    ("dog/a.JPG", 1),
    ("dog/b.png", 1),
    ("dog/sub/B.Png", 1),
    ("dog/sub/c.jpeg", 1),
    ("zebra/ñandú 猫.jpg", 2),
]


def test_read_folder(tmp_path: Path) -> None:
    make_tree(tmp_path / "photos", TREE)
    m = read_folder(tmp_path / "photos")
    assert m.classes == ("cat", "dog", "zebra")
    assert list(m.paths) == resolved(tmp_path / "photos", [p for p, _ in TREE_EXPECTED])
    assert m.labels.dtype == np.int64
    assert m.labels.tolist() == [lab for _, lab in TREE_EXPECTED]
    assert m.lines.tolist() == [0] * len(TREE_EXPECTED)
    assert m.format == "folder"
    assert m.source == str(tmp_path / "photos")
    assert isinstance(m.paths, PathTable)


def test_read_folder_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path / "one", TREE)
    make_tree(tmp_path / "two", TREE[::-1])
    first = read_folder(str(tmp_path / "one"))
    again = read_folder(tmp_path / "one")
    other = read_folder(tmp_path / "two")
    assert list(first.paths) == list(again.paths)
    assert relative(first, tmp_path / "one") == relative(other, tmp_path / "two")
    assert first.labels.tolist() == other.labels.tolist()
    assert first.classes == other.classes
    monkeypatch.chdir(tmp_path)
    rel = read_folder("one")  # a relative root is resolved once, at read time
    assert list(rel.paths) == list(first.paths)


@pytest.mark.parametrize(
    ("files", "target", "reason"),
    [
        ([], "missing", "no such folder"),
        (["afile.png"], "afile.png", "not a folder"),
        ([], "", "no class subfolders"),
        (["root.jpg", ".hidden/a.jpg"], "", "no class subfolders"),
        (["cat/notes.txt", "dog/.a.jpg", "dog/.cache/b.jpg"], "", "no image files"),
    ],
    ids=["missing", "file", "empty", "only-hidden-and-loose", "no-images"],
)
def test_read_folder_errors(tmp_path: Path, files: list[str], target: str, reason: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    make_tree(root, files)
    path = root / target if target else root
    with pytest.raises(ManifestError, match=reason) as info:
        read_folder(path)
    assert info.value.path == str(path)
    assert info.value.line is None
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("labels.csv", "a.jpg,cat\nb.jpg\n", 2, "no label"),
        ("labels.csv", "path,label\na.jpg,cat\nb.jpg,\n", 3, "no label"),
        ("labels.csv", "a.jpg,cat\nb.jpg,   \n", 2, "no label"),
        ("labels.tsv", "a.jpg\tcat\nb.jpg\n", 2, "no label"),
        ("labels.txt", "a.jpg cat\nb.jpg\n", 2, "no label"),
        ("labels.jsonl", '{"path": "a.jpg", "label": 1}\n{"path": "b.jpg"}\n', 2, "no label"),
        ("labels.jsonl", '{"path": "a.jpg", "label": ""}\n', 1, "no label"),
        ("labels.jsonl", '{"path": "a.jpg", "label": 1}\n{"path": "b.jpg", "label": 1\n', 2,
         "invalid JSON"),
        ("labels.jsonl", "{'path': 'a.jpg', 'label': 1}\n", 1, "invalid JSON"),
        ("labels.jsonl", '{"path": "a.jpg", "label": 1}\n["b.jpg", 1]\n', 2, "JSON object"),
        ("labels.jsonl", '"a.jpg"\n', 1, "JSON object"),
        ("labels.jsonl", '[{"path": "a.jpg", "label": 1}]\n', 1, "JSON object"),
        ("labels.jsonl", '{"path": "a.jpg", "label": [{"a": 1}]}\n', 1, "a label list must"),
        ("labels.jsonl", '{"path": "a.jpg", "label": null}\n', 1, "label must be"),
        ("labels.jsonl", '{"path": "a.jpg", "label": {"a": 1}}\n', 1, "label must be"),
        ("labels.jsonl", '{"path": 3, "label": 1}\n', 1, "path must be a string"),
        ("labels.jsonl", '{"label": 1}\n', 1, "path"),
        ("labels.csv", "a.jpg,cat,extra\n", 1, "3 columns and no header"),
        ("labels.csv", "# comment\n\na.jpg,cat,1,2\n", 3, "4 columns and no header"),
        ("labels.csv", "image,foo,bar\na.jpg,cat,1\n", 1, "label column"),
        ("labels.csv", "x,a.jpg\n,cat\n", 2, "empty path"),
        ("labels.csv", 'a.jpg,cat\n"b.jpg,dog\n', 2, "malformed"),
    ],
)  # fmt: skip
def test_malformed_rows(tmp_path: Path, name: str, text: str, line: int, reason: str) -> None:
    err = manifest_error(write_text(tmp_path / name, text))
    assert err.line == line
    assert reason in err.reason
    assert f"line {line}" in str(err)


@pytest.mark.parametrize(
    ("text", "options", "reason"),
    [
        ("path,label\na.jpg,cat\n", {"path_column": "file"}, "'file'"),
        ("path,label\na.jpg,cat\n", {"label_column": "breed"}, "'breed'"),
        ("a.jpg,cat\n", {"path_column": "path", "label_column": "label"}, "'path'"),
    ],
)
def test_header_missing_the_named_column(
    tmp_path: Path, text: str, options: dict[str, str], reason: str
) -> None:
    err = manifest_error(write_text(tmp_path / "labels.csv", text), **options)
    assert err.line == 1
    assert reason in str(err)


def test_jsonl_missing_named_field(tmp_path: Path) -> None:
    text = '{"path": "a.jpg", "label": 1}\n'
    err = manifest_error(write_text(tmp_path / "labels.jsonl", text), label_column="breed")
    assert err.line == 1


def test_later_row_with_more_fields_than_a_headerless_file(tmp_path: Path) -> None:
    # An unquoted comma in a path ("my,file.jpg,dog") must not silently become path "my".
    err = manifest_error(write_text(tmp_path / "labels.csv", "a.jpg,cat\nmy,file.jpg,dog\n"))
    assert err.line == 2


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("labels.csv", ""),
        ("labels.csv", "\n\n   \n"),
        ("labels.csv", "# only\n\n# comments\n"),
        ("labels.csv", "\ufeff"),
        ("labels.csv", "path,label\n"),
        ("labels.csv", "# c\npath,label\n\n# c\n"),
        ("labels.tsv", "path\tlabel\n"),
        ("labels.txt", "path label\n"),
        ("labels.txt", ""),
        ("labels.jsonl", "\n# nothing\n"),
    ],
)
def test_empty_manifest(tmp_path: Path, name: str, text: str) -> None:
    err = manifest_error(write_text(tmp_path / name, text))
    assert err.line is None
    assert "empty" in err.reason


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_utf8_names_the_bad_line(tmp_path: Path, fmt: str) -> None:
    good = render(fmt, [("a.jpg", "cat"), ("b.jpg", "dog")]).encode()
    bad = render(fmt, [("café.jpg", "cat")]).encode("latin-1")
    path = tmp_path / FILENAMES[fmt]
    path.write_bytes(b"# comment\n" + good + bad)
    err = manifest_error(path)
    assert err.line == 4
    assert "UTF-8" in err.reason


def test_utf16_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes("a.jpg,cat\n".encode("utf-16"))
    err = manifest_error(path)
    assert err.line == 1


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(b"a.jpg,cat\nb\x00.jpg,dog\n")
    err = manifest_error(path)
    assert err.line == 2
    assert "not a text file" in err.reason


def test_missing_manifest(tmp_path: Path) -> None:
    err = manifest_error(tmp_path / "nope.csv")
    assert err.line is None
    assert "no such" in err.reason
    err = manifest_error(str(tmp_path / "nope.csv"))
    assert err.path == str(tmp_path / "nope.csv")


def test_folder_passed_to_read_manifest(tmp_path: Path) -> None:
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    err = manifest_error(tmp_path / "photos")
    assert err.line is None
    assert "read_folder" in err.reason


@pytest.mark.parametrize("name", ["labels.json", "labels"])
def test_json_array_file(tmp_path: Path, name: str) -> None:
    text = json.dumps([{"path": "a.jpg", "label": 1}, {"path": "b.jpg", "label": 2}], indent=2)
    err = manifest_error(write_text(tmp_path / name, text))
    assert "JSON Lines" in err.reason


def test_manifest_error_is_a_value_error_and_an_imgbatch_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "labels.csv", "a.jpg,cat\nb.jpg\n")
    with pytest.raises(ValueError, match="no label") as info:
        read_manifest(path)
    err = info.value
    assert isinstance(err, ManifestError)
    assert isinstance(err, ImgbatchError)
    assert isinstance(err, imgbatch.ManifestError)
    assert str(err).startswith(f"{path}, line 2: ")


# ---------------------------------------------------------------------------------------------
# The manifest file is never modified


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("labels.csv", "\ufeffpath,label\r\na.jpg,cat\r\n\r\n# c\r\nb.jpg,dog"),
        ("labels.txt", "a b.jpg 1\nc.jpg 2\n"),
        ("labels.jsonl", '{"path": "a.jpg", "label": 1}\n'),
        ("labels.csv", "a.jpg,cat\nb.jpg\n"),  # an error
        ("labels.jsonl", "{oops\n"),  # an error
        ("labels.csv", ""),  # an error
    ],
)
def test_manifest_file_is_never_modified(tmp_path: Path, name: str, text: str) -> None:
    path = write_text(tmp_path / name, text)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    path.chmod(0o444)
    before = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_size)
    with contextlib.suppress(ManifestError):
        read_manifest(path)
    after = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_size)
    assert after == before
    assert sorted(os.listdir(tmp_path)) == [name]  # no sidecar, cache or temp file left


# ---------------------------------------------------------------------------------------------
# The Manifest API


def sample(tmp_path: Path) -> Manifest:
    text = "path,label\n# c\na.jpg,dog\nb.jpg,cat\n\nsub/c.jpg,dog\nd.jpg,bird\n"
    return read_manifest(write_text(tmp_path / "labels.csv", text))


def test_len_and_getitem(tmp_path: Path) -> None:
    m = sample(tmp_path)
    assert len(m) == 4
    assert m[0] == (str(tmp_path / "a.jpg"), 2)
    assert m[2] == (str(tmp_path / "sub" / "c.jpg"), 2)
    assert m[-1] == (str(tmp_path / "d.jpg"), 0)
    assert m[-4] == m[0]
    path, label = m[1]
    assert type(path) is str
    assert type(label) is int
    assert list(m) == [m[i] for i in range(4)]


@pytest.mark.parametrize("index", [4, 100, -5])
def test_getitem_out_of_range(tmp_path: Path, index: int) -> None:
    m = sample(tmp_path)
    with pytest.raises(IndexError):
        m[index]
    with pytest.raises(IndexError):
        m.paths[index]


def test_paths_is_a_compact_sequence_of_str(tmp_path: Path) -> None:
    m = sample(tmp_path)
    assert isinstance(m.paths, Sequence)
    assert not isinstance(m.paths, list)
    assert isinstance(m.paths, PathTable)
    assert len(m.paths) == 4
    assert m.paths[1:3] == [str(tmp_path / "b.jpg"), str(tmp_path / "sub" / "c.jpg")]
    assert m.paths[::-2] == [str(tmp_path / "d.jpg"), str(tmp_path / "b.jpg")]
    assert m.paths[-1] == str(tmp_path / "d.jpg")
    assert all(type(p) is str for p in m.paths)
    assert str(tmp_path / "b.jpg") in m.paths
    assert m.paths.index(str(tmp_path / "d.jpg")) == 3
    assert next(reversed(m.paths)) == str(tmp_path / "d.jpg")


def test_paths_stay_compact_for_many_rows(tmp_path: Path) -> None:
    rows = [(f"dir{i % 7}/img_{i:05d}.jpg", str(i % 3)) for i in range(3000)]
    m = read_manifest(write_text(tmp_path / "labels.csv", render("csv", rows)))
    assert not isinstance(m.paths, list)
    text_bytes = sum(len(p.encode()) for p, _ in rows)
    # One buffer plus offsets: no per-row Python object (a list of str would be ~60 bytes/row more).
    assert m.paths.nbytes <= text_bytes + 8 * (len(rows) + 1)
    assert m.paths[2999] == str(tmp_path / "dir3" / "img_02999.jpg")


def test_labels_lines_source_format(tmp_path: Path) -> None:
    m = sample(tmp_path)
    assert m.classes == ("bird", "cat", "dog")
    assert isinstance(m.labels, np.ndarray)
    assert m.labels.dtype == np.int64
    assert m.labels.tolist() == [2, 1, 2, 0]
    assert m.lines.tolist() == [3, 4, 6, 7]
    assert m.source == str(tmp_path / "labels.csv")
    assert m.format == "csv"
    assert "4 rows" in repr(m)


def test_subset(tmp_path: Path) -> None:
    m = sample(tmp_path)
    s = m.subset([3, 0, 2])
    assert len(s) == 3
    assert list(s.paths) == [m.paths[3], m.paths[0], m.paths[2]]
    assert s.labels.tolist() == [0, 2, 2]
    assert s.lines.tolist() == [7, 3, 6]
    assert s.classes == m.classes
    assert s.source == m.source
    assert s.format == m.format
    assert isinstance(s.paths, PathTable)
    # the original is unchanged
    assert m.labels.tolist() == [2, 1, 2, 0]
    assert len(m) == 4


def test_subset_variants(tmp_path: Path) -> None:
    m = sample(tmp_path)
    assert [p for p, _ in m.subset(np.array([-1, 1]))] == [m.paths[3], m.paths[1]]
    assert m.subset([1, 1]).labels.tolist() == [1, 1]
    empty = m.subset([])
    assert len(empty) == 0
    assert empty.classes == m.classes
    with pytest.raises(IndexError):
        m.subset([0, 4])
    with pytest.raises(IndexError):
        m.subset([-5])


def test_subset_keeps_float_labels(tmp_path: Path) -> None:
    m = read_manifest(write_text(tmp_path / "y.csv", "a.jpg,0.5\nb.jpg,1.5\nc.jpg,-2\n"))
    s = m.subset([2, 0])
    assert s.labels.dtype == np.float32
    assert s.labels.tolist() == [-2.0, 0.5]
    assert s.classes is None
    assert s[0] == (str(tmp_path / "c.jpg"), -2.0)
    assert type(s[0][1]) is float


def test_manifest_built_in_code(tmp_path: Path) -> None:
    m = Manifest(["a.jpg", "sub/b.jpg", "/abs/c.jpg"], [0, 1, 0], classes=("cat", "dog"),
                 root=tmp_path)  # fmt: skip
    assert len(m) == 3
    assert list(m.paths) == [str(tmp_path / "a.jpg"), str(tmp_path / "sub" / "b.jpg"), "/abs/c.jpg"]
    assert m[1] == (str(tmp_path / "sub" / "b.jpg"), 1)
    assert m.labels.dtype == np.int64
    assert m.classes == ("cat", "dog")
    assert m.lines.tolist() == [0, 0, 0]
    assert m.source is None
    assert m.format is None
    assert isinstance(m.paths, PathTable)


def test_manifest_built_in_code_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    m = Manifest(["a.jpg"], [0.25])
    assert m.paths[0] == str(tmp_path / "a.jpg")
    assert m.labels.dtype == np.float32
    assert m.classes is None
    assert m[0] == (str(tmp_path / "a.jpg"), 0.25)
    assert len(Manifest([], [])) == 0
    assert Manifest(["a", "b"], np.array([3, -4], np.int32)).labels.dtype == np.int64


@pytest.mark.parametrize(
    ("paths", "labels", "classes", "error", "match"),
    [
        (["a", "b"], [0], None, ValueError, "one per path"),
        (["a"], [0, 1], None, ValueError, "one per path"),
        (["a"], [[0], [1]], None, ValueError, "one per path"),
        (["a", "b"], [0, 2], ("x", "y"), ValueError, "class ids"),
        (["a"], [-1], ("x",), ValueError, "class ids"),
        (["a"], [0.5], ("x",), ValueError, "integer class ids"),
        (["a"], ["cat"], None, TypeError, "integers or floats"),
    ],
)
def test_manifest_validation(
    paths: list[str],
    labels: list[Any],
    classes: tuple[str, ...] | None,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        Manifest(paths, labels, classes=classes, root="/data")


# ---------------------------------------------------------------------------------------------
# Property tests: what is written with the csv / json modules reads back exactly


PATH_ALPHABET = "abcxyzABC019 ,;-_.'\"()[]{}#ñüéßΩж猫日本/"
_stems = st.text(PATH_ALPHABET, min_size=0, max_size=12)
_paths = _stems.map(lambda s: f"p{s}.jpg")
_names = st.from_regex(r"[A-Za-zñé猫][A-Za-z0-9_ñ]{0,4}", fullmatch=True)


@st.composite
def labelled_rows(draw: st.DrawFn) -> tuple[str, list[tuple[str, object]], list[str]]:
    """(kind, [(path, label)], [filler before each row]) with labels of one kind."""
    kind = draw(st.sampled_from(["int", "float", "name"]))
    labels: st.SearchStrategy[object]
    if kind == "int":
        labels = st.integers(-(10**9), 10**9)
    elif kind == "float":
        labels = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
    else:
        labels = _names
    rows = draw(st.lists(st.tuples(_paths, labels), min_size=1, max_size=20))
    filler = draw(st.lists(st.sampled_from(["", "blank", "# comment, \"x\" y"]),
                           min_size=len(rows), max_size=len(rows)))  # fmt: skip
    return kind, rows, filler


def check_round_trip(
    m: Manifest,
    base: str,
    kind: str,
    rows: list[tuple[str, object]],
    lines: list[int],
) -> None:
    assert list(m.paths) == [os.path.join(base, p) for p, _ in rows]
    assert m.lines.tolist() == lines
    values = [lab for _, lab in rows]
    if kind == "int":
        assert m.classes is None
        assert m.labels.dtype == np.int64
        assert m.labels.tolist() == values
    elif kind == "float":
        assert m.classes is None
        assert m.labels.dtype == np.float32
        assert np.array_equal(m.labels, np.array(values, dtype=np.float32))
    else:
        names = [str(v) for v in values]
        assert m.classes == tuple(sorted(set(names)))
        assert [m.classes[i] for i in m.labels.tolist()] == names


def label_text(label: object) -> str:
    return repr(label) if isinstance(label, float) else str(label)


def fill(lines: list[str], filler: str) -> None:
    if filler == "blank":
        lines.append("")
    elif filler:
        lines.append(filler)


@given(data=labelled_rows(), header=st.booleans())
@settings(max_examples=50, deadline=None)
def test_csv_round_trip(
    data: tuple[str, list[tuple[str, object]], list[str]], header: bool
) -> None:
    kind, rows, filler = data
    out: list[str] = ["path,label"] if header else []
    expected: list[int] = []
    for (path, label), junk in zip(rows, filler, strict=True):
        fill(out, junk)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([path, label_text(label)])
        out.append(buffer.getvalue().removesuffix("\n"))
        expected.append(len(out))
    with tempfile.TemporaryDirectory() as folder:
        manifest = write_text(Path(folder) / "labels.csv", "\n".join(out) + "\n")
        before = manifest.read_bytes()
        m = read_manifest(manifest)
        assert manifest.read_bytes() == before
        check_round_trip(m, folder, kind, rows, expected)
        assert m.format == "csv"


@given(data=labelled_rows(), as_strings=st.booleans())
@settings(max_examples=50, deadline=None)
def test_jsonl_round_trip(
    data: tuple[str, list[tuple[str, object]], list[str]], as_strings: bool
) -> None:
    kind, rows, filler = data
    out: list[str] = []
    expected: list[int] = []
    for (path, label), junk in zip(rows, filler, strict=True):
        fill(out, junk)
        value = label_text(label) if as_strings else label
        out.append(json.dumps({"path": path, "label": value}, ensure_ascii=as_strings))
        expected.append(len(out))
    with tempfile.TemporaryDirectory() as folder:
        m = read_manifest(write_text(Path(folder) / "labels.jsonl", "\n".join(out)))
        check_round_trip(m, folder, kind, rows, expected)
        assert m.format == "jsonl"


@given(data=labelled_rows())
@settings(max_examples=30, deadline=None)
def test_txt_round_trip(data: tuple[str, list[tuple[str, object]], list[str]]) -> None:
    kind, rows, filler = data
    out: list[str] = []
    expected: list[int] = []
    for (path, label), junk in zip(rows, filler, strict=True):
        fill(out, junk)
        out.append(f"{path} {label_text(label)}")
        expected.append(len(out))
    with tempfile.TemporaryDirectory() as folder:
        m = read_manifest(write_text(Path(folder) / "train.txt", "\r\n".join(out) + "\r\n"))
        check_round_trip(m, folder, kind, rows, expected)


# ---------------------------------------------------------------------------------------------
# Smoke check on the bundled sample data (skipped when it is not there)


def test_sample_data_smoke() -> None:
    root = Path(__file__).resolve().parent.parent / "sample_data"
    if not (root / "labels.csv").is_file():
        pytest.skip("sample_data/ not generated")
    m = read_manifest(root / "labels.csv")
    f = read_folder(root)
    # segmentation/ is a set of its own (with its own label file), not a class folder.
    assert f.classes is not None and "segmentation" in f.classes
    in_classes = [p for p, label in f if f.classes[int(label)] != "segmentation"]
    assert len(m) > 0
    assert m.classes == tuple(c for c in f.classes if c != "segmentation")
    assert sorted(m.paths) == sorted(in_classes)


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        ("a.jpg 1\nb.jpg 99999999999999999999\n", 2, "int64"),
        ("a.jpg 0.5\nb.jpg 1e300\n", 2, "float32"),
    ],
)
def test_labels_too_large_for_their_type_name_the_line(
    tmp_path: Path, text: str, line: int, kind: str
) -> None:
    error = manifest_error(write_text(tmp_path / "big.txt", text))
    assert error.line == line
    assert f"does not fit in {kind}" in str(error)


# ---------------------------------------------------------------------------------------------
# The block reader: same rows, labels, errors and line numbers as the line-by-line reader

Outcome = tuple[object, ...]


def outcome(path: Path) -> Outcome:
    """What reading ``path`` gives: the rows, or the error (type, line, reason)."""
    try:
        m = read_manifest(path)
    except ManifestError as e:
        return ("error", e.line, e.reason)
    return ("ok", m.format, list(m.paths), m.labels.dtype.str, m.labels.tolist(), m.classes,
            m.lines.tolist())  # fmt: skip


def both_readers(
    path: Path, *, block: int = 64, max_codes: int = 1 << 16
) -> tuple[Outcome, Outcome]:
    """``path`` read line by line, and with the block reader in blocks of ``block`` bytes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_module, "_FAST", False)
        exact = outcome(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_module, "_FAST", True)
        mp.setattr(manifest_module, "_BLOCK_SIZE", block)
        mp.setattr(manifest_module, "_MAX_CODES", max_codes)
        fast = outcome(path)
    return exact, fast


def test_whitespace_table_is_what_str_isspace_accepts() -> None:
    every = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(manifest_module._WHITESPACE) == every


PIECES = ["a", "x.jpg", "dir/", " ", "\t", ",", '"', "#", "\r", "\u3000", "\xa0", "é", "猫", "1",
          "-", ".", "e", "\x1c", "\u2029", "\x85", "'", "ñ", "\n"]  # fmt: skip
_piece_text = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)


@st.composite
def messy_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(format, file bytes): mostly plain rows, with the odd line that needs the exact reader."""
    fmt = draw(st.sampled_from(["csv", "tsv", "txt"]))
    sep = {"csv": ",", "tsv": "\t", "txt": " "}[fmt]
    kind = draw(st.sampled_from(["names", "ints", "floats"]))
    labels = {
        "names": st.sampled_from(["cat", "dog", "big cat", "é", "猫", "café"]),
        "ints": st.sampled_from(["1", "-2", "007", "+3", "99999999999999999999"]),
        "floats": st.sampled_from(["1.5", "-2", ".5", "3e1", "5.", "1e300", "1e"]),
    }[kind]
    lines = ["path" + sep + "label"] if draw(st.booleans()) else []
    for i in range(draw(st.integers(1, 40))):
        special = draw(st.integers(0, 19))
        if special == 0:
            lines.append(draw(st.sampled_from(["", "   ", '# c, "q"', "  # c"])))
            continue
        path = f"d{i % 3}/img {i}.jpg" if special == 1 else f"d{i % 3}/img{i}.jpg"
        label = draw(labels)
        if special == 2:
            path = draw(_piece_text) + path + draw(_piece_text)
        elif special == 3:
            label = draw(_piece_text) + label
        elif special == 4 and fmt == "csv":
            path = '"' + path.replace("x", '""') + draw(st.sampled_from(["", ",", "\n"])) + '"'
        lines.append(path + sep + label)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    data = text.encode("utf-8")
    if draw(st.integers(0, 30)) == 0:
        data += b"bad\xff.jpg" + sep.encode() + b"x\n"
    return fmt, data


@given(messy=messy_files(), block=st.sampled_from([1, 7, 64, 4096]),
       max_codes=st.sampled_from([0, 2, 1 << 16]))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_block_reader_matches_the_line_reader(
    messy: tuple[str, bytes], block: int, max_codes: int
) -> None:
    fmt, data = messy
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"labels.{fmt}"
        path.write_bytes(data)
        exact, fast = both_readers(path, block=block, max_codes=max_codes)
    assert fast == exact


def test_block_reader_across_blocks_and_special_lines(tmp_path: Path) -> None:
    lines = ["path,label"] + [f"train/c{i % 7}/img_{i:05d}.jpg,c{i % 7}" for i in range(3000)]
    lines[500] = '"quoted, path.jpg",c1'
    lines[900] = '# a comment, with "quotes"'
    lines[901] = ""
    lines[1500] = "  spaced.jpg , c2 "
    lines[2000] = "ñandú/猫.jpg,café"
    path = write_text(tmp_path / "labels.csv", "\r\n".join(lines))  # CRLF, no final newline
    exact, fast = both_readers(path, block=4096)
    assert fast == exact
    m = read_manifest(path)
    assert len(m) == 2998  # 3000 rows, two of them made a comment and a blank line
    assert m.lines[-1] == 3001
    assert relative(m, tmp_path)[499] == "quoted, path.jpg"
    assert relative(m, tmp_path)[1497] == "spaced.jpg"
    assert m.classes is not None and "café" in m.classes


@pytest.mark.parametrize(
    ("bad", "line", "reason"),
    [
        ("img_x.jpg", 2345, "no label"),
        ("img_x.jpg,a,b", 2345, "row has 3 fields but the first row has 2"),
        (',c1', 2345, "empty path"),
        ('"open.jpg,c1', 2345, "malformed row"),
    ],
)  # fmt: skip
def test_block_reader_errors_name_the_line(
    tmp_path: Path, bad: str, line: int, reason: str
) -> None:
    lines = [f"train/img_{i:05d}.jpg,c{i % 3}" for i in range(4000)]
    lines[line - 1] = bad
    path = write_text(tmp_path / "labels.csv", "\n".join(lines) + "\n")
    exact, fast = both_readers(path, block=1 << 19)
    assert fast == exact
    err = manifest_error(path)
    assert err.line == line
    assert reason in err.reason


def test_many_distinct_numeric_labels(tmp_path: Path) -> None:
    rows = [(f"img/{i:06d}.jpg", f"{(i * 7919) % 100003 / 7:.4f}") for i in range(5000)]
    path = write_text(tmp_path / "y.csv", render("csv", rows))
    exact, fast = both_readers(path, block=4096, max_codes=100)  # labels kept as text
    assert fast == exact
    m = read_manifest(path)
    assert m.labels.dtype == np.float32
    assert m.classes is None
    assert np.allclose(m.labels, [float(lab) for _, lab in rows])
    # Numbers and, on more than one row in 20, a word: all class names, in sorted order (a
    # word on fewer rows is taken for a typo: an error, see "Label types" below).
    cats = [(f"cat/{i}.jpg", "cat") for i in range(300)]
    path = write_text(tmp_path / "y.csv", render("csv", [*rows, *cats]))
    exact, fast = both_readers(path, block=4096, max_codes=100)
    assert fast == exact
    assert fast[5] == tuple(sorted({lab for _, lab in rows} | {"cat"}))
    # An integer too large for int64 is reported at its first line, labels kept as text or not.
    big = [(f"img/{i}.jpg", str(i)) for i in range(3000)] + [("big.jpg", "9" * 20)] * 2
    path = write_text(tmp_path / "y.csv", render("csv", big))
    for max_codes in (100, 1 << 16):
        exact, fast = both_readers(path, block=4096, max_codes=max_codes)
        assert fast == exact == ("error", 3001, f"label {'9' * 20} does not fit in int64")


@pytest.mark.parametrize("labels", ["names", "floats"])
def test_no_python_object_per_row_is_kept(tmp_path: Path, labels: str) -> None:
    n = 100_000
    rows = [
        f"train/n{i % 1000:08d}/img_{i}.JPEG," + (f"n{i % 1000:08d}" if labels == "names"
                                                  else f"{i / 7:.5f}")
        for i in range(n)
    ]  # fmt: skip
    path = write_text(tmp_path / "labels.csv", "path,label\n" + "\n".join(rows) + "\n")
    del rows
    before = sys.getallocatedblocks()
    m = read_manifest(path)
    kept = sys.getallocatedblocks() - before
    assert len(m) == n
    assert kept < n // 20, f"{kept} Python allocations kept for {n} rows"


def test_jsonl_path_with_a_lone_surrogate(tmp_path: Path) -> None:
    # "\udcff" is how Python spells the undecodable file-name byte 0xff: a possible name.
    text = '{"path": "ok.jpg", "label": 1}\n{"path": "\\udcff.jpg", "label": 1}\n'
    m = read_manifest(write_text(tmp_path / "labels.jsonl", text))
    assert os.fsencode(m.paths[1]) == os.fsencode(str(tmp_path)) + b"/\xff.jpg"
    # "\ud800" is not: no file can have that name.
    text += '{"path": "\\ud800.jpg", "label": 1}\n'
    err = manifest_error(write_text(tmp_path / "labels.jsonl", text))
    assert err.line == 3
    assert "not a possible file name" in err.reason


# ---------------------------------------------------------------------------------------------
# Label types: classes= pins the ids, label_type=, odd labels refused by line (issue 14)


def table_file(tmp_path: Path, fmt: str, labels: Sequence[str], *, name: str = "labels") -> Path:
    """A label file of format ``fmt`` with one row per label (paths ``0.jpg``, ``1.jpg``, ...)."""
    rows = [(f"{i}.jpg", lab) for i, lab in enumerate(labels)]
    return write_text(tmp_path / f"{name}.{fmt}", render(fmt, rows))


def read_both(path: Path, **options: Any) -> tuple[Outcome, Outcome]:
    """``path`` read with ``options`` line by line, and by the block reader in small blocks with
    labels kept as text past two distinct ones (as :func:`both_readers`)."""

    def read() -> Outcome:
        try:
            m = read_manifest(path, **options)
        except ManifestError as e:
            return ("error", e.line, e.reason)
        return ("ok", m.labels.dtype.str, m.labels.tolist(), m.classes, m.lines.tolist())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_module, "_FAST", False)
        exact = read()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_module, "_BLOCK_SIZE", 64)
        mp.setattr(manifest_module, "_MAX_CODES", 2)
        fast = read()
    return exact, fast


@pytest.mark.parametrize("fmt", FORMATS)
def test_classes_pin_the_ids_of_a_file_lacking_a_class(tmp_path: Path, fmt: str) -> None:
    train = read_manifest(table_file(tmp_path, fmt, ["cat", "dog", "horse", "dog"], name="train"))
    val_path = table_file(tmp_path, fmt, ["horse", "cat", "horse"], name="val")
    drifted = read_manifest(val_path)
    assert drifted.classes == ("cat", "horse")  # horse is 1 here, 2 in train: the drift
    val = read_manifest(val_path, classes=train.classes)
    assert val.classes == train.classes == ("cat", "dog", "horse")  # dog kept, with no rows
    assert val.labels.tolist() == [2, 0, 2]
    assert [train.classes[i] for i in val.labels] == ["horse", "cat", "horse"]
    exact, fast = read_both(val_path, classes=train.classes)
    assert exact == fast


def test_classes_given_order_is_the_id_order(tmp_path: Path) -> None:
    path = table_file(tmp_path, "csv", ["b", "a", "c", "a"])
    m = read_manifest(path, classes=["c", "b", "a", "unused"])
    assert m.classes == ("c", "b", "a", "unused")
    assert m.labels.tolist() == [1, 2, 0, 2]
    assert m[0] == (os.path.join(str(tmp_path), "0.jpg"), 1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_with_classes_labels_are_names_never_numbers(tmp_path: Path, fmt: str) -> None:
    path = table_file(tmp_path, fmt, ["0", "2", "10", "2"])
    assert read_manifest(path).classes is None  # integers, as they read
    m = read_manifest(path, classes=("10", "2", "0"))
    assert m.classes == ("10", "2", "0")
    assert m.labels.dtype == np.int64
    assert m.labels.tolist() == [2, 1, 0, 1]
    err = manifest_error(path, classes=("0", "1", "2"))
    assert err.line == 3
    assert err.reason.startswith("label '10' is not one of the 3 classes given (0, 1, 2)")


def test_a_label_outside_the_classes_names_its_line(tmp_path: Path) -> None:
    lines = ["path,label", "# a comment", "a.jpg,cat", "", "b.jpg,dog", "c.jpg,horse", "d.jpg,dgo"]
    path = write_text(tmp_path / "val.csv", "\n".join(lines) + "\n")
    err = manifest_error(path, classes=("cat", "dog", "horse"))
    assert err.line == 7
    assert str(err) == (
        f"{path}, line 7: label 'dgo' is not one of the 3 classes given (cat, dog, horse); "
        "did you mean 'dog'?"
    )
    exact, fast = read_both(path, classes=("cat", "dog", "horse"))
    assert exact == fast == ("error", 7, err.reason)


def test_a_label_outside_many_classes_lists_ten(tmp_path: Path) -> None:
    classes = [f"class_{i:03d}" for i in range(300)]
    err = manifest_error(table_file(tmp_path, "txt", ["class_001", "zebra"]), classes=classes)
    assert err.line == 2
    assert "is not one of the 300 classes given (class_000, class_001," in err.reason
    assert "class_009, ... (290 more))" in err.reason
    assert "class_010" not in err.reason


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [
        ("cat", TypeError, "sequence of class names"),
        (b"cat", TypeError, "sequence of class names"),
        (3, TypeError, "sequence of class names"),
        ([], ValueError, "at least one class"),
        (["cat", "dog", "cat"], ValueError, "unique: 'cat' appears 2 times"),
        (["cat", ""], ValueError, "non-empty"),
        (["cat", " dog"], ValueError, "white space at either end: ' dog'"),
        (["cat", 1], TypeError, "must be strings, got 1"),
    ],
)  # fmt: skip
def test_classes_are_checked(
    tmp_path: Path, classes: object, error: type[Exception], match: str
) -> None:
    path = table_file(tmp_path, "csv", ["cat"])
    with pytest.raises(error, match=match):
        read_manifest(path, classes=classes)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        imgbatch.manifest.as_manifest(path, classes=classes)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        read_folder(tmp_path, classes=classes)  # type: ignore[arg-type]


def test_classes_accept_any_sequence_of_names(tmp_path: Path) -> None:
    path = table_file(tmp_path, "csv", ["dog", "cat"])
    for names in (["cat", "dog"], ("cat", "dog"), np.array(["cat", "dog"]), iter(["cat", "dog"])):
        m = read_manifest(path, classes=names)  # type: ignore[arg-type]
        assert m.classes == ("cat", "dog") and m.labels.tolist() == [1, 0]


def test_label_type_is_checked(tmp_path: Path) -> None:
    path = table_file(tmp_path, "csv", ["1"])
    with pytest.raises(
        ValueError, match="label_type must be one of 'auto', 'class', 'int', 'float'"
    ):
        read_manifest(path, label_type="str")
    with pytest.raises(ValueError, match="needs label_type 'auto' or 'class', not 'int'"):
        read_manifest(path, label_type="int", classes=("1",))
    make_tree(tmp_path / "photos", ["cat/a.jpg"])
    assert read_folder(tmp_path / "photos", label_type="class").classes == ("cat",)
    with pytest.raises(ValueError, match="label_type must be one of 'auto', 'class', got 'int'"):
        read_folder(tmp_path / "photos", label_type="int")


@pytest.mark.parametrize("fmt", FORMATS)
def test_label_type_class_reads_every_label_as_a_name(tmp_path: Path, fmt: str) -> None:
    path = table_file(tmp_path, fmt, ["1", "10", "2", "007", "nan", "2"])
    m = read_manifest(path, label_type="class")
    assert m.classes == ("007", "1", "10", "2", "nan")
    assert m.labels.tolist() == [1, 2, 3, 0, 4, 3]
    exact, fast = read_both(path, label_type="class")
    assert exact == fast


@pytest.mark.parametrize(
    ("labels", "line", "first"),
    [
        (["1", "-2", "+3", "007"], None, None),
        (["1", "2", "2.5", "x"], 3, "2.5"),
        (["1", "x", "2.5"], 2, "x"),
        (["1", "1.0"], 2, "1.0"),
        (["1", "nan"], 2, "nan"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_label_type_int(
    tmp_path: Path, fmt: str, labels: list[str], line: int | None, first: str | None
) -> None:
    path = table_file(tmp_path, fmt, labels)
    if line is None:
        m = read_manifest(path, label_type="int")
        assert m.labels.dtype == np.int64 and m.labels.tolist() == [1, -2, 3, 7]
        return
    err = manifest_error(path, label_type="int")
    assert err.line == line
    assert err.reason == f"label '{first}' is not an integer (label_type='int')"
    exact, fast = read_both(path, label_type="int")
    assert exact == fast


@pytest.mark.parametrize(
    ("labels", "line", "first"),
    [
        (["1", "2.5", "-3e2"], None, None),
        (["1", "2", "nan"], 3, "nan"),
        (["0.5", "-inf"], 2, "-inf"),
        (["0.5", "Infinity", "NaN"], 2, "Infinity"),
        (["0.5", "NA"], 2, "NA"),
        (["0.5", "x"], 2, "x"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_label_type_float(
    tmp_path: Path, fmt: str, labels: list[str], line: int | None, first: str | None
) -> None:
    path = table_file(tmp_path, fmt, labels)
    if line is None:
        m = read_manifest(path, label_type="float")
        assert m.labels.dtype == np.float32 and m.labels.tolist() == [1.0, 2.5, -300.0]
        return
    err = manifest_error(path, label_type="float")
    assert err.line == line
    assert err.reason == f"label '{first}' is not a finite number (label_type='float')"
    exact, fast = read_both(path, label_type="float")
    assert exact == fast


def test_label_type_float_reads_integers_as_numbers(tmp_path: Path) -> None:
    path = table_file(tmp_path, "txt", ["1", "2", "99999999999999999999"])
    assert "does not fit in int64" in manifest_error(path).reason  # auto: integers first
    m = read_manifest(path, label_type="float")
    assert m.labels.dtype == np.float32 and m.classes is None
    assert m.labels.tolist() == [1.0, 2.0, np.float32(1e20)]


def test_one_typo_in_a_file_of_integers_names_its_line(tmp_path: Path) -> None:
    labels = [str(i % 10) for i in range(999)] + ["3O"]
    rows = [(f"{i}.jpg", lab) for i, lab in enumerate(labels)]
    path = write_text(tmp_path / "labels.csv", "path,label\n" + render("csv", rows))
    err = manifest_error(path)
    assert str(err) == (
        f"{path}, line 1001: label '3O' is not an integer, unlike the other 999 rows; "
        'fix it or pass label_type="class"'
    )
    exact, fast = read_both(path)
    assert exact == fast == ("error", 1001, err.reason)
    m = read_manifest(path, label_type="class")  # the way out, when they are names
    assert m.classes is not None and "3O" in m.classes


@pytest.mark.parametrize(
    ("numbers", "odd", "refused"),
    [
        (19, 1, True),  # one row in 20: a typo
        (18, 1, False),  # one row in 19: a class of its own
        (950, 50, True),
        (949, 51, False),
        (3, 0, False),  # no odd row: integers
    ],
)
@pytest.mark.parametrize("kind", ["ints", "floats"])
def test_all_but_a_few_threshold(
    tmp_path: Path, numbers: int, odd: int, refused: bool, kind: str
) -> None:
    assert imgbatch.manifest.FEW_ODD == 20
    values = [str(i % 7) if kind == "ints" else f"{i / 8:.3f}" for i in range(numbers)]
    labels = values[:5] + ["cat"] * odd + values[5:]  # the first odd row is row 6
    path = table_file(tmp_path, "txt", labels)
    exact, fast = read_both(path)
    assert exact == fast
    if refused:
        what = "an integer" if kind == "ints" else "a number"
        err = manifest_error(path)
        assert err.line == 6
        assert err.reason.startswith(f"label 'cat' is not {what}, unlike ")
        assert f"{numbers:,} of the other {numbers + odd - 1:,} rows" in err.reason or odd == 1
        assert err.reason.endswith('or pass label_type="class"')
        assert read_manifest(path, label_type="class").classes is not None
    elif odd:
        m = read_manifest(path)
        assert m.classes is not None and "cat" in m.classes
    else:
        assert read_manifest(path).classes is None


def test_several_odd_rows_are_listed_by_line(tmp_path: Path) -> None:
    labels = [str(i % 3) for i in range(400)]
    for row in (10, 20, 30):
        labels[row] = "l" if row != 20 else "I"  # letters for 1
    err = manifest_error(table_file(tmp_path, "csv", labels))
    assert err.line == 11
    assert err.reason == (
        "label 'l' is not an integer, unlike 397 of the other 399 rows; fix the 3 rows "
        '(lines 11, 21, 31) or pass label_type="class"'
    )


@pytest.mark.parametrize("nan", ["nan", "NaN", "-nan", "inf", "-inf", "+Inf", "Infinity"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_nan_or_inf_in_a_regression_file_is_an_error_not_classes(
    tmp_path: Path, fmt: str, nan: str
) -> None:
    labels = [f"{(i * 37) % 1000 / 9:.4f}" for i in range(958)]
    labels.insert(500, nan)
    path = table_file(tmp_path, fmt, labels)
    err = manifest_error(path)  # not 959 classes
    assert err.line == 501
    assert err.reason == (
        f"label '{nan}' is not a finite number, unlike the other 958 rows; fix or drop it, "
        'or pass label_type="class" if it is a class name'
    )
    exact, fast = read_both(path)
    assert exact == fast


def test_nan_is_a_label_only_when_asked_for(tmp_path: Path) -> None:
    path = table_file(tmp_path, "csv", ["cat", "nan", "dog", "nan"])
    err = manifest_error(path)  # among class names too: a nan is a missing value
    assert err.line == 2
    assert err.reason.startswith("label 'nan' is not a finite number; fix or drop the 2 rows")
    assert read_manifest(path, label_type="class").classes == ("cat", "dog", "nan")
    assert read_manifest(path, classes=("cat", "dog", "nan")).labels.tolist() == [0, 2, 1, 2]


def test_jsonl_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    text = '{"path": "a.jpg", "label": 0.5}\n{"path": "b.jpg", "label": NaN}\n'
    err = manifest_error(write_text(tmp_path / "y.jsonl", text))
    assert err.line == 2 and "'nan' is not a finite number" in err.reason
    text = '{"path": "a.jpg", "label": 0.5}\n{"path": "b.jpg", "label": -Infinity}\n'
    err = manifest_error(write_text(tmp_path / "y.jsonl", text), label_type="float")
    assert err.line == 2 and "'-inf' is not a finite number" in err.reason


def test_missing_value_words_among_numbers_are_refused(tmp_path: Path) -> None:
    labels = [str(i % 4) for i in range(50)] + ["NA"] * 30  # far more than a few
    err = manifest_error(table_file(tmp_path, "tsv", labels))
    assert err.line == 51
    assert err.reason.startswith("label 'NA' is not an integer (a missing value?), unlike 50 of")
    assert "fix the 30 rows (lines 51, 52," in err.reason
    # Among class names, such a word is a class name.
    m = read_manifest(table_file(tmp_path, "tsv", ["cat", "none", "dog"]))
    assert m.classes == ("cat", "dog", "none")


def test_odd_labels_among_many_distinct_numbers(tmp_path: Path) -> None:
    rows = [(f"img/{i:06d}.jpg", f"{(i * 7919) % 100003 / 7:.4f}") for i in range(5000)]
    rows.insert(4321, ("odd.jpg", "1.5.2"))
    path = write_text(tmp_path / "y.csv", render("csv", rows))
    for max_codes in (100, 1 << 16):  # labels kept as text, or as codes
        exact, fast = both_readers(path, block=4096, max_codes=max_codes)
        assert exact == fast
        assert fast[:2] == ("error", 4322)
        assert "label '1.5.2' is not a number, unlike the other 5,000 rows" in str(fast[2])


@st.composite
def mixed_labels(draw: st.DrawFn) -> list[str]:
    numbers = draw(st.lists(st.sampled_from(["0", "7", "-3", "2.5", "1e3"]), max_size=60))
    words = draw(st.lists(st.sampled_from(["cat", "3O", "NA", "nan", "inf"]), max_size=5))
    return draw(st.permutations(numbers + words)) or ["cat"]


@given(labels=mixed_labels())
@settings(max_examples=150, deadline=None)
def test_auto_mode_follows_the_rule(labels: list[str]) -> None:
    numbers = [lab for lab in labels if lab in ("0", "7", "-3", "2.5", "1e3")]
    odd = len(labels) - len(numbers)
    nonfinite = any(lab in ("nan", "inf") for lab in labels)
    with tempfile.TemporaryDirectory() as folder:
        path = table_file(Path(folder), "txt", labels)
        exact, fast = read_both(path)
        assert exact == fast
    if not odd:
        assert fast[0] == "ok" and fast[3] is None  # numbers
    elif nonfinite or (numbers and (odd * 20 <= len(labels) or set(labels) <= {*numbers, "NA"})):
        first = next(i for i, lab in enumerate(labels) if lab not in numbers)
        if nonfinite:
            first = next(i for i, lab in enumerate(labels) if lab in ("nan", "inf"))
        assert fast[:2] == ("error", first + 1)
    else:
        assert fast[0] == "ok" and fast[3] == tuple(sorted(set(labels)))


# ---------------------------------------------------------------------------------------------
# Class folders with classes=, Manifests given with classes=, with_classes


def test_read_folder_with_classes(tmp_path: Path) -> None:
    make_tree(tmp_path / "photos", ["dog/a.jpg", "cat/b.jpg", "cat/c.jpg"])
    m = read_folder(tmp_path / "photos", classes=("horse", "dog", "cat"))
    assert m.classes == ("horse", "dog", "cat")
    assert relative(m, tmp_path / "photos") == ["dog/a.jpg", "cat/b.jpg", "cat/c.jpg"]
    assert m.labels.tolist() == [1, 2, 2]
    with pytest.raises(ManifestError) as info:
        read_folder(tmp_path / "photos", classes=("cat", "horse"))
    assert info.value.path == str(tmp_path / "photos")
    assert info.value.reason == ("subfolder 'dog' is not one of the 2 classes given (cat, horse)")


def test_as_manifest_passes_classes_and_label_type_on(tmp_path: Path) -> None:
    path = table_file(tmp_path, "csv", ["dog", "cat"])
    as_manifest = imgbatch.manifest.as_manifest
    assert as_manifest(path, classes=("cat", "dog", "emu")).classes == ("cat", "dog", "emu")
    assert as_manifest(table_file(tmp_path, "txt", ["1", "2"]), label_type="class").classes == (
        "1", "2",
    )  # fmt: skip
    make_tree(tmp_path / "photos", ["dog/a.jpg"])
    assert as_manifest(tmp_path / "photos", classes=("cat", "dog")).labels.tolist() == [1]
    with pytest.raises(ValueError, match="label_type must be one of 'auto', 'class', got 'int'"):
        as_manifest(tmp_path / "photos", label_type="int")


def test_a_manifest_given_with_other_classes_is_an_error_not_renumbered(tmp_path: Path) -> None:
    as_manifest = imgbatch.manifest.as_manifest
    path = table_file(tmp_path, "csv", ["horse", "cat"])
    val = read_manifest(path)
    assert as_manifest(val, classes=("cat", "horse")) is val
    assert as_manifest(val) is val
    with pytest.raises(ManifestError) as info:
        as_manifest(val, classes=("cat", "dog", "horse"))
    assert info.value.path == str(path)
    assert info.value.reason == (
        "its classes (cat, horse) differ from classes= (cat, dog, horse); read it with "
        "classes=, or renumber it with manifest.with_classes(classes)"
    )
    assert val.labels.tolist() == [1, 0]  # the caller's manifest is untouched
    numeric = read_manifest(table_file(tmp_path, "txt", ["1", "2"]))
    with pytest.raises(ManifestError, match=r"its classes \(numeric labels\) differ"):
        as_manifest(numeric, classes=("1", "2"))
    with pytest.raises(
        ManifestError, match="label_type='class', but the Manifest's labels are int"
    ):
        as_manifest(numeric, label_type="class")
    assert as_manifest(numeric, label_type="int") is numeric
    in_code = Manifest(["a.jpg"], [0], classes=("cat",))
    with pytest.raises(ManifestError, match="the Manifest given: its classes"):
        as_manifest(in_code, classes=("dog",))


def test_with_classes_renumbers(tmp_path: Path) -> None:
    val = read_manifest(table_file(tmp_path, "csv", ["horse", "cat", "horse"]))
    pinned = val.with_classes(("cat", "dog", "horse"))
    assert pinned.classes == ("cat", "dog", "horse")
    assert pinned.labels.tolist() == [2, 0, 2]
    assert list(pinned.paths) == list(val.paths) and pinned.lines.tolist() == [1, 2, 3]
    assert val.labels.tolist() == [1, 0, 1]
    with pytest.raises(ManifestError) as info:
        val.with_classes(("cat", "dog"))
    assert info.value.line == 1
    assert info.value.reason == "label 'horse' is not one of the 2 classes given (cat, dog)"
    with pytest.raises(ValueError, match="labels are numbers"):
        read_manifest(table_file(tmp_path, "txt", ["1"])).with_classes(("1",))


# ---------------------------------------------------------------------------------------------
# A label file must be a regular file; messages quote at most ~200 characters of a line


def finishes(call: Any, seconds: float = 20.0) -> BaseException | None:
    """Run ``call`` in a thread: the exception it raised (None if none); fails if it hangs."""
    import threading

    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # handed back to the test
            outcome.append(e)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_label_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)
    error = finishes(lambda: read_manifest(fifo))
    assert isinstance(error, ManifestError)
    assert error.path == str(fifo) and error.line is None
    assert (
        error.reason == "not a regular file (a FIFO or pipe): a label file must be a file on disk"
    )
    error = finishes(lambda: imgbatch.manifest.as_manifest(str(fifo)))
    assert isinstance(error, ManifestError)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_as_label_file_is_refused_at_once() -> None:
    error = finishes(lambda: read_manifest("/dev/zero"))
    assert isinstance(error, ManifestError)
    assert error.reason.startswith("not a regular file (a character device)")


HUGE = 10_000_000  # characters on one line


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("labels.txt", "a.jpg 1\n" + "x" * HUGE + "\n", "row has no label (path 'xxx"),
        ("labels.csv", "a.jpg,1\n" + "x" * HUGE + "\n", "malformed row: field larger than"),
        ("labels.tsv", "a.jpg\t1\n" + "x" * 100_000 + "\n", "row has no label (path 'xxx"),
        ("labels.csv", "path,label\na.jpg," + "9" * HUGE + "\n", "label 999"),
        ("labels.txt", "a.jpg 1\n" * 30 + "b.jpg 1" + "O" * HUGE + "\n", "label '1OOO"),
        ("labels.csv", "path,label\na.jpg,cat\nb.jpg,c" + "a" * HUGE + "t\n", "label 'caaa"),
        ("labels.jsonl", '{"path": "a.jpg", "label": {"a": [' + "1," * HUGE + "1]}}\n",
         'label must be a number or a string, got {"a": [1, 1,'),
        ("labels.jsonl", '{"path": ["' + "p" * HUGE + '"], "label": 1}\n',
         "path must be a string, got ['ppp"),
        ("labels.jsonl", '{"file": "b.jpg", "y": 1}\n{"file": "a.jpg", "y' + "y" * HUGE + '": 1}\n',
         "row has no label (fie"),
        ("labels.csv", "image," + ",".join(f"c{i}" for i in range(HUGE // 10)) + "\na.jpg,1\n",
         "header has no label column"),
    ],
)  # fmt: skip
def test_messages_quote_at_most_about_200_characters_of_a_line(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    path = write_text(tmp_path / name, text)
    classes = ("cat",) if "caaa" in reason else None
    err = manifest_error(path, classes=classes)
    assert err.reason.startswith(reason)
    assert len(err.reason) < 600, err.reason[:1000]
    if not reason.startswith("malformed"):  # the csv module refuses a field this long itself
        assert "\u2026" in err.reason  # the ellipsis says it was cut


def test_shorten() -> None:
    from imgbatch._util import shorten

    assert shorten("abc") == "abc"
    assert shorten("x" * 200) == "x" * 200
    assert shorten("x" * 201) == "x" * 199 + "\u2026"
    assert len(shorten("y" * HUGE, 50)) == 50


# ---------------------------------------------------------------------------------------------
# Paths written with backslashes


def test_rows_containing(tmp_path: Path) -> None:
    m = read_manifest(
        write_text(tmp_path / "l.txt", "a.jpg 1\nb\\c.jpg 1\nd.jpg 2\ne\\\\f.jpg 3\n")
    )
    assert m.paths.rows_containing("\\").tolist() == [1, 3]
    assert m.paths.rows_containing("#").tolist() == []
    assert m.paths.rows_containing("a").tolist() == [0]
    with pytest.raises(ValueError, match="one character of one byte"):
        m.paths.rows_containing("猫")
