"""Loader, batches and load_eager: order, batching, error policies, threads, laziness."""

from __future__ import annotations

import gc
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imgbatch
from imgbatch import ImageReadError, ImgbatchError, ImgbatchWarning, Loader
from imgbatch.read import read_bytes
from tests.helpers import encode, make_dataset, solid, write

SIDE = 8


def identity_colour(k: int) -> tuple[int, int, int]:
    """The solid colour of sample ``k``: its red channel is ``k``, so a pixel names the sample."""
    return k, 255 - k, (7 * k) % 256


def ids_of(images: np.ndarray) -> list[int]:
    """Sample ids read back from uint8 HWC identity images."""
    return [int(v) for v in images[:, 0, 0, 0]]


@pytest.fixture
def identity(tmp_path: Path) -> Callable[..., Path]:
    """Make ``n`` tiny lossless images whose colour encodes their index; labels are the index."""

    def make(n: int, bad: dict[int, bytes] | None = None) -> Path:
        rows = []
        for k in range(n):
            rel = f"img/{k:03d}.png"
            data = (bad or {}).get(k)
            write(
                tmp_path / rel,
                data if data is not None else encode(solid(SIDE, SIDE, identity_colour(k))),
            )
            rows.append(f"{rel} {k}")
        labels = tmp_path / "list.txt"
        labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return labels

    return make


def uint8_loader(labels: Path | imgbatch.Manifest, **options: object) -> Loader:
    options.setdefault("size", SIDE)
    options.setdefault("dtype", "uint8")
    return Loader(labels, **options)  # type: ignore[arg-type]


def flat(batches: list[list[int]]) -> list[int]:
    return list(itertools.chain.from_iterable(batches))


def epoch_ids(loader: Loader) -> list[list[int]]:
    """The sample ids of each batch of one epoch, checking images and labels agree."""
    out = []
    for images, labels in loader:
        ids = ids_of(images)
        assert ids == labels.tolist(), "images and labels out of step"
        out.append(ids)
    return out


# -- batching and order -------------------------------------------------------------------------


def test_batches_have_the_documented_shapes_and_types(tmp_path: Path) -> None:
    labels = make_dataset(tmp_path, {"red": (255, 0, 0), "blue": (0, 0, 255)}, 5, (20, 30))
    loader = Loader(labels, batch_size=4, size=(12, 16), shuffle=False)
    got = list(loader)
    assert [len(y) for _, y in got] == [4, 4, 2]
    images, y = got[0]
    assert images.shape == (4, 12, 16, 3) and images.dtype == np.float32
    assert y.dtype == np.int64
    assert loader.classes == ("blue", "red")
    # blue sorts first: id 0 is blue, and RGB order puts blue in channel 2.
    for images, y in got:
        for image, label in zip(images, y, strict=True):
            expected = (0.0, 0.0, 1.0) if label == 0 else (1.0, 0.0, 0.0)
            np.testing.assert_allclose(image.mean(axis=(0, 1)), expected, atol=1e-6)


@pytest.mark.parametrize(("n", "batch_size", "drop_last", "sizes"), [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (8, 4, False, [4, 4]),
    (8, 4, True, [4, 4]),
    (3, 4, False, [3]),
    (3, 4, True, []),
])  # fmt: skip
def test_last_partial_batch_kept_unless_drop_last(
    identity: Callable[..., Path], n: int, batch_size: int, drop_last: bool, sizes: list[int]
) -> None:
    loader = uint8_loader(identity(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(b) for b in epoch_ids(loader)] == sizes


def test_unshuffled_order_is_the_manifest_order(identity: Callable[..., Path]) -> None:
    loader = uint8_loader(identity(10), batch_size=3, shuffle=False)
    assert flat(epoch_ids(loader)) == list(range(10))


def test_shuffle_serves_every_sample_once_with_a_new_global_order_each_epoch(
    identity: Callable[..., Path],
) -> None:
    loader = uint8_loader(identity(64), batch_size=8, shuffle=True, seed=3)
    epochs = [flat(epoch_ids(loader)) for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(64))
    assert epochs[0] != epochs[1] != epochs[2]
    # A global permutation, not a shuffle inside fixed batches.
    assert set(epochs[0][:8]) != set(range(8))
    assert loader.epoch == 3


def test_same_seed_same_orders_and_other_seed_other_orders(identity: Callable[..., Path]) -> None:
    labels = identity(40)
    a = uint8_loader(labels, batch_size=8, seed=11)
    b = uint8_loader(labels, batch_size=8, seed=11, workers=1, prefetch=0)
    c = uint8_loader(labels, batch_size=8, seed=12)
    runs_a = [epoch_ids(a) for _ in range(2)]
    assert runs_a == [epoch_ids(b) for _ in range(2)]
    assert runs_a[0] != epoch_ids(c)


def test_the_callers_manifest_is_never_mutated(identity: Callable[..., Path]) -> None:
    m = imgbatch.read_manifest(identity(20))
    labels_before, paths_before = m.labels.copy(), list(m.paths)
    for _ in uint8_loader(m, batch_size=6, shuffle=True):
        pass
    assert np.array_equal(m.labels, labels_before) and list(m.paths) == paths_before


def test_yielded_batches_belong_to_the_caller(identity: Callable[..., Path]) -> None:
    loader = uint8_loader(identity(30), batch_size=4, prefetch=3, shuffle=True)
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    copies: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(2):
        for images, labels in loader:
            kept.append((images, labels))
            copies.append((images.copy(), labels.copy()))
    for (images, labels), (images_copy, labels_copy) in zip(kept, copies, strict=True):
        assert np.array_equal(images, images_copy) and np.array_equal(labels, labels_copy)
    assert len({id(images) for images, _ in kept}) == len(kept)


def test_workers_and_prefetch_do_not_change_the_batches(identity: Callable[..., Path]) -> None:
    labels = identity(25)
    reference = epoch_ids(uint8_loader(labels, batch_size=4, workers=1, prefetch=0))
    for workers, prefetch in [(2, 1), (3, 4), (1, 2)]:
        loader = uint8_loader(labels, batch_size=4, workers=workers, prefetch=prefetch)
        assert epoch_ids(loader) == reference


def test_forever_runs_on_across_epochs(identity: Callable[..., Path]) -> None:
    loader = uint8_loader(identity(10), batch_size=4, seed=5)
    stream = loader.forever()
    ids = [ids_of(next(stream)[0]) for _ in range(3 * len(loader))]
    stream.close()  # type: ignore[attr-defined]
    for e in range(3):
        epoch = flat(ids[e * 3 : e * 3 + 3])
        assert sorted(epoch) == list(range(10))
    # The same orders as epoch-by-epoch iteration of a loader with the same seed.
    again = uint8_loader(identity(10), batch_size=4, seed=5)
    assert [epoch_ids(again) for _ in range(3)] == [ids[0:3], ids[3:6], ids[6:9]]


def test_chw_layout_float16_and_mean_std_reach_the_batch(tmp_path: Path) -> None:
    labels = make_dataset(tmp_path, {"c": (51, 102, 204)}, 3, (10, 10))
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    images, _ = next(iter(Loader(labels, batch_size=3, size=6, layout="chw", mean=mean, std=std)))
    assert images.shape == (3, 3, 6, 6)
    expected = (np.array([51, 102, 204]) / 255 - mean) / std
    np.testing.assert_allclose(images.mean(axis=(0, 2, 3)), expected, atol=1e-5)
    half, _ = next(iter(Loader(labels, batch_size=3, size=6, dtype="float16")))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half[0, 0, 0], np.array([51, 102, 204]) / 255, atol=1e-3)


def test_a_class_folder_can_be_given_instead_of_a_label_file(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"a": (255, 0, 0), "b": (0, 255, 0)}, 2, (8, 8))
    loader = Loader(tmp_path, batch_size=8, size=4, shuffle=False)
    assert loader.classes == ("a", "b")
    assert next(iter(loader))[1].tolist() == [0, 0, 1, 1]


# -- the functions ------------------------------------------------------------------------------


def test_batches_is_the_generator_form_and_checks_arguments_at_the_call(
    identity: Callable[..., Path],
) -> None:
    labels = identity(9)
    gen = imgbatch.batches(labels, batch_size=4, size=SIDE, dtype="uint8", shuffle=False)
    assert isinstance(gen, Iterator)
    assert [ids_of(x) for x, _ in gen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        imgbatch.batches(labels, batch_size=0, size=SIDE)


def test_load_eager_holds_everything_in_manifest_order(identity: Callable[..., Path]) -> None:
    labels = identity(11)
    images, y = imgbatch.load_eager(labels, size=SIDE, dtype="uint8", workers=2)
    assert images.shape == (11, SIDE, SIDE, 3)
    assert ids_of(images) == list(range(11)) == y.tolist()
    streamed = np.concatenate([x for x, _ in uint8_loader(labels, batch_size=4, shuffle=False)])
    assert np.array_equal(images, streamed)


def test_load_eager_raises_or_skips_bad_files(identity: Callable[..., Path]) -> None:
    labels = identity(6, bad={2: b"", 4: b"<html>not found</html>"})
    with pytest.raises(ImageReadError, match=r"002.png: empty file .* line 3"):
        imgbatch.load_eager(labels, size=SIDE)
    with pytest.warns(ImgbatchWarning) as caught:
        images, y = imgbatch.load_eager(labels, size=SIDE, dtype="uint8", on_error="skip")
    assert ["002.png" in str(w.message) for w in caught] == [True, False]
    assert ids_of(images) == y.tolist() == [0, 1, 3, 5]


# -- bad files ----------------------------------------------------------------------------------


def test_raise_mode_names_the_file_and_the_manifest_line(identity: Callable[..., Path]) -> None:
    labels = identity(8, bad={5: b"\xff\xd8\xff\xe0 truncated"})
    with pytest.raises(ImageReadError) as info:
        for _ in uint8_loader(labels, batch_size=4, shuffle=False):
            pass
    error = info.value
    assert error.path.endswith("005.png") and error.line == 6
    assert "005.png" in str(error) and "line 6" in str(error) and "list.txt" in str(error)


def test_skip_mode_keeps_batches_full_and_records_each_bad_file_once(
    identity: Callable[..., Path],
) -> None:
    bad = {1: b"", 6: b"garbage", 13: b"\x89PNG\r\n\x1a\n cut"}
    labels = identity(20, bad=bad)
    loader = uint8_loader(labels, batch_size=4, on_error="skip", shuffle=True, seed=1)
    with pytest.warns(ImgbatchWarning) as caught:
        first = epoch_ids(loader)
    messages = [str(w.message) for w in caught]
    assert sorted(m.split(":")[0][-7:] for m in messages[:-1]) == [
        "001.png", "006.png", "013.png"
    ]  # fmt: skip
    # The epoch ends with a summary that says where the full list is.
    assert messages[-1] == (
        "epoch 0: skipped 3 of 20 files; loader.errors lists every file skipped so far (3)"
    )
    assert [len(b) for b in first] == [4, 4, 4, 4, 1]
    assert sorted(flat(first)) == sorted(set(range(20)) - set(bad))
    assert sorted(e.line for e in loader.errors if e.line) == [2, 7, 14]
    with pytest.warns(ImgbatchWarning) as caught:
        second = epoch_ids(loader)
    # No second warning per file: only the epoch's summary.
    assert [str(w.message)[:26] for w in caught] == ["epoch 1: skipped 3 of 20 f"]
    assert sorted(flat(second)) == sorted(set(range(20)) - set(bad))
    assert len(loader.errors) == 3


def test_skip_mode_refills_from_later_batches_when_the_epoch_is_handed_out(
    identity: Callable[..., Path],
) -> None:
    # Deep prefetch: every batch is planned before the bad one is seen, so the refill must come
    # from a later batch, and only the epoch's last batch may come out short.
    labels = identity(12, bad={0: b"", 1: b""})
    loader = uint8_loader(labels, batch_size=4, on_error="skip", shuffle=False, prefetch=8)
    with pytest.warns(ImgbatchWarning):
        got = epoch_ids(loader)
    assert [len(b) for b in got] == [4, 4, 2]
    assert sorted(flat(got)) == list(range(2, 12))


def test_skip_mode_with_drop_last_drops_a_short_final_batch(
    identity: Callable[..., Path],
) -> None:
    labels = identity(8, bad={3: b""})
    loader = uint8_loader(labels, batch_size=4, on_error="skip", drop_last=True, shuffle=False)
    with pytest.warns(ImgbatchWarning):
        got = epoch_ids(loader)
    assert [len(b) for b in got] == [4]


def test_an_epoch_where_every_file_fails_is_one_clear_error(identity: Callable[..., Path]) -> None:
    labels = identity(3, bad={0: b"", 1: b"", 2: b""})
    loader = uint8_loader(labels, batch_size=2, on_error="skip")
    with pytest.warns(ImgbatchWarning), pytest.raises(ImgbatchError, match="3 of 3 files failed"):
        list(loader)


# -- threads and laziness -----------------------------------------------------------------------


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []

    def counting(path: str, **options: Any) -> bytes:
        reads.append(path)
        return read_bytes(path, **options)

    monkeypatch.setattr("imgbatch.read.files.read_bytes", counting)
    return reads


def test_nothing_is_read_before_the_first_batch_is_asked_for(
    identity: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch)
    threads = threading.active_count()
    loader = uint8_loader(identity(40), batch_size=4, prefetch=2)
    stream = iter(loader)
    time.sleep(0.05)
    assert reads == [] and threading.active_count() == threads
    next(stream)
    time.sleep(0.2)  # let the workers run as far ahead as they may
    # The batch handed out plus `prefetch` batches in flight, and no more.
    assert 4 <= len(reads) <= 4 * (1 + 2)
    stream.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["break", "exception", "close", "garbage", "interrupt"])
def test_stopping_early_stops_and_joins_every_thread(
    identity: Callable[..., Path], how: str
) -> None:
    before = threading.active_count()
    loader = uint8_loader(identity(40), batch_size=2, workers=3, prefetch=4)
    if how == "break":
        for _ in loader:
            assert threading.active_count() > before
            break
    elif how in ("exception", "interrupt"):
        kind: type[BaseException] = RuntimeError if how == "exception" else KeyboardInterrupt
        with pytest.raises(kind):
            for _ in loader:
                raise kind(how)
    else:
        stream = iter(loader)
        next(stream)
        if how == "close":
            stream.close()  # type: ignore[attr-defined]
        else:
            del stream
            gc.collect()
    assert threading.active_count() == before
    # and the next epoch works
    assert len(epoch_ids(loader)) == len(loader)


@pytest.mark.parametrize("ahead", [0, 3])
def test_workers_ask_the_kernel_for_the_files_ahead_of_the_one_they_decode(
    identity: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    events: list[tuple[str, int]] = []  # one worker: the order is the worker's own

    def number(path: str) -> int:
        return int(Path(path).stem)

    monkeypatch.setattr("imgbatch.read.files.FileSource.ahead", ahead)
    monkeypatch.setattr(
        "imgbatch.read.files.read_ahead", lambda p: events.append(("hint", number(p)))
    )

    def reading(path: str, **options: Any) -> bytes:
        events.append(("read", number(path)))
        return read_bytes(path, **options)

    monkeypatch.setattr("imgbatch.read.files.read_bytes", reading)
    loader = uint8_loader(identity(20), batch_size=8, workers=1, shuffle=False)
    assert flat(epoch_ids(loader)) == list(range(20))
    hints = [k for what, k in events if what == "hint"]
    if ahead == 0:
        assert hints == []
        return
    assert sorted(hints) == list(range(20))  # each file once
    for k in range(20):
        read_at = events.index(("read", k))
        batch_end = min(20, (k // 8 + 1) * 8)  # the hints stay within the batch
        wanted = set(range(k, min(k + ahead + 1, batch_end)))
        assert wanted <= {j for what, j in events[:read_at] if what == "hint"}, k


def test_workers_share_each_batch_image_by_image(
    identity: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first half of the batch is slow to read. A fixed half per worker would give all of it
    # to one thread; taken slot by slot, both threads read slow files and the batch is intact.
    readers: dict[int, int] = {}

    def reading(path: str, **options: Any) -> bytes:
        k = int(Path(path).stem)
        readers[k] = threading.get_ident()
        if k < 4:
            time.sleep(0.1)
        return read_bytes(path, **options)

    monkeypatch.setattr("imgbatch.read.files.read_bytes", reading)
    loader = uint8_loader(identity(8), batch_size=8, workers=2, shuffle=False)
    assert epoch_ids(loader) == [list(range(8))]
    assert len({readers[k] for k in range(4)}) == 2


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_no_file_is_left_open_after_an_epoch_or_a_break(identity: Callable[..., Path]) -> None:
    labels = identity(40)
    fds = len(list(Path("/proc/self/fd").iterdir()))
    loader = uint8_loader(labels, batch_size=4, workers=2)
    assert len(epoch_ids(loader)) == 10
    for _ in loader:
        break
    assert len(list(Path("/proc/self/fd").iterdir())) == fds


def test_an_unexpected_worker_error_reaches_the_caller_and_threads_end(
    identity: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str, **options: Any) -> bytes:
        msg = f"disk on fire at {path}"
        raise RuntimeError(msg)

    monkeypatch.setattr("imgbatch.read.files.read_bytes", broken)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="disk on fire"):
        list(uint8_loader(identity(10), batch_size=2))
    assert threading.active_count() == before


def test_progress_shows_a_bar_per_epoch(
    identity: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    loader = uint8_loader(identity(10), batch_size=4, progress=True)
    for _ in range(2):
        for _ in loader:
            pass
    err = capsys.readouterr().err
    assert "epoch 0" in err and "epoch 1" in err and "3/3" in err and "img/s" in err


# -- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "message"), [
    ("batch_size", 0, "batch_size must be a positive int, got 0"),
    ("batch_size", 2.5, "batch_size must be a positive int, got 2.5"),
    ("size", (3, 0), r"size must be a positive int or a .* pair of them, got \(3, 0\)"),
    ("size", "big", "size must be an int or a .height, width. pair"),
    ("workers", 0, "workers must be a positive int, got 0"),
    ("prefetch", -1, "prefetch must be a non-negative int, got -1"),
    ("on_error", "ignore", "on_error must be one of 'raise', 'skip', got 'ignore'"),
    ("seed", -3, "seed must be a non-negative int or None, got -3"),
    ("layout", "nhwc", "layout must be one of 'hwc', 'chw', got 'nhwc'"),
    ("dtype", "float64", "dtype must be one of"),
    ("fit", "zoom", "fit must be one of stretch, crop, pad, got 'zoom'"),
    ("mean", (0.5, 0.5), "mean must be a number or 3 finite numbers"),
])  # fmt: skip
def test_bad_options_are_refused_at_construction(
    identity: Callable[..., Path], option: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Loader(identity(2), **{option: value})  # type: ignore[arg-type]


def test_labels_of_the_wrong_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="labels must be a label file"):
        Loader(42)  # type: ignore[arg-type]


# -- random access, resumption, sharding ---------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_k_of_epoch_e_is_what_iteration_yields(
    identity: Callable[..., Path], shuffle: bool
) -> None:
    labels = identity(23)
    loader = uint8_loader(labels, batch_size=5, shuffle=shuffle, seed=4)
    epochs = [epoch_ids(loader) for _ in range(3)]
    other = uint8_loader(labels, batch_size=5, shuffle=shuffle, seed=4)
    for e, batches in enumerate(epochs):
        for k, ids in enumerate(batches):
            images, y = other.batch(k, epoch=e)
            assert ids_of(images) == ids == y.tolist()
    assert ids_of(other.batch(-1, epoch=2)[0]) == epochs[2][-1]
    assert ids_of(other.batch(0)[0]) == epochs[0][0]  # default: the loader's current epoch
    with pytest.raises(IndexError, match="batch index 5 out of range for 5 batches"):
        other.batch(5)
    with pytest.raises(TypeError, match="batch index must be an int"):
        other.batch(1.0)  # type: ignore[arg-type]


def test_batch_k_in_skip_mode_leaves_failed_files_out(identity: Callable[..., Path]) -> None:
    loader = uint8_loader(identity(8, bad={1: b""}), batch_size=4, shuffle=False, on_error="skip")
    with pytest.warns(ImgbatchWarning, match="001.png"):
        images, y = loader.batch(0)
    assert ids_of(images) == y.tolist() == [0, 2, 3]
    with pytest.raises(ImageReadError, match=r"001\.png"):
        uint8_loader(identity(8, bad={1: b""}), batch_size=4, shuffle=False).batch(0)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("stop_after", [0, 1, 3, 5, 6, 9])
def test_resume_from_state_dict_yields_exactly_the_remaining_batches(
    identity: Callable[..., Path], shuffle: bool, stop_after: int
) -> None:
    labels = identity(27)
    reference = uint8_loader(labels, batch_size=5, shuffle=shuffle, seed=9)
    straight = [ids for _ in range(2) for ids in epoch_ids(reference)]  # 2 epochs, 6 batches each

    original = uint8_loader(labels, batch_size=5, shuffle=shuffle, seed=9, prefetch=3)
    stream = original.forever()
    seen = [ids_of(next(stream)[0]) for _ in range(stop_after)]
    state = json.loads(json.dumps(original.state_dict()))  # survives a trip through JSON
    stream.close()  # type: ignore[attr-defined]  # the "crash"

    restored = uint8_loader(labels, batch_size=5, shuffle=shuffle, seed=None)  # seed comes back
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    rest = [ids_of(x) for x, _ in itertools.islice(restored.forever(), 12 - stop_after)]
    assert seen + rest == straight


def test_resume_with_for_loops_continues_the_epoch_then_goes_on(
    identity: Callable[..., Path],
) -> None:
    labels = identity(20)
    original = uint8_loader(labels, batch_size=4, seed=2)
    first = []
    for images, _ in original:
        first.append(ids_of(images))
        if len(first) == 2:
            break
    restored = uint8_loader(labels, batch_size=4, seed=2)
    restored.load_state_dict(original.state_dict())
    rest = epoch_ids(restored)
    reference = uint8_loader(labels, batch_size=4, seed=2)
    assert first + rest == epoch_ids(reference)
    assert epoch_ids(restored) == epoch_ids(reference)  # and the next epoch is epoch 1


def test_state_dict_refuses_a_loader_with_another_order(identity: Callable[..., Path]) -> None:
    labels = identity(10)
    state = uint8_loader(labels, batch_size=4).state_dict()
    with pytest.raises(ValueError, match="state has batch_size=4 but this loader has batch_size=5"):
        uint8_loader(labels, batch_size=5).load_state_dict(state)
    with pytest.raises(ValueError, match="state has seed=0 but this loader has seed=1: build"):
        uint8_loader(labels, batch_size=4, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="state has samples=10 but this loader has samples=9"):
        uint8_loader(identity(9), batch_size=4).load_state_dict(state)
    with pytest.raises(ValueError, match="not an imgbatch loader state"):
        uint8_loader(labels, batch_size=4).load_state_dict({"epoch": 1})


@pytest.mark.parametrize(("n", "world", "mode"), [(23, 2, "pad"), (23, 3, "pad"), (23, 3, "drop")])
def test_ranks_share_each_epoch_disjointly_with_equal_batch_counts(
    identity: Callable[..., Path], n: int, world: int, mode: str
) -> None:
    labels = identity(n)
    loaders = [
        uint8_loader(labels, batch_size=3, seed=6, rank=r, world_size=world, shard_mode=mode)
        for r in range(world)
    ]
    assert len({len(loader) for loader in loaders}) == 1
    orders = []
    for _ in range(2):
        per_rank = [epoch_ids(loader) for loader in loaders]
        assert {len(batches) for batches in per_rank} == {len(loaders[0])}
        sets = [set(flat(batches)) for batches in per_rank]
        assert sum(len(s) for s in sets) == len(set().union(*sets))  # disjoint
        covered = set().union(*sets)
        assert covered == set(range(n)) if mode == "pad" else len(covered) == n - n % world
        orders.append([flat(batches) for batches in per_rank])
    assert orders[0] != orders[1]


def test_rank_and_world_size_are_checked(identity: Callable[..., Path]) -> None:
    labels = identity(4)
    with pytest.raises(ValueError, match=r"rank must be an int in \[0, world_size=2\), got 2"):
        Loader(labels, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size must be a positive int, got 0"):
        Loader(labels, rank=0, world_size=0)
    with pytest.raises(ValueError, match="shard_mode must be one of 'pad', 'drop'"):
        Loader(labels, shard_mode="wrap")
    with pytest.raises(ValueError, match="cannot be shared by 5 ranks"):
        Loader(labels, rank=0, world_size=5, shard_mode="drop")


def test_an_abandoned_epoch_run_again_counts_as_a_new_start(identity: Callable[..., Path]) -> None:
    loader = uint8_loader(identity(12), batch_size=4, seed=3)
    for _ in loader:
        break
    loader.epoch = 0  # run epoch 0 again, from its start
    again = epoch_ids(loader)
    assert again == epoch_ids(uint8_loader(identity(12), batch_size=4, seed=3))
    assert loader.epoch == 1
    assert loader.state_dict()["epoch"] == 1


def test_output_properties(identity: Callable[..., Path]) -> None:
    loader = Loader(identity(3), size=(6, 10), layout="chw", dtype="float16", color="gray")
    assert (loader.layout, loader.dtype, loader.image_shape) == (
        "chw",
        np.dtype("float16"),
        (1, 6, 10),
    )
    images, _ = loader.batch(0)
    assert images.shape[1:] == loader.image_shape
    assert images.dtype == loader.dtype


def test_a_torchrun_environment_without_a_process_group_warns(
    identity: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.warns(ImgbatchWarning, match="WORLD_SIZE=2 is set but torch.distributed"):
        loader = Loader(identity(4))
    assert (loader.rank, loader.world_size) == (0, 1)
    Loader(identity(4), rank=1, world_size=2)  # explicit: no warning (-W error would fail)
