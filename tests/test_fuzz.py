"""Fuzzing: random label files and random file contents through read_manifest, load_image, Loader.

What must hold whatever the input:

- the only exceptions that escape are :class:`imgbatch.ImgbatchError` subclasses (the arguments
  are all valid here, so no ValueError or TypeError about them is expected);
- nothing hangs (each test has a timeout);
- with ``on_error="skip"``, an epoch yields every good sample exactly once.

Each test has a fixed budget (``max_examples``, derandomized: the same examples on every run).
The number of examples each test ran is printed at the end of the module; ``pytest
tests/test_fuzz.py --hypothesis-show-statistics`` gives hypothesis's own account.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from imgbatch import (
    ImageReadError,
    ImgbatchError,
    ImgbatchWarning,
    Loader,
    Manifest,
    load_image,
    read_manifest,
)
from imgbatch.manifest import MANIFEST_FORMATS
from tests.helpers import encode, gradient, solid, write

#: Examples run by each test of this module (printed when the module ends).
RUNS: Counter[str] = Counter()

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def report_runs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many examples each test ran, once the module is done."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and RUNS:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(RUNS.items()))
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nfuzz examples run: {counts}")


@pytest.fixture(scope="module", autouse=True)
def quiet_cv2() -> Iterator[None]:
    """cv2 logs each file it cannot decode; here that is thousands of lines of noise."""
    level = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    yield
    cv2.utils.logging.setLogLevel(level)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """One folder for the whole module (hypothesis examples cannot use function fixtures)."""
    folder = Path(tempfile.mkdtemp(prefix="imgbatch-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def fresh(workdir: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=workdir))


# ---------------------------------------------------------------------------------------------
# Label files

ODD = [
    "", " ", '"', '""', '"a,b"', '"unclosed', "'", ",", "\t", ";", "#", "# comment", "\ufeff",
    "\x00", "\\", "{", "}", "[", "]", "{}", "[]", "a.jpg", "dir with space/b.png", "ñ/ü.jpg",
    "C:\\x.png", "/abs/p.jpg", "../up.jpg", ".", "..", "cat", "Cat", "0", "-1", "+3", "1.5",
    "-.5e-3", "1e5", "1e999", "-1e999", "nan", "inf", "99999999999999999999", "true", "null",
    "\u2028", "\x85", "\r", "\x0b", "\x1c", "\u3000", "💥", "path", "label", "image,class",
]  # fmt: skip
# Paths a label file can spell (in JSON, escapes included) that no file system takes as is.
ODD_PATHS = [
    "a\x00b.png", "\ud800.png", "\udcff.png", "x" * 300 + ".png", "d/" * 2000 + "x.png", "dir/",
    ".", "..", "/", " ", "\n", "new\nline.png", "💥.png", "C:\\x.png", "~/x.png", "labels.jsonl",
]  # fmt: skip
huge = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", ",", '"', " ", "\t", "é", "\\", "ab,"]),
    st.integers(1_000, 100_000),
)
fields = st.one_of(st.sampled_from(ODD), st.text(max_size=12), huge)
delimiters = st.sampled_from([",", "\t", " ", "  ", ";", ", ", "\t,"])
endings = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n# note\n"])


@st.composite
def delimited_text(draw: st.DrawFn) -> str:
    """Rows of odd fields, maybe quoted, with mixed delimiters and line endings."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        row = draw(st.lists(fields, max_size=5))
        if draw(st.booleans()):
            row = ['"' + f.replace('"', '""') + '"' if draw(st.booleans()) else f for f in row]
        lines.append(draw(delimiters).join(row))
    text = "".join(line + draw(endings) for line in lines)
    return ("\ufeff" if draw(st.booleans()) else "") + text


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10), st.sampled_from(ODD),
)  # fmt: skip
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner)
)
json_keys = st.sampled_from(["path", "label", "image", "class", "Path", "LABEL", "x", ""])


json_rows = st.fixed_dictionaries(
    {"path": st.one_of(st.sampled_from(ODD_PATHS + ODD), st.text(max_size=12), json_values),
     "label": json_scalars}
)  # fmt: skip


@st.composite
def jsonl_text(draw: st.DrawFn) -> str:
    """JSON Lines of mixed label and path types (NaN, huge ints, NULs, nesting), some broken."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        obj = draw(json_rows | st.dictionaries(json_keys, json_values, max_size=4))
        line = json.dumps(obj, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(0, 5)) == 0:
            line = line[: draw(st.integers(0, len(line)))]  # cut off mid-object
        lines.append(line)
    return "".join(line + draw(endings) for line in lines)


@st.composite
def manifest_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a label file: structured-but-odd text, or noise, or text with noise in it."""
    kind = draw(st.sampled_from(["delimited", "jsonl", "binary", "spliced", "utf16"]))
    if kind == "binary":
        return draw(st.binary(max_size=512))
    text = draw(delimited_text() if kind != "jsonl" and draw(st.booleans()) else jsonl_text())
    if kind == "utf16":
        return text.encode("utf-16", "surrogatepass")
    data = text.encode("utf-8", "surrogatepass")
    if kind == "spliced" and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    return data


@pytest.mark.timeout(90)
@settings(FUZZ, max_examples=600)
@given(
    data=manifest_bytes(),
    ext=st.sampled_from([".csv", ".tsv", ".txt", ".jsonl", ".lst", ""]),
    fmt=st.sampled_from([None, *MANIFEST_FORMATS]),
)
def test_read_manifest_raises_only_imgbatch_errors(
    workdir: Path, data: bytes, ext: str, fmt: str | None
) -> None:
    RUNS["read_manifest"] += 1
    path = workdir / f"labels{ext}"
    path.write_bytes(data)
    try:
        m = read_manifest(path, format=fmt)
    except ImgbatchError:
        return
    check_manifest(m)


def check_manifest(m: Manifest) -> None:
    """What a Manifest promises: rows, one label each, lines that grow, classes that fit."""
    assert len(m) >= 1
    assert len(m.labels) == len(m.lines) == len(m)
    assert m.labels.dtype in (np.int64, np.float32)
    assert all(isinstance(p, str) and p for p in m.paths)
    assert all(np.diff(m.lines) > 0) and m.lines[0] >= 1
    if m.classes is not None:
        assert list(m.classes) == sorted(set(m.classes))
        assert m.labels.min() >= 0 and m.labels.max() < len(m.classes)


@pytest.mark.timeout(90)
@settings(FUZZ, max_examples=300)
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.sampled_from(ODD_PATHS), st.text(min_size=1, max_size=12)),
                  st.sampled_from(["a", "b", "0", "1.5"])),
        min_size=1, max_size=6,
    ),
)  # fmt: skip
@example(rows=[("a\x00b.png", "a")])  # a NUL: os.open raises ValueError, not OSError
@example(rows=[("\ud800.png", "a")])  # a lone surrogate: no file system encoding takes it
def test_a_loader_over_odd_paths_raises_only_imgbatch_errors(
    workdir: Path, rows: list[tuple[str, str]]
) -> None:
    """Whatever paths a label file holds (NULs, surrogates, folders, huge names), skip mode
    copes: reading the manifest and loading from it raise nothing but ImgbatchError."""
    RUNS["Loader over odd paths"] += 1
    folder = fresh(workdir)
    path = folder / "labels.jsonl"
    lines = [json.dumps({"path": p, "label": y}) for p, y in rows]  # ASCII: escapes survive
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        m = read_manifest(path)
    except ImgbatchError:
        return
    loader = Loader(m, batch_size=3, size=4, workers=2, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImgbatchWarning)
        try:
            for images, labels in loader:
                assert len(images) == len(labels)
        except ImgbatchError:
            pass


# ---------------------------------------------------------------------------------------------
# Image files


def _jpeg(image: np.ndarray | Image.Image, **options: object) -> bytes:
    return encode(image, "JPEG", quality=90, **options)


def _png16() -> bytes:
    y, x = np.mgrid[0:20, 0:28]
    ok, buffer = cv2.imencode(".png", (x * 2000 + y * 700).astype(np.uint16))
    assert ok
    return buffer.tobytes()


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(Image.fromarray(gradient(20, 28)), exif=exif)


REAL: dict[str, bytes] = {
    "jpeg": _jpeg(gradient(40, 56)),
    "progressive": _jpeg(gradient(40, 56), progressive=True),
    "cmyk": _jpeg(Image.fromarray(gradient(20, 28)).convert("CMYK")),
    "gray_jpeg": _jpeg(gradient(20, 28)[..., 0]),
    "rotated": _rotated_jpeg(),
    "png": encode(gradient(20, 28)),
    "png16": _png16(),
    "palette": encode(Image.fromarray(gradient(20, 28)).convert("P")),
    "rgba": encode(Image.fromarray(np.dstack([gradient(20, 28), gradient(20, 28)[..., :1]]))),
    "gif": encode(gradient(20, 28), "GIF"),
    "bmp": encode(gradient(20, 28), "BMP"),
    "tiff": encode(gradient(20, 28), "TIFF"),
    "webp": encode(gradient(20, 28), "WEBP"),
}


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """Noise, or a real image cut short, with bytes flipped, or with noise spliced in."""
    kind = draw(st.sampled_from(["noise", "cut", "flip", "splice", "signature"]))
    if kind == "noise":
        return draw(st.binary(max_size=256))
    data = REAL[draw(st.sampled_from(sorted(REAL)))]
    if kind == "signature":  # a real header, then noise
        return data[: draw(st.integers(2, 40))] + draw(st.binary(max_size=256))
    if kind == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "flip":
        out = bytearray(data)
        flips = st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255))
        for at, bits in draw(st.lists(flips, min_size=1, max_size=8)):
            out[at] ^= bits
        return bytes(out)
    at = draw(st.integers(0, len(data)))
    junk = draw(st.binary(min_size=1, max_size=64))
    return data[:at] + junk + data[at + len(junk) :]


sizes = st.one_of(st.none(), st.integers(1, 12), st.tuples(st.integers(1, 12), st.integers(1, 12)))


@pytest.mark.timeout(90)
@settings(FUZZ, max_examples=1000)
@given(
    data=image_bytes(),
    size=sizes,
    fit=st.sampled_from(["stretch", "crop", "pad"]),
    color=st.sampled_from(["rgb", "bgr", "gray"]),
    dtype=st.sampled_from(["float32", "uint8"]),
)
def test_load_image_raises_only_image_read_errors(
    workdir: Path,
    data: bytes,
    size: int | tuple[int, int] | None,
    fit: str,
    color: str,
    dtype: str,
) -> None:
    RUNS["load_image"] += 1
    path = workdir / "image.bin"
    path.write_bytes(data)
    error: ImageReadError | None = None
    try:
        out = load_image(path, size=size, fit=fit, color=color, dtype=dtype)
    except ImageReadError as e:
        error = e
    if error is not None:
        assert error.path == os.fspath(path) and error.reason
        return
    channels = 1 if color == "gray" else 3
    assert out.ndim == 3 and out.shape[2] == channels and out.dtype == dtype
    if size is not None:
        expected = (size, size) if isinstance(size, int) else size
        assert out.shape[:2] == expected
    if dtype == "float32":
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


# ---------------------------------------------------------------------------------------------
# Skip mode yields every good sample exactly once

SIDE = 6
MISSING, FOLDER = b"<missing>", b"<folder>"


def colour(k: int) -> tuple[int, int, int]:
    """Sample ``k``'s solid colour: its red channel is ``k``."""
    return k, 255 - k, (37 * k) % 256


bad_files = st.one_of(
    st.sampled_from([b"", MISSING, FOLDER, b"<html>404</html>"]),
    st.binary(min_size=1, max_size=64),
    image_bytes(),  # may still decode (a PNG cut after its last pixels): then it is good
)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=500)
@given(
    n=st.integers(1, 10),
    bad=st.dictionaries(st.integers(0, 9), bad_files, max_size=10),
    batch_size=st.integers(1, 4),
    workers=st.integers(1, 3),
    prefetch=st.integers(0, 3),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_skip_mode_yields_every_good_sample_exactly_once(
    workdir: Path,
    n: int,
    bad: dict[int, bytes],
    batch_size: int,
    workers: int,
    prefetch: int,
    shuffle: bool,
    drop_last: bool,
) -> None:
    RUNS["Loader skip mode"] += 1
    folder = fresh(workdir)
    rows = []
    for k in range(n):
        path = folder / f"{k}.png"
        content = bad.get(k)
        if content is None:
            write(path, encode(solid(SIDE, SIDE, colour(k))))
        elif content == FOLDER:
            path.mkdir()
        elif content != MISSING:
            write(path, content)
        rows.append(f"{path.name} {k}")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    good = set()
    for k in range(n):  # the truth, from load_image with the loader's own decode settings
        try:
            load_image(folder / f"{k}.png", size=SIDE, dtype="uint8")
        except ImageReadError:
            continue
        good.add(k)

    loader = Loader(labels, batch_size=batch_size, size=SIDE, dtype="uint8", shuffle=shuffle,
                    seed=n, drop_last=drop_last, workers=workers, prefetch=prefetch,
                    on_error="skip")  # fmt: skip
    # An epoch that yields nothing because files failed is an error, not an empty loop. With
    # drop_last that includes good samples too few to fill one batch; with fewer samples than
    # a batch nothing is read at all, so nothing fails: an empty epoch, as without bad files.
    empty_is_error = (n >= batch_size and len(good) < batch_size) if drop_last else not good
    for _epoch in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImgbatchWarning)
            if empty_is_error:
                with pytest.raises(ImgbatchError, match="files failed") as info:
                    list(loader)
                if good:  # the message must not say that nothing could be loaded
                    assert "could be loaded" not in str(info.value), str(info.value)
                continue
            batches = list(loader)
        served = [int(k) for _, y in batches for k in y]
        assert len(served) == len(set(served)), f"a sample served twice: {served}"
        assert set(served) <= good
        sizes_seen = [len(y) for _, y in batches]
        if drop_last:
            assert all(s == batch_size for s in sizes_seen)
            assert len(served) == len(good) // batch_size * batch_size
        else:
            assert sorted(served) == sorted(good), "a good sample was not served"
            assert all(s == batch_size for s in sizes_seen[:-1]), f"short batch: {sizes_seen}"
        for images, y in batches:
            for image, k in zip(images, y.tolist(), strict=True):
                if k not in bad:  # a file written good: its pixels name it
                    assert tuple(image[0, 0]) == colour(k)
    failed = {e.path for e in loader.errors}
    assert failed <= {str(folder / f"{k}.png") for k in set(range(n)) - good}
    assert len(failed) == len(loader.errors), "a file recorded twice in loader.errors"
    if not drop_last:  # every file was read: every bad one is listed
        assert len(failed) == n - len(good)


def test_reals_are_real_images() -> None:
    """The seeds of the cut and flipped files decode: the fuzzing starts from valid images."""
    for name, data in REAL.items():
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None, name
