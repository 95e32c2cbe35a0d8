"""``imgbatch scan``: every kind of bad row found with its file and line; ``--out`` loads clean."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from imgbatch import Loader, read_manifest
from imgbatch.cli import main
from imgbatch.scan import IMBALANCE_RATIO, ScanReport, scan, write_clean
from imgbatch.scan.labels import edit_distance
from tests.helpers import encode, gradient, make_dataset, solid, write

# ---------------------------------------------------------------------------------------------
# The test set: one file per reason, and the label-level problems


def jpeg_bytes(image: np.ndarray | Image.Image) -> bytes:
    return encode(image, "JPEG", quality=95)


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(gradient(64, 96))
    return data[: len(data) // 2]


def corrupt_scan_jpeg() -> bytes:
    """Garbage inside the compressed data, end marker intact: cv2 returns a picture of it."""
    data = jpeg_bytes(gradient(64, 96))
    start = data.index(b"\xff\xda") + 14  # past the start-of-scan header
    garbage = np.random.default_rng(7).integers(0, 256, len(data) - start - 2, np.uint8)
    return data[:start] + garbage.tobytes() + b"\xff\xd9"


def cmyk_jpeg() -> bytes:
    return jpeg_bytes(Image.fromarray(gradient(40, 56)).convert("CMYK"))


def png16() -> bytes:
    y, x = np.mgrid[0:48, 40:80]
    ok, buffer = cv2.imencode(".png", (x * 800 + y * 300).astype(np.uint16))
    assert ok
    return buffer.tobytes()


HTML = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n"
# file -> (reason, line) for every bad file; lines count the header as line 1.
BAD = {
    "dog/missing.jpg": "missing",
    "dog/zero_bytes.jpg": "empty",
    "dog/error_page.jpg": "not an image",
    "cat/truncated.jpg": "truncated",
    "cat/bad_scan.jpg": "corrupt",
}
N_DOG, N_CAT, N_BIRD = 30, 12, 2


def build_test_set(root: Path) -> Path:
    """labels.csv and its images: every problem ``imgbatch scan`` looks for, once.

    - 30 ``dog``, 12 ``cat`` and 2 ``bird`` images (bird: 15x fewer rows than dog, imbalance);
    - one row labelled ``dgo`` (a typo of ``dog``);
    - the bad files of :data:`BAD`: missing, zero bytes, an HTML page named .jpg, a truncated
      JPEG and a JPEG with garbage in its compressed data;
    - a CMYK JPEG and a 16-bit PNG, which are fine;
    - ``dog/dog_003.png`` on two rows (same label) and ``cat/cat_001.png`` on two (as cat, then
      as ``./cat/cat_001.png`` labelled dog).
    """
    rows = ["path,label"]

    def add(rel: str, label: str, data: bytes | None) -> None:
        if data is not None:
            write(root / rel, data)
        rows.append(f"{rel},{label}")

    for k in range(N_DOG - 2):
        add(f"dog/dog_{k:03d}.png", "dog", encode(solid(24 + k, 32, (200, 120, 40))))
    add("dog/cmyk.jpg", "dog", cmyk_jpeg())
    add("dog/depth16.png", "dog", png16())
    for k in range(N_CAT):
        add(f"cat/cat_{k:03d}.jpg", "cat", jpeg_bytes(solid(64, 48, (90, 90, 90))))
    for k in range(N_BIRD):
        add(f"bird/bird_{k:03d}.png", "bird", encode(solid(16, 16, (0, 90, 200))))
    add("dog/dgo_typo.png", "dgo", encode(solid(30, 30, (200, 120, 40))))
    add("dog/missing.jpg", "dog", None)
    add("dog/zero_bytes.jpg", "dog", b"")
    add("dog/error_page.jpg", "dog", HTML)
    add("cat/truncated.jpg", "cat", truncated_jpeg())
    add("cat/bad_scan.jpg", "cat", corrupt_scan_jpeg())
    rows.append("dog/dog_003.png,dog")
    rows.append("./cat/cat_001.jpg,dog")
    labels = root / "labels.csv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def line_of(labels: Path, rel: str) -> int:
    """The 1-based line of the first row naming ``rel``."""
    for n, text in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        if text.split(",")[0] == rel:
            return n
    raise AssertionError(rel)


def fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the SHA-256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def bad_set(tmp_path: Path) -> Path:
    return build_test_set(tmp_path / "data")


def run_scan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scan", "--no-progress", "--workers", "2", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------
# Finding the problems


def test_scan_finds_every_bad_file_with_its_reason_and_line(bad_set: Path) -> None:
    report = scan(bad_set, workers=2)
    found = {p.path: (p.reason, p.line) for p in report.problems}
    assert found == {rel: (reason, line_of(bad_set, rel)) for rel, reason in BAD.items()}
    details = {p.path: p.detail for p in report.problems}
    assert details["dog/missing.jpg"] == "no such file"
    assert details["dog/zero_bytes.jpg"] == "empty file (0 bytes)"
    assert details["dog/error_page.jpg"].startswith("not an image (starts with b'<!DOCTYPE")
    assert "truncated JPEG" in details["cat/truncated.jpg"]
    assert "corrupt JPEG data" in details["cat/bad_scan.jpg"]
    assert not report.clean


def test_cmyk_jpeg_and_16_bit_png_are_not_problems(bad_set: Path) -> None:
    report = scan(bad_set, workers=2)
    paths = {p.path for p in report.problems}
    assert "dog/cmyk.jpg" not in paths and "dog/depth16.png" not in paths


def test_duplicates_are_found_with_their_lines_and_label_conflicts(bad_set: Path) -> None:
    report = scan(bad_set, workers=2)
    dups = {d.path: d for d in report.duplicates}
    assert set(dups) == {"dog/dog_003.png", "cat/cat_001.jpg"}
    same, clash = dups["dog/dog_003.png"], dups["cat/cat_001.jpg"]
    n_rows = len(bad_set.read_text(encoding="utf-8").splitlines())
    assert same.lines == (line_of(bad_set, "dog/dog_003.png"), n_rows - 1)
    assert same.labels == ("dog", "dog") and not same.conflict
    assert clash.lines == (line_of(bad_set, "cat/cat_001.jpg"), n_rows)
    assert clash.labels == ("cat", "dog") and clash.conflict


def test_label_typo_histogram_imbalance_and_sizes(bad_set: Path) -> None:
    report = scan(bad_set, workers=2, size=32)
    assert [(t.label, t.like, t.how, t.lines) for t in report.typos] == [
        ("dgo", "dog", "spelling", (line_of(bad_set, "dog/dgo_typo.png"),))
    ]
    assert report.histogram == {"bird": 2, "cat": N_CAT + 2, "dgo": 1, "dog": N_DOG + 5}
    # The typo class does not count as the smallest class: dog / bird.
    assert report.imbalance == pytest.approx((N_DOG + 5) / N_BIRD)
    assert report.imbalanced and report.imbalance is not None
    assert report.imbalance > IMBALANCE_RATIO
    sizes = report.sizes
    assert sizes is not None
    # The good files plus the corrupt JPEG's declared size are not counted: only decoded images.
    assert sizes.images == report.rows - len(BAD)
    assert sizes.height[0] == 16 and sizes.height[2] == 64
    assert sizes.width[0] == 16 and sizes.width[2] == 56
    # Smaller than 32x32 on a side: the 2 birds, dog_000..007 (24..31 high), the 30x30 typo row,
    # and dog_003 counted again on its duplicate row.
    assert sizes.smaller == 2 + 8 + 1 + 1


def test_text_report_names_every_problem_with_file_and_line(
    bad_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_scan(capsys, str(bad_set), "--size", "32")
    assert code == 1, err
    for rel, reason in BAD.items():
        line = line_of(bad_set, rel)
        assert any(
            reason in text and f" {line} " in text and rel in text for text in out.splitlines()
        ), (rel, out)
    assert "cmyk.jpg" not in out and "depth16.png" not in out
    assert "'dgo' (1 row, line" in out and "looks like 'dog'" in out
    assert "labels conflict: cat, dog" in out and "same label: dog" in out
    assert "warning: classes are imbalanced" in out
    assert "images smaller than 32x32" in out
    assert "problems: 5 bad files, 2 duplicate paths, 1 suspected label typo" in out


def test_json_report_for_scripts(bad_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scan(capsys, str(bad_set), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["clean"] is False and data["rows"] == len(read_manifest(bad_set))
    assert {p["path"]: p["reason"] for p in data["problems"]} == BAD
    assert all(p["line"] == line_of(bad_set, p["path"]) for p in data["problems"])
    assert data["problem_counts"] == {reason: 1 for reason in BAD.values()}
    assert {d["path"]: d["conflict"] for d in data["duplicates"]} == {
        "dog/dog_003.png": False, "cat/cat_001.jpg": True,
    }  # fmt: skip
    assert [(t["label"], t["like"]) for t in data["typos"]] == [("dgo", "dog")]
    assert data["histogram"]["dog"] == N_DOG + 5 and data["imbalanced"] is True
    assert data["sizes"]["images"] == data["rows"] - len(BAD)


def test_a_clean_set_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = make_dataset(tmp_path, {"red": (255, 0, 0), "blue": (0, 0, 255)}, 3, (8, 8))
    code, out, _ = run_scan(capsys, str(labels))
    assert code == 0
    assert "clean;" in out and "cannot be used" not in out
    code, out, _ = run_scan(capsys, str(labels), "--json")
    assert code == 0 and json.loads(out)["clean"] is True


def test_a_class_folder_can_be_scanned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_dataset(tmp_path, {"red": (255, 0, 0), "blue": (0, 0, 255)}, 3, (8, 8))
    write(tmp_path / "red" / "broken.png", b"\x89PNG\r\n\x1a\n cut")
    code, out, _ = run_scan(capsys, str(tmp_path))
    assert code == 1
    assert "red/broken.png" in out and "truncated" in out


def test_quick_mode_reads_headers_only(bad_set: Path) -> None:
    report = scan(bad_set, quick=True, workers=2)
    assert report.quick
    # Missing, empty and not-an-image files show in the headers; broken data does not.
    assert {p.path: p.reason for p in report.problems} == {
        rel: reason for rel, reason in BAD.items() if reason not in ("truncated", "corrupt")
    }
    assert report.sizes is not None and report.sizes.height[2] == 64  # sizes from the headers


def test_quick_mode_flags_a_broken_header(tmp_path: Path) -> None:
    write(tmp_path / "a.png", encode(solid(4, 4, (1, 2, 3))))
    write(tmp_path / "b.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    labels = tmp_path / "l.txt"
    labels.write_text("a.png x\nb.png x\n", encoding="utf-8")
    report = scan(labels, quick=True, workers=1)
    assert [(p.path, p.reason, p.line) for p in report.problems] == [("b.png", "corrupt", 2)]


def test_exif_rotation_is_applied_to_the_sizes(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees: a 20 x 50 (h x w) file shows as 50 x 20
    write(tmp_path / "r.jpg", encode(Image.fromarray(solid(20, 50, (9, 9, 9))), "JPEG", exif=exif))
    labels = tmp_path / "l.txt"
    labels.write_text("r.jpg 0\n", encoding="utf-8")
    for quick in (False, True):
        sizes = scan(labels, quick=quick, workers=1).sizes
        assert sizes is not None and (sizes.height[0], sizes.width[0]) == (50, 20), quick


# ---------------------------------------------------------------------------------------------
# Labels


def report_for(tmp_path: Path, counts: dict[str, int]) -> ScanReport:
    """A scan of a manifest with ``counts`` rows per class (all rows the same tiny image)."""
    write(tmp_path / "x.png", encode(solid(2, 2, (0, 0, 0))))
    rows = [f'"x.png","{label}"' for label, n in counts.items() for _ in range(n)]
    labels = tmp_path / "l.csv"
    labels.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return scan(labels, workers=1)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"dog": 40, "dgo": 1, "cat": 30}, [("dgo", "dog", "spelling")]),
        ({"dog": 40, "dogs": 2}, [("dogs", "dog", "spelling")]),
        ({"Cat": 3, "cat": 30}, [("Cat", "cat", "case")]),
        # Case, spaces and punctuation, whatever the counts.
        ({"golden retriever": 20, "golden_retriever": 20}, [
            ("golden_retriever", "golden retriever", "case")
        ]),
        ({"retriever": 50, "retreiver": 1}, [("retreiver", "retriever", "spelling")]),
        # Not typos: distinct words; a rare class far from any other; frequent classes.
        ({"cat": 30, "dog": 30, "bird": 1}, []),
        ({"cat": 30, "bat": 30}, []),
        # Ids are near each other by design.
        ({"n01440764": 30, "n01440765": 1}, []),
        ({"class_1": 30, "class_2": 1}, []),
        # Short names: one letter apart is too weak a sign.
        ({"ab": 30, "ac": 1}, []),
    ],
)  # fmt: skip
def test_suspected_label_typos(
    tmp_path: Path, counts: dict[str, int], expected: list[tuple[str, str, str]]
) -> None:
    report = report_for(tmp_path, counts)
    assert [(t.label, t.like, t.how) for t in report.typos] == expected


def test_numeric_labels_have_no_histogram_and_integer_labels_do(tmp_path: Path) -> None:
    write(tmp_path / "x.png", encode(solid(2, 2, (0, 0, 0))))
    floats = tmp_path / "f.txt"
    floats.write_text("x.png 0.5\nx.png 1.5\n", encoding="utf-8")
    report = scan(floats, workers=1)
    assert report.histogram is None and report.imbalance is None and not report.typos
    assert "numeric (regression)" in report.to_text()
    ints = tmp_path / "i.txt"
    ints.write_text("x.png 3\nx.png 3\nx.png 7\n", encoding="utf-8")
    assert scan(ints, workers=1).histogram == {"3": 2, "7": 1}


def test_edit_distance_counts_a_swap_as_one_edit() -> None:
    assert edit_distance("dgo", "dog", 1) == 1
    assert edit_distance("dog", "dog", 1) == 0
    assert edit_distance("retreiver", "retriever", 2) == 1
    assert edit_distance("cat", "dog", 1) == 2  # stops past the limit
    assert edit_distance("a", "abcdef", 2) == 3


# ---------------------------------------------------------------------------------------------
# --out


def all_rows_load(labels: Path) -> int:
    """Load every row of ``labels`` with on_error="raise"; the number of images."""
    loader = Loader(labels, batch_size=8, size=8, shuffle=False, on_error="raise", workers=2)
    n = sum(len(y) for _, y in loader)
    assert loader.errors == []
    return n


def test_out_writes_a_manifest_that_loads_with_zero_errors(
    bad_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(bad_set.parent)
    clean = bad_set.parent / "labels.clean.csv"
    code, out, _ = run_scan(capsys, str(bad_set), "--out", str(clean))
    assert code == 1  # problems were found (and left out)
    assert "wrote" in out and "left out 5 bad files and 2 repeated rows" in out
    assert "suspected label typos are kept" in out
    m = read_manifest(clean)
    original = read_manifest(bad_set)
    assert len(m) == len(original) - len(BAD) - 2
    assert all_rows_load(clean) == len(m)
    # A copy of the label file minus those rows: the same header, path strings and order.
    kept = [
        text for text in bad_set.read_text(encoding="utf-8").splitlines()
        if text.split(",")[0] not in BAD
    ][:-2]  # fmt: skip
    assert clean.read_text(encoding="utf-8").splitlines() == kept
    # The clean manifest scans clean but for the typo, which is for a person to fix.
    report = scan(clean, workers=2)
    assert not report.problems and not report.duplicates and len(report.typos) == 1
    # Nothing else was touched: the label file and every image are byte for byte the same.
    after = fingerprint(bad_set.parent)
    del after["labels.clean.csv"]
    assert after == before


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "jsonl"])
def test_out_keeps_the_input_format(tmp_path: Path, fmt: str) -> None:
    for k in range(4):
        write(tmp_path / f"img dir/{k}.png", encode(solid(4, 4, (k, k, k))))
    write(tmp_path / "img dir/empty.png", b"")
    names = [f"img dir/{k}.png" for k in range(4)] + ["img dir/empty.png", "img dir/0.png"]
    labels_of = ["a", "b", "a", "b", "a", "a"]
    if fmt == "jsonl":
        lines = [json.dumps({"path": p, "label": y}) for p, y in zip(names, labels_of, strict=True)]
    elif fmt == "txt":
        lines = [f"{p} {y}" for p, y in zip(names, labels_of, strict=True)]
    else:
        sep = "," if fmt == "csv" else "\t"
        lines = ["# exported by hand", f"path{sep}label{sep}note"]
        lines += [
            f"{p}{sep}{y}{sep}n{k}" for k, (p, y) in enumerate(zip(names, labels_of, strict=True))
        ]
    labels = tmp_path / f"labels.{fmt}"
    labels.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    out = tmp_path / f"clean.{fmt}"
    report = scan(labels, workers=1)
    assert write_clean(report, out) == 4
    m = read_manifest(out)
    assert m.format == fmt and len(m) == 4
    assert [m.paths.relative(i) for i in range(4)] == names[:4]
    assert all_rows_load(out) == 4
    text = out.read_bytes()
    assert b"empty.png" not in text and text.count(b"\r\n") == text.count(b"\n")
    if fmt in ("csv", "tsv"):
        assert b"# exported by hand" in text and b"n3" in text  # comments, extra columns kept


def test_out_in_another_folder_rewrites_relative_paths(
    bad_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    clean = elsewhere / "clean.csv"
    code, _, err = run_scan(capsys, str(bad_set), "--out", str(clean))
    assert code == 1, err
    m = read_manifest(clean)
    assert m.paths.relative(0).startswith(os.path.join("..", "..", "data"))
    assert all_rows_load(clean) == len(read_manifest(bad_set)) - len(BAD) - 2


def test_out_from_a_class_folder_writes_csv(tmp_path: Path) -> None:
    make_dataset(tmp_path / "photos", {"red": (255, 0, 0), "blue": (0, 0, 255)}, 2, (8, 8))
    (tmp_path / "photos" / "labels.csv").unlink()
    write(tmp_path / "photos" / "red" / "zero.png", b"")
    report = scan(tmp_path / "photos", workers=1)
    assert write_clean(report, tmp_path / "clean.csv") == 4
    assert read_manifest(tmp_path / "clean.csv").classes == ("blue", "red")
    assert all_rows_load(tmp_path / "clean.csv") == 4


def test_out_refuses_an_existing_file_unless_forced(
    bad_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = bad_set.parent / "existing.csv"
    existing.write_text("precious\n", encoding="utf-8")
    code, out, err = run_scan(capsys, str(bad_set), "--out", str(existing))
    assert code == 2 and out == ""
    assert f"{existing} exists; pass --force to overwrite it" in err
    assert existing.read_text(encoding="utf-8") == "precious\n"
    code, _, _ = run_scan(capsys, str(bad_set), "--out", str(existing), "--force")
    assert code == 1
    assert all_rows_load(existing) == len(read_manifest(existing))


@pytest.mark.parametrize("force", [False, True])
def test_out_never_overwrites_the_input(
    bad_set: Path, capsys: pytest.CaptureFixture[str], force: bool
) -> None:
    before = fingerprint(bad_set.parent)
    link = bad_set.parent / "same_file.csv"
    os.link(bad_set, link)  # another name for the label file is still the label file
    for target in (bad_set, link):
        argv = [str(bad_set), "--out", str(target)] + (["--force"] if force else [])
        code, out, err = run_scan(capsys, *argv)
        assert code == 2 and out == ""
        assert "--out must be a new file, not the label file itself" in err
    link.unlink()
    assert fingerprint(bad_set.parent) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers must be a positive int, got 0"),
        (["--size", "big"], "size must be N or HxW, got 'big'"),
        (["--out", "{dir}"], "--out must be a file, got the folder"),
        (["--out", "{dir}/no/such/folder/clean.csv"], "--out must be in an existing folder"),
        (["--out", "{dir}/clean.jsonl"], "--out must end in .csv for a csv label file"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2(
    bad_set: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    argv = [a.replace("{dir}", str(bad_set.parent)) for a in argv]
    code, out, err = run_scan(capsys, str(bad_set), *argv)
    assert code == 2 and out == ""
    assert message in err


def test_usage_error_for_a_missing_label_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_scan(capsys, str(tmp_path / "nope.csv"))
    assert code == 1  # an error imgbatch reports, naming the file
    assert "nope.csv: no such label file" in err


def test_out_when_every_row_is_bad_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "l.txt"
    labels.write_text("gone.png a\nalso_gone.png b\n", encoding="utf-8")
    code, out, _ = run_scan(capsys, str(labels), "--out", str(tmp_path / "clean.txt"))
    assert code == 1
    assert "nothing written to" in out and "every row" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.txt"]  # no temporary file left


def test_progress_bar_and_threads(bad_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = threading.active_count()
    assert main(["scan", str(bad_set), "--workers", "3"]) == 1
    assert "scan: 100%" in capsys.readouterr().err
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("imgbatch")]


def test_file_names_that_are_not_utf8_are_printed_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_dataset(tmp_path, {"red": (255, 0, 0), "blue": (0, 0, 255)}, 2, (8, 8))
    (tmp_path / "labels.csv").unlink()
    with open(os.path.join(os.fsencode(tmp_path / "red"), b"bad\xff.png"), "wb"):
        pass  # an empty file whose name is not UTF-8
    code, out, _ = run_scan(capsys, str(tmp_path))
    assert code == 1
    assert "red/bad\\udcff.png" in out and "empty" in out
    code, out, _ = run_scan(capsys, str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["problems"][0]["path"] == "red/bad\udcff.png"


# ---------------------------------------------------------------------------------------------
# The label range, classes without rows, ids; paths written with backslashes (issue 14)


def test_classes_without_rows_and_ids_are_reported(tmp_path: Path) -> None:
    labels = make_dataset(tmp_path, {"cat": (9, 9, 9), "dog": (200, 0, 0)}, 3, (8, 8))
    m = read_manifest(labels, classes=("cat", "dog", "horse"))
    report = scan(m, workers=1)
    assert report.clean and not report.imbalanced  # an empty class is no imbalance
    assert report.histogram == {"cat": 3, "dog": 3, "horse": 0}
    r = report.label_range
    assert (r.kind, r.low, r.high, r.classes, r.empty) == ("class", 0, 1, 3, ((2, "horse"),))
    text = report.to_text()
    assert "class ids: 0..2" in text
    assert "1 class with no rows: horse (id 2)" in text
    assert any(line.split()[:3] == ["id", "2", "horse"] for line in text.splitlines())
    data = json.loads(json.dumps(report.to_dict()))
    assert data["labels"]["empty"] == [{"id": 2, "name": "horse"}]
    assert data["labels"]["classes"] == 3


def test_negative_integer_labels_are_called_out(tmp_path: Path) -> None:
    write(tmp_path / "x.png", encode(solid(2, 2, (0, 0, 0))))
    ints = tmp_path / "i.txt"
    ints.write_text("x.png 3\nx.png -1\nx.png 7\nx.png -1\n", encoding="utf-8")
    report = scan(ints, workers=1)
    r = report.label_range
    assert (r.kind, r.low, r.high, r.negative, r.negative_lines) == ("int", -1, 7, 2, (2, 4))
    text = report.to_text()
    assert "integer labels: -1..7" in text
    assert "warning: 2 rows with a negative label (lines 2, 4): never a class id" in text
    assert "(and a negative label warning)" in text.splitlines()[-1]
    assert report.to_dict()["labels"]["negative_lines"] == [2, 4]
    floats = tmp_path / "f.txt"
    floats.write_text("x.png -0.5\nx.png 2.25\n", encoding="utf-8")
    report = scan(floats, workers=1)
    assert (report.label_range.kind, report.label_range.negative) == ("float", 0)
    assert "numeric labels: -0.5..2.25" in report.to_text()


def test_backslash_paths_are_reported_and_read_with_slashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "cats" / "001.png", encode(solid(4, 4, (1, 2, 3))))
    write(tmp_path / "cats" / "002.png", encode(solid(4, 4, (1, 2, 3))))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,label\ncats/001.png,cat\ncats\\002.png,cat\ncats\\001.png,cat\n", encoding="utf-8"
    )
    report = scan(labels, workers=1)
    found = report.backslash_paths
    assert (found.rows, found.lines, found.first) == (2, (3, 4), "cats\\002.png")
    if os.sep == "/":
        assert not report.problems  # the loader's read tries them with "/"
    text = report.to_text()
    assert "warning: 2 paths written with backslashes (lines 3, 4; the first: cats\\002.png)" in (
        text
    )
    assert report.to_dict()["backslash_paths"] == {"rows": 2, "lines": [3, 4],
                                                   "first": "cats\\002.png"}  # fmt: skip
    code = main(["scan", str(labels), "--no-progress", "--json"])
    assert json.loads(capsys.readouterr().out)["backslash_paths"]["rows"] == 2
    assert code == (0 if os.sep == "/" else 1)


def test_a_clean_report_has_no_label_or_path_warning(tmp_path: Path) -> None:
    labels = make_dataset(tmp_path, {"cat": (9, 9, 9), "dog": (200, 0, 0)}, 2, (8, 8))
    report = scan(labels, workers=1)
    assert report.warnings() == []
    assert report.backslash_paths.rows == 0 and report.label_range.empty == ()
    assert report.to_text().splitlines()[-1].startswith("clean; ")


def test_out_keeps_class_names_that_look_like_numbers(tmp_path: Path) -> None:
    write(tmp_path / "a.png", encode(solid(4, 4, (1, 2, 3))))
    write(tmp_path / "b.png", encode(solid(4, 4, (1, 2, 3))))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na.png,007\nmissing.png,7\nb.png,nan\n", encoding="utf-8")
    report = scan(read_manifest(labels, label_type="class"), workers=1)
    out = tmp_path / "clean.csv"
    assert write_clean(report, out) == 2
    back = read_manifest(out, label_type="class")
    assert back.classes == ("007", "nan") and back.labels.tolist() == [0, 1]
