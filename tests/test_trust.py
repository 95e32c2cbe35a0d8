"""Inputs you can trust: corrupt JPEG data, decompression bombs, huge files, forks and a loader
iterated twice at once. Every file is made here; the bombs are a few hundred KB."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import imgbatch
from imgbatch import ImageReadError, ImgbatchError, ImgbatchWarning, Loader, load_image
from imgbatch.decode import decode_bytes, header_size
from imgbatch.scan import scan
from tests.helpers import encode, gradient, write

# ---------------------------------------------------------------------------------------------
# Corrupt JPEG data: an ImageReadError naming the file, never a libjpeg line on stderr


def _jpeg(height: int = 96, width: int = 128) -> bytes:
    image = cv2.GaussianBlur(gradient(height, width), (0, 0), 2)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def _corrupt(kind: str) -> bytes:
    data = bytearray(_jpeg())
    start = data.index(b"\xff\xda") + 14  # past the start-of-scan header
    if kind == "flipped":
        for k in range(20):
            data[start + 50 + 37 * k] ^= 0x55
    elif kind == "zeroed":
        data[start + 100 : start + 600] = bytes(500)
    elif kind == "inserted":
        data[start + 300 : start + 300] = b"\x12\x34" * 40
    else:  # "random": the scan data replaced by noise, the end marker kept
        noise = np.random.default_rng(7).integers(0, 256, len(data) - start - 2, np.uint8)
        data[start:-2] = noise.tobytes()
    return bytes(data)


CORRUPTIONS = ["flipped", "zeroed", "inserted", "random"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_jpeg_data_is_an_error_naming_the_file(
    tmp_path: Path, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / f"{kind}.jpg", _corrupt(kind))
    with pytest.raises(ImageReadError, match="corrupt JPEG data") as info:
        load_image(path, size=32)
    assert info.value.path == str(path)
    assert "JPEG" not in capfd.readouterr().err  # nothing from libjpeg, unattributed


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_the_loader_names_the_line_and_skip_mode_skips(tmp_path: Path, kind: str) -> None:
    write(tmp_path / "good.jpg", _jpeg())
    write(tmp_path / "bad.jpg", _corrupt(kind))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\ngood.jpg,a\nbad.jpg,b\ngood.jpg,a\n", encoding="utf-8")
    with pytest.raises(ImageReadError, match="corrupt JPEG data") as info:
        list(Loader(labels, batch_size=3, size=16, shuffle=False))
    assert info.value.line == 3 and info.value.path.endswith("bad.jpg")
    loader = Loader(labels, batch_size=3, size=16, shuffle=False, on_error="skip")
    with pytest.warns(ImgbatchWarning):
        batches = list(loader)
    assert [len(y) for _, y in batches] == [2]
    assert [e.line for e in loader.errors] == [3]


def test_scan_calls_every_corrupt_variant_corrupt(tmp_path: Path) -> None:
    rows = ["path,label", "good.jpg,a"]
    write(tmp_path / "good.jpg", _jpeg())
    for kind in CORRUPTIONS:
        write(tmp_path / f"{kind}.jpg", _corrupt(kind))
        rows.append(f"{kind}.jpg,b")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = scan(labels, progress=False)
    assert sorted(Path(p.path).name for p in report.problems) == sorted(
        f"{kind}.jpg" for kind in CORRUPTIONS
    )


def test_clean_jpegs_decode_as_before(tmp_path: Path) -> None:
    data = _jpeg(120, 160)
    reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    assert reference is not None
    ours = decode_bytes(data, "x.jpg")
    assert ours.shape == reference.shape
    assert np.abs(ours.astype(int) - reference).max() <= 2  # two IDCTs, same libjpeg family


# ---------------------------------------------------------------------------------------------
# Caps: pixels from the header, bytes from fstat


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int) -> bytes:
    """A real gray PNG of side x side black pixels: a few hundred KB that decode to side^2 bytes."""
    squeeze = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the pixels
    parts = [squeeze.compress(row) for _ in range(side)]
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def jpeg_claiming(height: int, width: int) -> bytes:
    """A small JPEG whose frame header claims another size."""
    data = bytearray(_jpeg(64, 64))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_header_sizes() -> None:
    assert header_size(png_bomb(300)) == (300, 300)
    assert header_size(jpeg_claiming(30000, 20000)) == (30000, 20000)
    for ext in (".bmp", ".webp", ".gif"):
        ok, data = cv2.imencode(ext, gradient(20, 30))
        assert ok
        assert header_size(data.tobytes()) == (20, 30), ext
    assert header_size(b"not an image") is None


def test_a_png_bomb_is_too_large_before_decoding(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.png", png_bomb(20000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageReadError) as info:
        load_image(path, size=64)
    reason = "too large: 20000x20000 pixels (400,000,000) exceeds max_pixels=178,956,970"
    assert info.value.reason == reason


def test_pixels_are_counted_as_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "big.jpg", _jpeg(1600, 1600))
    # 1600 x 1600 = 2.56 M pixels: decoded at 1/8 for a 64 px output, it is 40,000.
    assert load_image(path, size=64, max_pixels=1_000_000).shape == (64, 64, 3)
    with pytest.raises(ImageReadError, match="too large: 1600x1600 pixels"):
        load_image(path, max_pixels=1_000_000)  # no size: a full decode
    assert load_image(path, max_pixels=None).shape == (1600, 1600, 3)


def test_a_header_the_data_disagree_with_is_corrupt(tmp_path: Path) -> None:
    path = write(tmp_path / "liar.jpg", jpeg_claiming(640, 640))
    with pytest.raises(ImageReadError, match="corrupt"):
        load_image(path, size=32)


@pytest.mark.parametrize("value", [0, -1, 2.5, "big"])
def test_caps_are_checked(tmp_path: Path, value: object) -> None:
    for name in ("max_pixels", "max_file_bytes"):
        with pytest.raises(ValueError, match=name):
            load_image(tmp_path / "missing.jpg", **{name: value})  # type: ignore[arg-type]


def test_a_file_over_max_file_bytes_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as f:
        f.truncate(3 * 2**30)  # sparse: 3 GB that occupy no disk
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert info.value.reason == (
        "too large: 3,221,225,472 bytes exceeds max_file_bytes=268,435,456"
    )
    with pytest.raises(ImageReadError, match="max_file_bytes=1,000"):
        load_image(write(tmp_path / "small.png", encode(gradient(64, 64))), max_file_bytes=1000)


def hostile_set(folder: Path, rows: list[str]) -> Path:
    """A PNG bomb, a JPEG claiming 30000 x 30000, a sparse 3 GB file, a good PNG; a label file
    listing ``rows`` of them."""
    write(folder / "bomb.png", png_bomb(20000))
    write(folder / "liar.jpg", jpeg_claiming(30000, 30000))
    with open(folder / "huge.jpg", "wb") as f:
        f.truncate(3 * 2**30)  # sparse: no disk used
    write(folder / "good.png", encode(gradient(40, 40)))
    labels = folder / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{r},x\n" for r in rows), encoding="utf-8")
    return labels


BOMB_RUN = """
import json, resource, sys, warnings
import imgbatch
warnings.simplefilter("ignore", imgbatch.ImgbatchWarning)
loader = imgbatch.Loader(sys.argv[1], batch_size=8, size=32, shuffle=False, on_error="skip")
served = sum(len(y) for _, y in loader)
print(json.dumps({
    "served": served,
    "errors": [[e.path, e.line, e.reason] for e in loader.errors],
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def test_bombs_and_huge_files_cost_no_memory_and_skip_mode_survives(tmp_path: Path) -> None:
    labels = hostile_set(tmp_path, ["bomb.png", "good.png", "liar.jpg", "huge.jpg", "good.png"])
    # Linux keeps a process's peak RSS across exec, and a child forked from this (large)
    # pytest process starts with pytest's resident pages counted: so the run is started by a
    # small launcher process, whose own child's getrusage peak is its own.
    launch = "import subprocess, sys; subprocess.run(sys.argv[1:], check=True)"
    run = subprocess.run(
        [sys.executable, "-c", launch, sys.executable, "-c", BOMB_RUN, str(labels)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(run.stdout)
    assert result["served"] == 2
    reasons = {Path(path).name: (line, reason) for path, line, reason in result["errors"]}
    assert reasons["bomb.png"][0] == 2 and "too large: 20000x20000" in reasons["bomb.png"][1]
    assert reasons["liar.jpg"][0] == 4 and "corrupt" in reasons["liar.jpg"][1]
    assert reasons["huge.jpg"][0] == 5 and "max_file_bytes" in reasons["huge.jpg"][1]
    assert result["peak_mb"] < 300, result


# ---------------------------------------------------------------------------------------------
# Forks and a loader iterated twice at once


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    for k in range(12):
        write(tmp_path / f"{k}.png", encode(gradient(16, 16, seed=k)))
    path = tmp_path / "labels.csv"
    path.write_text("path,label\n" + "".join(f"{k}.png,{k}\n" for k in range(12)), "utf-8")
    return path


def _in_child(work: object) -> str:
    """Run ``work()`` in a forked child; what it returned, or the type and text of its error."""
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read)
            try:
                outcome = f"ok {work()}"  # type: ignore[operator]
            except Exception as e:
                outcome = f"{type(e).__name__}: {e}"
            os.write(write_end, outcome.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as f:
        outcome = f.read()
    os.waitpid(pid, 0)
    return outcome


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads alive
def test_a_forked_child_cannot_continue_its_parents_iterator(labels: Path) -> None:
    loader = Loader(labels, batch_size=4, size=8, shuffle=False)
    stream = iter(loader)
    first = next(stream)
    outcome = _in_child(lambda: len(next(stream)[1]))
    assert outcome.startswith("ImgbatchError: this iterator was started in process")
    assert "start a fresh `for`" in outcome
    # A fresh `for` in a child works, and the parent's iteration goes on untouched.
    fresh = _in_child(lambda: sum(len(y) for _, y in Loader(labels, batch_size=4, size=8)))
    assert fresh == "ok 12"
    assert [len(y) for _, y in [first, *stream]] == [4, 4, 4]


def test_a_second_iteration_at_once_is_an_error(labels: Path) -> None:
    loader = Loader(labels, batch_size=4, size=8)
    stream = iter(loader)
    next(stream)
    with pytest.raises(ImgbatchError, match="already being iterated"):
        next(iter(loader))
    rest = list(stream)
    assert len(rest) == 2
    assert len(list(loader)) == 3  # after the first ended, a new one runs


def test_two_threads_cannot_run_one_loader(labels: Path) -> None:
    loader = Loader(labels, batch_size=4, size=8)
    stream = iter(loader)
    next(stream)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            list(loader)
        except ImgbatchError as e:
            errors.append(e)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "already being iterated" in str(errors[0])
    stream.close()  # type: ignore[attr-defined]
    assert len(list(loader)) == 3


@pytest.mark.parametrize("quick", [False, True])
def test_scan_reports_what_is_too_large_without_reading_it(tmp_path: Path, quick: bool) -> None:
    labels = hostile_set(tmp_path, ["bomb.png", "liar.jpg", "huge.jpg", "good.png"])
    report = scan(labels, quick=quick, progress=False)
    found = {Path(p.path).name: (p.reason, p.detail) for p in report.problems}
    assert found["bomb.png"][0] == found["huge.jpg"][0] == "too large"
    assert "max_file_bytes" in found["huge.jpg"][1]
    assert "20000x20000 pixels" in found["bomb.png"][1]
    # The JPEG claiming 30000 x 30000 fits the cap at 1/8, the scale a loader with a training
    # size decodes it at; decoded there (a full scan), its data disagree with its header.
    if quick:
        assert set(found) == {"bomb.png", "huge.jpg"}
    else:
        assert set(found) == {"bomb.png", "liar.jpg", "huge.jpg"}
        assert found["liar.jpg"][0] == "corrupt"


def test_scan_checks_a_big_jpeg_at_the_scale_a_loader_uses(tmp_path: Path) -> None:
    # A plain JPEG over the cap at full size but not at 1/2 is usable by a loader with a
    # training size; scan agrees. A progressive one is held to the cap at full size everywhere.
    write(tmp_path / "big.jpg", _jpeg(1600, 1600))
    ok, progressive = cv2.imencode(".jpg", gradient(1600, 1600), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    write(tmp_path / "progressive.jpg", progressive.tobytes())
    with pytest.raises(ImageReadError, match="too large"):
        load_image(tmp_path / "progressive.jpg", size=64, max_pixels=1_000_000)
    assert load_image(tmp_path / "big.jpg", size=64, max_pixels=1_000_000).shape == (64, 64, 3)


def test_a_windows_path_is_tried_with_slashes(tmp_path: Path) -> None:
    write(tmp_path / "cats" / "001.png", encode(gradient(12, 12)))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\ncats\\001.png,cat\ncats\\002.png,cat\n", encoding="utf-8")
    loader = Loader(labels, batch_size=2, size=8, shuffle=False, on_error="skip")
    with pytest.warns(ImgbatchWarning):
        (images, _), *rest = list(loader)
    assert len(images) == 1 and not rest
    (error,) = loader.errors
    assert error.line == 3
    assert (
        error.reason == f"no such file (nor {str(tmp_path / 'cats' / '002.png')!r}, with / for \\)"
    )


# ---------------------------------------------------------------------------------------------
# Class ids that cannot drift: the train/val pattern through the Loader and the CLI


def test_a_validation_loader_takes_the_training_ids(tmp_path: Path) -> None:
    for name in ("cat", "dog", "horse"):
        write(tmp_path / f"{name}.png", encode(gradient(8, 8)))
    train = tmp_path / "train.csv"
    train.write_text("path,label\ncat.png,cat\ndog.png,dog\nhorse.png,horse\n", "utf-8")
    val = tmp_path / "val.csv"
    val.write_text("path,label\ndog.png,dog\nhorse.png,horse\n", "utf-8")  # no cat
    train_loader = Loader(train, size=8)
    assert Loader(val, size=8).classes == ("dog", "horse")  # on its own: other ids
    pinned = Loader(val, size=8, shuffle=False, classes=train_loader.classes)
    assert pinned.classes == ("cat", "dog", "horse")
    assert next(iter(pinned))[1].tolist() == [1, 2]
    typo = tmp_path / "typo.csv"
    typo.write_text("path,label\ndog.png,dgo\n", "utf-8")
    with pytest.raises(imgbatch.ManifestError) as info:
        Loader(typo, size=8, classes=train_loader.classes)
    assert info.value.line == 2 and "dgo" in str(info.value)


def test_the_cli_pins_classes_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imgbatch.cli import main

    write(tmp_path / "dog.png", encode(gradient(8, 8)))
    val = tmp_path / "val.csv"
    val.write_text("path,label\ndog.png,dog\n", "utf-8")
    names = tmp_path / "classes.txt"
    names.write_text("cat\ndog\n", "utf-8")
    out = tmp_path / "sheet.png"
    for given in ("cat,dog", str(names)):
        args = ["show", str(val), "--size", "8", "--classes", given, "--out", str(out), "--force"]
        assert main(args) == 0
    assert main(["iterate", str(val), "--size", "8", "--classes", "cat", "--no-progress"]) == 1
    assert "dog" in capsys.readouterr().err


def test_running_out_of_memory_while_reading_is_an_image_read_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.png", encode(gradient(8, 8)))

    def exhausted(*args: object, **kwargs: object) -> bytes:
        raise MemoryError

    monkeypatch.setattr("imgbatch.read.files._read_all", exhausted)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert info.value.path == str(path)
    assert info.value.reason == f"out of memory reading {path.stat().st_size:,} bytes"


def test_more_headers_are_read_for_the_cap(tmp_path: Path) -> None:
    ok, tiff = cv2.imencode(".tiff", gradient(30, 40))
    assert ok
    assert header_size(tiff.tobytes()) == (30, 40)
    assert header_size(b"P6\n# a comment\n40 30\n255\n" + bytes(3600)) == (30, 40)
    # An OS/2 bitmap: a 12-byte header with 16-bit sides.
    os2 = b"BM" + struct.pack("<IHHI", 26 + 12, 0, 0, 26) + struct.pack("<IHHHH", 12, 4, 3, 1, 24)
    assert header_size(os2 + bytes(36)) == (3, 4)
    path = write(tmp_path / "big.tiff", tiff.tobytes())
    with pytest.raises(ImageReadError, match="too large: 40x30 pixels"):
        load_image(path, max_pixels=1000)


def test_stray_bytes_in_a_jpeg_header_are_corrupt_not_decoded_leniently(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(_jpeg(64, 64))
    sos = data.index(b"\xff\xda")
    data[sos:sos] = b"\x00\x00"  # two stray bytes before the start of scan
    path = write(tmp_path / "stray.jpg", bytes(data))
    with pytest.raises(ImageReadError, match="corrupt JPEG data"):
        load_image(path, size=32)
    assert "Corrupt" not in capfd.readouterr().err


def test_size_none_is_refused_where_a_batch_needs_one(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na.png,x\n", "utf-8")
    with pytest.raises(ValueError, match="size must be"):
        Loader(labels, size=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size must be"):
        imgbatch.load_eager(labels, size=None)  # type: ignore[arg-type]


def test_a_decoder_that_runs_out_of_memory_is_an_image_read_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.jpg", _jpeg(32, 32))
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na.jpg,x\na.jpg,x\n", "utf-8")

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("simplejpeg.decode_jpeg", exhausted)
    with pytest.raises(ImageReadError, match="out of memory decoding it") as info:
        list(Loader(labels, batch_size=2, size=16))
    assert info.value.line == 2
