"""Label files and images at URLs, read from real servers on 127.0.0.1: an HTTP server over a
folder (tests/servers.py, with injected 503s) and moto's S3-compatible server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import imgbatch
from imgbatch.read import Backoff, RemoteSource
from imgbatch.read.prefetch import Prefetch
from imgbatch.scan import scan
from tests.helpers import encode, gradient, require, write
from tests.servers import FAKE_ENV, FolderServer, moto_server, s3_options, upload_folder

BUCKET = "images"
N = 10


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of N images in two class folders, a labels.csv, a label file with a missing
    image on line 3, an empty image and a large one."""
    root = tmp_path_factory.mktemp("remote")
    rows = ["path,label"]
    for k in range(N):
        name = "cat" if k % 2 else "dog"
        fmt, ext = ("JPEG", "jpg") if k % 3 else ("PNG", "png")
        rel = f"{name}/{k:02d}.{ext}"
        write(root / rel, encode(gradient(20 + k, 30 + 2 * k, seed=k), fmt))
        rows.append(f"{rel},{name}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "missing.csv").write_text("path,label\ncat/01.jpg,cat\nnot/there.jpg,dog\n")
    write(root / "empty.png", b"")
    (root / "empty.csv").write_text("path,label\nempty.png,0\n")
    return root


@pytest.fixture(scope="session")
def http(tree: Path) -> Iterator[FolderServer]:
    require("fsspec")
    require("aiohttp")
    import fsspec.asyn

    fsspec.asyn.get_loop()  # fsspec's io thread, started once for the session
    with FolderServer(tree) as server:
        yield server


@pytest.fixture(scope="session")
def s3(tree: Path) -> Iterator[str]:
    """moto's S3 server with the tree uploaded to s3://images/; yields the endpoint URL."""
    require("s3fs")
    require("moto")
    import fsspec.asyn

    fsspec.asyn.get_loop()
    with moto_server() as endpoint:
        upload_folder(endpoint, tree, BUCKET)
        yield endpoint


def batches(
    labels: str | Path | imgbatch.Manifest, **options: object
) -> tuple[np.ndarray, np.ndarray]:
    loader = imgbatch.Loader(labels, batch_size=4, size=(12, 16), shuffle=False, **options)  # type: ignore[arg-type]
    xs, ys = zip(*loader, strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_http_label_file_gives_the_local_loaders_arrays(tree: Path, http: FolderServer) -> None:
    local = batches(tree / "labels.csv")
    remote = batches(f"{http.url}/labels.csv", workers=2, io_workers=3)
    np.testing.assert_array_equal(remote[0], local[0])
    np.testing.assert_array_equal(remote[1], local[1])
    assert http.requests["/cat/01.jpg"] >= 1


def test_s3_label_file_gives_the_local_loaders_arrays(tree: Path, s3: str) -> None:
    local = batches(tree / "labels.csv", augment=[imgbatch.RandomHorizontalFlip()], seed=3)
    remote = batches(
        f"s3://{BUCKET}/labels.csv", augment=[imgbatch.RandomHorizontalFlip()], seed=3,
        storage_options=s3_options(s3),
    )  # fmt: skip
    np.testing.assert_array_equal(remote[0], local[0])
    np.testing.assert_array_equal(remote[1], local[1])


def test_s3_endpoint_and_credentials_from_the_environment(
    tree: Path, s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**FAKE_ENV, "AWS_ENDPOINT_URL": s3}.items():
        monkeypatch.setenv(name, value)
    m = imgbatch.read_manifest(f"s3://{BUCKET}/labels.csv", storage_options={"anon": False})
    assert m.paths[0] == f"s3://{BUCKET}/dog/00.png"
    x, _ = batches(m, storage_options={"anon": False})
    np.testing.assert_array_equal(x, batches(tree / "labels.csv")[0])


def test_paths_resolve_against_a_url_root_or_stay_absolute_urls(
    tree: Path, http: FolderServer, tmp_path: Path
) -> None:
    m = imgbatch.read_manifest(tree / "labels.csv", root=f"{http.url}/")
    assert m.paths[1] == f"{http.url}/cat/01.jpg"
    listed = tmp_path / "urls.csv"
    listed.write_text(f"path,label\n{http.url}/cat/01.jpg,1\nlocal.png,2\n")
    m = imgbatch.read_manifest(listed)
    assert m.paths[0] == f"{http.url}/cat/01.jpg"
    assert m.paths[1] == str(tmp_path / "local.png")
    inline = imgbatch.Manifest([f"{http.url}/dog/00.png"], [0], root=tmp_path)
    image = imgbatch.load_eager(inline, size=(12, 16))[0][0]
    local = imgbatch.load_image(tree / "dog/00.png", size=(12, 16))
    np.testing.assert_array_equal(image, local)


def test_load_image_and_load_eager_read_urls(tree: Path, http: FolderServer, s3: str) -> None:
    local = imgbatch.load_image(tree / "cat/03.png", size=(12, 16))
    np.testing.assert_array_equal(
        imgbatch.load_image(f"{http.url}/cat/03.png", size=(12, 16)), local
    )
    from_s3 = imgbatch.load_image(
        f"s3://{BUCKET}/cat/03.png", size=(12, 16), storage_options=s3_options(s3)
    )
    np.testing.assert_array_equal(from_s3, local)
    x, _ = imgbatch.load_eager(f"{http.url}/labels.csv", size=(12, 16), io_buffer_bytes=1)
    np.testing.assert_array_equal(x, batches(tree / "labels.csv")[0])


@pytest.mark.parametrize("where", ["http", "s3"])
def test_a_missing_object_names_the_url_and_the_manifest_line(
    where: str, http: FolderServer, s3: str
) -> None:
    base, options = (http.url, {}) if where == "http" else (f"s3://{BUCKET}", s3_options(s3))
    with pytest.raises(imgbatch.ImageReadError) as caught:
        batches(f"{base}/missing.csv", storage_options=options)
    error = caught.value
    assert error.path == f"{base}/not/there.jpg"
    assert error.line == 3
    assert error.reason.startswith("no such file")
    loader = imgbatch.Loader(
        f"{base}/missing.csv", batch_size=2, size=8, shuffle=False, on_error="skip",
        storage_options=options,
    )  # fmt: skip
    with pytest.warns(imgbatch.ImgbatchWarning):
        served = [len(y) for _, y in loader]
    assert served == [1]
    assert [e.path for e in loader.errors] == [f"{base}/not/there.jpg"]


@pytest.mark.parametrize("where", ["http", "s3"])
def test_empty_and_oversized_objects_are_refused(where: str, http: FolderServer, s3: str) -> None:
    base, options = (http.url, {}) if where == "http" else (f"s3://{BUCKET}", s3_options(s3))
    with pytest.raises(imgbatch.ImageReadError, match=r"empty file \(0 bytes\)"):
        batches(f"{base}/empty.csv", storage_options=options)
    with pytest.raises(imgbatch.ImageReadError, match="too large: more than max_file_bytes=100"):
        batches(f"{base}/labels.csv", storage_options=options, max_file_bytes=100)


def test_a_missing_label_file_at_a_url_is_a_manifest_error(http: FolderServer) -> None:
    with pytest.raises(imgbatch.ManifestError, match="no such label file") as caught:
        imgbatch.read_manifest(f"{http.url}/nope.csv")
    assert caught.value.path == f"{http.url}/nope.csv"


def test_503s_are_retried_with_backoff_then_reported(http: FolderServer) -> None:
    before = http.requests["/dog/04.jpg"]
    http.fail_first["/dog/04.jpg"] = before + 2
    x, _ = batches(f"{http.url}/labels.csv")
    assert len(x) == N
    assert http.requests["/dog/04.jpg"] == before + 3  # two 503s, then served

    http.fail_first["/dog/06.png"] = 1000
    source = RemoteSource(backoff=Backoff(retries=2, first=0.01))
    started = time.perf_counter()
    try:
        with pytest.raises(imgbatch.ImageReadError, match=r"after 3 tries: .*HTTP 503") as caught:
            source.read(f"{http.url}/dog/06.png", max_bytes=None)
    finally:
        http.fail_first.clear()
    assert caught.value.path == f"{http.url}/dog/06.png"
    assert time.perf_counter() - started >= 0.03  # waited 0.01 + 0.02 s between the tries


def test_prefetch_holds_at_most_the_buffer_plus_one_object_per_io_worker(
    tree: Path, http: FolderServer
) -> None:
    paths = [f"{http.url}/labels.csv"] * 12  # many fetches of one object
    size = (tree / "labels.csv").stat().st_size
    reads = Prefetch(RemoteSource(io_workers=3, io_buffer_bytes=1))
    try:
        reads.want(paths, list(range(12)), max_bytes=None)
        time.sleep(0.5)  # time enough for every fetch, were they not held back
        assert reads.held <= 3 * size
        assert len(reads.queue) >= 12 - 3
        for path in paths:  # reading releases the budget, so the rest come
            assert len(reads.read(path, row=0, max_bytes=None)) == size
        assert reads.held == 0
    finally:
        reads.close()


def test_stopping_early_stops_the_fetches(http: FolderServer) -> None:
    loader = imgbatch.Loader(f"{http.url}/labels.csv", batch_size=2, size=8, io_workers=2)
    for _ in loader:
        break
    # the conftest fixture fails the test if an io thread is left running
    assert loader.source.storage_options == {}  # type: ignore[attr-defined]


def test_bad_remote_options_are_refused_at_construction(tree: Path) -> None:
    with pytest.raises(ValueError, match="io_workers must be a positive int, got 0"):
        imgbatch.Loader(tree / "labels.csv", io_workers=0)
    with pytest.raises(TypeError, match="storage_options must be a dict"):
        imgbatch.Loader(tree / "labels.csv", storage_options="anon")  # type: ignore[arg-type]


@pytest.mark.parametrize("quick", [False, True])
def test_scan_checks_objects_at_urls(tree: Path, http: FolderServer, quick: bool) -> None:
    report = scan(f"{http.url}/missing.csv", quick=quick, workers=2)
    assert [(p.line, p.reason) for p in report.problems] == [(3, "missing")]
    assert report.problems[0].path == "not/there.jpg"  # as written in the label file
    clean = scan(f"{http.url}/labels.csv", quick=quick)
    assert clean.clean
    local = scan(tree / "labels.csv", quick=quick)
    assert clean.sizes == local.sizes


def test_scan_cli_reads_a_url_with_credentials_from_the_environment(
    s3: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgbatch.cli import main

    for name, value in {**FAKE_ENV, "AWS_ENDPOINT_URL": s3}.items():
        monkeypatch.setenv(name, value)
    assert main(["scan", f"s3://{BUCKET}/missing.csv", "--no-progress", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert [p["line"] for p in found["problems"]] == [3]
    assert main(["scan", f"s3://{BUCKET}/missing.csv", "--out", "x.csv"]) == 2


def test_epochs_after_epochs_with_drop_last_keep_the_fetch_budget(
    tree: Path, http: FolderServer
) -> None:
    # 10 rows in batches of 3 with drop_last: one row a epoch is never read; were it fetched,
    # its bytes would fill the 1-byte budget and the second epoch would wait forever.
    loader = imgbatch.Loader(
        f"{http.url}/labels.csv", batch_size=3, size=8, drop_last=True, io_buffer_bytes=1,
        io_workers=2, seed=1,
    )  # fmt: skip
    got: list[int] = []

    def take() -> None:
        stream = loader.forever()
        got.extend(len(next(stream)[1]) for _ in range(4 * 3))
        stream.close()  # type: ignore[attr-defined]

    worker = threading.Thread(target=take)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the loader stopped fetching"
    assert got == [3] * 12


def test_a_remote_loader_fetches_ahead_of_the_batches_it_decodes(
    tree: Path, http: FolderServer
) -> None:
    loader = imgbatch.Loader(f"{http.url}/labels.csv", batch_size=2, size=8, shuffle=False)
    before = sum(http.requests.values())
    stream = iter(loader)
    next(stream)
    deadline = time.monotonic() + 10
    while sum(http.requests.values()) - before < N and time.monotonic() < deadline:
        time.sleep(0.01)
    asked = sum(http.requests.values()) - before
    stream.close()  # type: ignore[attr-defined]
    assert asked == N  # all 10 rows asked for, though only 3 batches (6 rows) were submitted
