"""Train a tiny CNN with Keras 3 on batches streamed by imgbatch, through its PyDataset adapter.

Keras runs on the torch backend unless ``KERAS_BACKEND`` says otherwise (the adapter works on
any). A seeded, stratified 80/20 split of the manifest; a shuffled ``Loader`` for training and an
ordered one for validation, each wrapped in a ``KerasDataset``; ``model.fit`` needs no
``steps_per_epoch``, and each epoch is a new permutation. Prints one line per epoch, then the
validation accuracy and chance level.

Usage:
    pip install torch==2.13.0 keras          # the CPU build of torch; a bare "torch" pulls CUDA
    python scripts/train_keras.py --epochs 5 --size 32
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported

import argparse
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

import imgbatch
from imgbatch.integrations.keras import KerasDataset

Ints = npt.NDArray[np.int64]
DEFAULT_LABELS = Path(__file__).resolve().parent.parent / "sample_data" / "labels.csv"


def split(labels: Ints, *, val_fraction: float, seed: int) -> tuple[Ints, Ints]:
    """Return (train, validation) indices, stratified by class and reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    train: list[Ints] = []
    val: list[Ints] = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_val = max(1, round(len(members) * val_fraction))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def tiny_cnn(size: int, n_classes: int) -> Any:
    """Two conv blocks and a softmax head: enough for the sample scenes at 32 px."""
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, print one line per epoch and the final validation accuracy."""
    parser = argparse.ArgumentParser(description="A tiny CNN in Keras 3 on imgbatch batches.")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="manifest file")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    m = imgbatch.read_manifest(args.labels)
    if m.classes is None:
        msg = f"{args.labels} has numeric labels; this demo needs class names"
        raise SystemExit(msg)
    print(f"classes: {m.classes}  (keras {keras.__version__}, {keras.backend.backend()} backend)")
    train_idx, val_idx = split(np.asarray(m.labels), val_fraction=0.2, seed=args.seed)
    print(f"{len(train_idx)} train / {len(val_idx)} validation images at {args.size}px")

    def dataset(indices: Ints, *, shuffle: bool) -> KerasDataset:
        loader = imgbatch.Loader(
            m.subset(indices),
            batch_size=args.batch_size,
            size=args.size,
            shuffle=shuffle,
            seed=args.seed,
            mean=0.5,
            std=0.25,
        )
        return KerasDataset(loader)  # (N, H, W, C): Keras' default channels_last

    train = dataset(train_idx, shuffle=True)
    val = dataset(val_idx, shuffle=False)

    keras.utils.set_random_seed(args.seed)
    model = tiny_cnn(args.size, len(m.classes))
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = [time.perf_counter()]

    def report(epoch: int, logs: dict[str, Any]) -> None:
        print(
            f"epoch {epoch + 1:2d}  train loss {float(logs['loss']):.4f}  "
            f"train acc {float(logs['accuracy']):.3f}  val acc {float(logs['val_accuracy']):.3f}"
            f"  ({time.perf_counter() - started[0]:.1f} s)"
        )
        started[0] = time.perf_counter()

    # shuffle=False: the loader already draws a new global permutation each epoch; Keras' own
    # shuffle would only reorder the batches and turn off imgbatch's prefetching.
    history = model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)],
    )
    val_acc = float(history.history["val_accuracy"][-1])
    print(f"final validation accuracy {val_acc:.3f} (chance {1 / len(m.classes):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
