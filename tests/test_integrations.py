"""Framework adapters: torch IterableDataset, Keras 3 PyDataset, tf.data; lazy framework imports.

Each framework is imported by a module-scoped fixture through ``require``: its tests skip when it
is absent, and fail where ``IMGBATCH_REQUIRE_EXTRAS`` names it (CI: torch and keras).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgbatch import ImgbatchWarning, Loader
from tests.helpers import encode, require, solid, write

# Keras chooses its backend when it is first imported (importing TensorFlow imports it too):
# torch, unless the environment chose one already. The adapters work on any backend.
os.environ.setdefault("KERAS_BACKEND", "torch")

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "labels.csv"
SIDE = 8
# Sample data, standardised: a linear model separates the classes within two epochs.
NORMALISE: dict[str, Any] = {"mean": 0.5, "std": 0.25}


@pytest.fixture(scope="module")
def torch() -> Any:
    return require("torch")


@pytest.fixture(scope="module")
def keras() -> Any:
    return require("keras")


@pytest.fixture(scope="module")
def tf() -> Any:
    return require("tensorflow")


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """The suite's fixture of the same name, except for threads that Python did not start.

    TensorFlow (``to_tf_dataset``, and Keras on its backend) runs Python code in its own C++
    threads, which Python then lists as dummy threads; TensorFlow keeps them. Every thread
    started from Python, imgbatch's decode threads among them, is checked as everywhere else.
    """
    before = set(threading.enumerate())
    yield

    def extra() -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
        ]

    deadline = time.monotonic() + 2.0
    while extra() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not extra(), f"threads left running: {extra()}"


def identity_colour(k: int) -> tuple[int, int, int]:
    """The solid colour of sample ``k``: its red channel is ``k``."""
    return k, 255 - k, (7 * k) % 256


def make_identity(root: Path, n: int) -> Path:
    """``n`` tiny lossless images, the label of sample ``k`` being ``k``; the label file."""
    rows = []
    for k in range(n):
        rel = f"img/{k:03d}.png"
        write(root / rel, encode(solid(SIDE, SIDE, identity_colour(k))))
        rows.append(f"{rel} {k}")
    labels = root / "list.txt"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def loader_epochs(labels: Path, epochs: int, **options: Any) -> list[list[tuple[Any, ...]]]:
    """The batches of ``epochs`` epochs of a fresh loader: the reference an adapter must match."""
    loader = Loader(labels, size=SIDE, **options)
    return [list(loader) for _ in range(epochs)]


def imgbatch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("imgbatch")]


# ---------------------------------------------------------------------------------------------
# Lazy imports


def test_importing_imgbatch_imports_no_framework() -> None:
    code = (
        "import sys, imgbatch, imgbatch.integrations, imgbatch.cli\n"
        "print(sorted(m for m in ('torch', 'keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# torch


def test_to_tensors_shares_memory_with_the_batch(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import to_tensors

    loader = Loader(make_identity(tmp_path, 5), batch_size=4, size=SIDE, layout="chw")
    images, labels = next(iter(loader))
    timages, tlabels = to_tensors((images, labels))
    assert timages.dtype == torch.float32 and tlabels.dtype == torch.int64
    assert tuple(timages.shape) == images.shape == (4, 3, SIDE, SIDE)
    # Zero-copy: the same buffer, so a write through the tensor shows in the array.
    assert timages.data_ptr() == images.ctypes.data
    assert tlabels.data_ptr() == labels.ctypes.data
    timages[0, 0, 0, 0] = 42.0
    assert images[0, 0, 0, 0] == 42.0


def test_to_tensors_copies_what_it_cannot_share(torch: Any) -> None:
    from imgbatch.integrations.torch import to_tensors

    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    images.flags.writeable = False  # torch.from_numpy would warn, and could write to it
    labels = np.arange(2)[::-1]  # negative strides: from_numpy refuses them
    timages, tlabels = to_tensors((images, labels))
    assert timages.data_ptr() != images.ctypes.data
    np.testing.assert_array_equal(timages.numpy(), images)
    assert tlabels.tolist() == [1, 0]


def test_torch_dataset_yields_the_loaders_epochs(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import TorchDataset

    labels = make_identity(tmp_path, 11)
    options: dict[str, Any] = {"batch_size": 4, "layout": "chw", "dtype": "uint8", "seed": 3}
    expected = loader_epochs(labels, 2, **options)
    dataset = TorchDataset(Loader(labels, size=SIDE, **options))
    data = torch.utils.data.DataLoader(dataset, batch_size=None)
    assert len(data) == len(dataset) == 3
    epochs = []
    for reference in expected:  # each pass over the DataLoader is the loader's next epoch
        batches = list(data)
        assert len(batches) == len(reference)
        for (images, ids), (ref_images, ref_ids) in zip(batches, reference, strict=True):
            assert isinstance(images, torch.Tensor) and images.dtype == torch.uint8
            assert ids.dtype == torch.int64
            np.testing.assert_array_equal(images.numpy(), ref_images)
            np.testing.assert_array_equal(ids.numpy(), ref_ids)
            assert images[:, 0, 0, 0].tolist() == ids.tolist()  # red channel = sample id
        epochs.append(torch.cat([ids for _, ids in batches]).tolist())
    assert [sorted(e) for e in epochs] == [list(range(11))] * 2
    assert epochs[0] != epochs[1]  # reshuffled
    assert dataset.loader.epoch == 2


def test_torch_dataset_stops_the_loader_when_the_loop_stops(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import TorchDataset

    loader = Loader(make_identity(tmp_path, 12), batch_size=2, size=SIDE, workers=2)
    data = torch.utils.data.DataLoader(TorchDataset(loader), batch_size=None)
    for _ in data:
        assert imgbatch_threads()
        break
    deadline = time.monotonic() + 2.0
    while imgbatch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not imgbatch_threads()


def test_torch_dataset_refuses_dataloader_workers(
    torch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgbatch.integrations.torch as adapter

    dataset = adapter.TorchDataset(Loader(make_identity(tmp_path, 3), size=SIDE))
    # What a DataLoader worker process sees (a real worker would fork this process).
    monkeypatch.setattr(adapter, "get_worker_info", object)  # any non-None info
    with pytest.raises(RuntimeError, match=r"num_workers=0"):
        iter(dataset)


def test_torch_dataset_pin_memory(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import TorchDataset, pinning_available

    loader = Loader(make_identity(tmp_path, 3), batch_size=2, size=SIDE)
    if pinning_available():
        dataset = TorchDataset(loader, pin_memory=True)
        assert all(x.is_pinned() and y.is_pinned() for x, y in dataset)
    else:  # a CPU-only build or no GPU: said once, then unpinned batches
        with pytest.warns(ImgbatchWarning, match=r"pin_memory=True needs an accelerator"):
            dataset = TorchDataset(loader, pin_memory=True)
        assert dataset.pin_memory is False
        assert [len(y) for _, y in dataset] == [2, 1]


def test_require_chw(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import require_chw

    labels = make_identity(tmp_path, 2)
    chw = Loader(labels, size=SIDE, layout="chw")
    assert require_chw(chw) is chw
    with pytest.raises(ValueError, match=r'layout="chw", not \'hwc\''):
        require_chw(Loader(labels, size=SIDE))


def test_torch_dataset_rejects_a_non_loader(torch: Any) -> None:
    from imgbatch.integrations.torch import TorchDataset

    with pytest.raises(TypeError, match=r"loader must be an imgbatch.Loader, got list"):
        TorchDataset([])  # type: ignore[arg-type]


def test_torch_training_through_the_adapter_lowers_the_loss(torch: Any) -> None:
    from imgbatch.integrations.torch import TorchDataset, require_chw

    torch.manual_seed(0)
    loader = Loader(SAMPLE, batch_size=16, size=16, layout="chw", seed=0, **NORMALISE)
    data = torch.utils.data.DataLoader(TorchDataset(require_chw(loader)), batch_size=None)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(128, 3)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(2):
        total = seen = 0.0
        for images, labels in data:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            seen += len(labels)
        assert seen == 96
        losses.append(total / seen)
    assert losses[1] < 0.8 * losses[0], losses


# ---------------------------------------------------------------------------------------------
# Keras


def test_keras_dataset_serves_the_loaders_epochs(
    keras: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgbatch.integrations.keras import KerasDataset

    labels = make_identity(tmp_path, 11)
    options: dict[str, Any] = {"batch_size": 4, "dtype": "uint8", "seed": 5}
    expected = loader_epochs(labels, 3, **options)
    loader = Loader(labels, size=SIDE, **options)
    on_request: list[tuple[int, int | None]] = []
    batch = loader.batch

    def spy(index: int, *, epoch: int | None = None) -> tuple[np.ndarray, ...]:
        on_request.append((index, epoch))
        return batch(index, epoch=epoch)

    monkeypatch.setattr(loader, "batch", spy)
    dataset = KerasDataset(loader)
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == 3

    def check(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])

    # Epoch 0, in order: from the running iteration (prefetched), never decoded on request.
    assert dataset.epoch == 0
    for k in range(3):
        check(dataset[k], expected[0][k])
    assert on_request == []
    assert not imgbatch_threads()  # stopped after the epoch's last batch
    dataset.on_epoch_end()
    assert dataset.epoch == loader.epoch == 1

    # Epoch 1, out of order: decoded on request, the same arrays.
    for k in (2, 0, 1):
        check(dataset[k], expected[1][k])
    assert on_request == [(2, 1), (0, 1), (1, 1)]
    dataset.on_epoch_end()

    # Epoch 2: a peek at batch 0, then on_epoch_end (as fit does before training) keeps the
    # epoch; it is then served in order.
    check(dataset[0], expected[2][0])
    dataset.on_epoch_end()
    assert dataset.epoch == 2
    assert not imgbatch_threads()
    with dataset:
        check(dataset[0], expected[2][0])
        check(dataset[1], expected[2][1])
    assert not imgbatch_threads()  # close() stopped it mid-epoch
    check(dataset[2], expected[2][2])  # goes on where it stopped
    assert len(on_request) == 3
    dataset.on_epoch_end()
    assert loader.epoch == 3

    with pytest.raises(IndexError, match=r"batch index 3 out of range for 3 batches"):
        dataset[3]
    with pytest.raises(TypeError, match=r"batch index must be an int"):
        dataset[1.0]


def test_keras_fit_trains_above_chance(keras: Any) -> None:
    from imgbatch.integrations.keras import KerasDataset

    seen: list[tuple[int, list[int]]] = []

    class Recording(KerasDataset):
        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            images, labels = super().__getitem__(index)
            seen.append((self.epoch, labels.tolist()))
            return images, labels

    keras.utils.set_random_seed(0)
    loader = Loader(SAMPLE, batch_size=16, size=16, seed=0, **NORMALISE)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(Recording(loader), epochs=2, shuffle=False, verbose=0)
    accuracy = [float(a) for a in history.history["accuracy"]]
    assert accuracy[-1] > 0.6, accuracy  # chance: 1/3
    assert loader.epoch == 2
    # The two epochs are the loader's epochs 0 and 1: every sample once each, reshuffled (fit
    # peeks at a batch of epoch 0 first, to build the model).
    assert {e for e, _ in seen} == {0, 1}
    epochs = [[ys for e, ys in seen if e == epoch][-len(loader) :] for epoch in (0, 1)]
    everything = sorted(loader.manifest.labels.tolist())
    assert [sorted(y for ys in batches for y in ys) for batches in epochs] == [everything] * 2
    assert epochs[0] != epochs[1]
    evaluation = model.evaluate(
        KerasDataset(Loader(SAMPLE, batch_size=32, size=16, shuffle=False, **NORMALISE)),
        verbose=0,
        return_dict=True,
    )
    assert float(evaluation["accuracy"]) > 0.6


# ---------------------------------------------------------------------------------------------
# TensorFlow


class TestTf:
    """``to_tf_dataset``: signature, values, epochs."""

    @pytest.mark.parametrize(
        ("options", "images", "labels"),
        [
            ({}, ((None, 6, 10, 3), "float32"), ((None,), "int64")),
            ({"layout": "chw", "dtype": "uint8"}, ((None, 3, 6, 10), "uint8"), ((None,), "int64")),
            ({"color": "gray", "dtype": "float16"}, ((None, 6, 10, 1), "float16"), None),
            ({"drop_last": True}, ((4, 6, 10, 3), "float32"), ((4,), "int64")),
        ],
    )
    def test_output_signature(
        self,
        tf: Any,
        tmp_path: Path,
        options: dict[str, Any],
        images: tuple[tuple[int | None, ...], str],
        labels: tuple[tuple[int | None, ...], str] | None,
    ) -> None:
        from imgbatch.integrations.tf import output_signature

        loader = Loader(make_identity(tmp_path, 5), batch_size=4, size=(6, 10), **options)
        spec_images, spec_labels = output_signature(loader)
        assert (tuple(spec_images.shape), spec_images.dtype.name) == images
        if labels is not None:
            assert (tuple(spec_labels.shape), spec_labels.dtype.name) == labels

    def test_float_labels(self, tf: Any, tmp_path: Path) -> None:
        from imgbatch.integrations.tf import to_tf_dataset

        write(tmp_path / "a.png", encode(solid(4, 4, (1, 2, 3))))
        (tmp_path / "targets.csv").write_text("path,target\na.png,0.5\na.png,1.5\n")
        loader = Loader(tmp_path / "targets.csv", batch_size=2, size=4, shuffle=False)
        dataset = to_tf_dataset(loader)
        assert dataset.element_spec[1].dtype == tf.float32
        [(_, targets)] = list(dataset)
        assert targets.numpy().tolist() == [0.5, 1.5]

    def test_batches_equal_the_loaders(self, tf: Any, tmp_path: Path) -> None:
        from imgbatch.integrations.tf import to_tf_dataset

        labels = make_identity(tmp_path, 11)
        options: dict[str, Any] = {"batch_size": 4, "seed": 7}
        expected = loader_epochs(labels, 2, **options)
        loader = Loader(labels, size=SIDE, **options)
        dataset = to_tf_dataset(loader)
        assert len(dataset) == 3  # the cardinality is known
        epochs = []
        for reference in expected:  # each pass is the loader's next epoch
            batches = [(x.numpy(), y.numpy()) for x, y in dataset]
            assert len(batches) == len(reference)
            for (images, ids), (ref_images, ref_ids) in zip(batches, reference, strict=True):
                assert images.dtype == np.float32 and ids.dtype == np.int64
                np.testing.assert_array_equal(images, ref_images)
                np.testing.assert_array_equal(ids, ref_ids)
            epochs.append(np.concatenate([ids for _, ids in batches]).tolist())
        assert [sorted(e) for e in epochs] == [list(range(11))] * 2
        assert epochs[0] != epochs[1]
        assert loader.epoch == 2
        # An abandoned pass: the loader's threads stop when TensorFlow lets the generator go.
        for _ in dataset.take(1):
            pass
        deadline = time.monotonic() + 2.0
        while imgbatch_threads() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not imgbatch_threads()


# ---------------------------------------------------------------------------------------------
# with_index: every adapter passes the rows through


def check_identity_rows(images: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> None:
    """Rows are int64 manifest rows, in step with the images (red = k) and labels (k)."""
    assert rows.dtype == np.int64
    assert labels.tolist() == rows.tolist()
    red = images[:, 0, 0, 0]  # hwc uint8: the red channel
    assert [round(float(v)) for v in red] == rows.tolist()


def test_torch_dataset_passes_rows(torch: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.torch import TorchDataset

    loader = Loader(make_identity(tmp_path, 9), batch_size=4, size=SIDE, dtype="uint8",
                    with_index=True)  # fmt: skip
    seen = []
    for images, labels, rows in TorchDataset(loader):
        assert rows.dtype == torch.int64
        check_identity_rows(images.numpy(), labels.numpy(), rows.numpy())
        seen += rows.tolist()
    assert sorted(seen) == list(range(9))


def test_keras_dataset_passes_rows(keras: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.keras import KerasDataset

    loader = Loader(make_identity(tmp_path, 9), batch_size=4, size=SIDE, dtype="uint8",
                    with_index=True)  # fmt: skip
    with KerasDataset(loader) as dataset:
        batches = [dataset[k] for k in range(len(dataset))]
    for images, labels, rows in batches:
        check_identity_rows(images, labels, rows)
    assert sorted(r for _, _, rows in batches for r in rows.tolist()) == list(range(9))


def test_tf_dataset_passes_rows(tf: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.tf import output_signature, to_tf_dataset

    loader = Loader(make_identity(tmp_path, 9), batch_size=4, size=SIDE, dtype="uint8",
                    with_index=True)  # fmt: skip
    spec = output_signature(loader)
    assert len(spec) == 3 and spec[2].dtype == tf.int64
    seen = []
    for images, labels, rows in to_tf_dataset(loader):
        check_identity_rows(images.numpy(), labels.numpy(), rows.numpy())
        seen += rows.numpy().tolist()
    assert sorted(seen) == list(range(9))


def test_tf_signature_of_multi_hot_labels(tf: Any, tmp_path: Path) -> None:
    from imgbatch.integrations.tf import output_signature

    write(tmp_path / "a.png", encode(solid(4, 4, (1, 2, 3))))
    (tmp_path / "tags.csv").write_text("path,tags\na.png,cat|dog\na.png,owl\n")
    loader = Loader(tmp_path / "tags.csv", batch_size=2, size=4, label_sep="|")
    _, labels = output_signature(loader)
    assert labels.shape.as_list() == [None, 3] and labels.dtype == tf.float32
