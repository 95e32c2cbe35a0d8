"""Train a softmax-regression classifier in plain numpy on batches streamed by imgbatch.

A seeded, stratified 80/20 split of the manifest; a shuffled ``Loader`` for training and an
ordered one for validation; per-pixel standardisation from one pass over the training split; Adam
with a small L2 penalty. Prints one line per epoch, then the validation accuracy and chance level.

Usage:
    python scripts/make_sample_data.py      # once: writes sample_data/
    python scripts/train_numpy.py --epochs 8 --size 32 --lr 3e-4
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt

import imgbatch

Floats = npt.NDArray[np.float32]
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


def feature_stats(loader: imgbatch.Loader) -> tuple[Floats, Floats]:
    """Per-feature mean and standard deviation over one pass of ``loader``, batch by batch."""
    total: npt.NDArray[np.float64] | float = 0.0
    total_sq: npt.NDArray[np.float64] | float = 0.0
    count = 0
    for images, _ in loader:
        x = images.reshape(len(images), -1).astype(np.float64)
        total, total_sq, count = total + x.sum(0), total_sq + (x * x).sum(0), count + len(x)
    if count == 0:
        msg = "the training split is empty"
        raise ValueError(msg)
    mean = np.asarray(total) / count
    std = np.sqrt(np.maximum(np.asarray(total_sq) / count - mean**2, 0.0)) + 1e-3
    return mean.astype(np.float32), std.astype(np.float32)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line: where the data is and the training's settings."""
    parser = argparse.ArgumentParser(description="Softmax regression on imgbatch batches.")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="manifest file")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the weights")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, print one line per epoch and the final validation accuracy."""
    args = arguments(argv)
    m = imgbatch.read_manifest(args.labels)
    if m.classes is None:
        msg = f"{args.labels} has numeric labels; this demo needs class names"
        raise SystemExit(msg)
    print(f"classes: {m.classes}")
    train_idx, val_idx = split(np.asarray(m.labels), val_fraction=0.2, seed=args.seed)
    print(f"{len(train_idx)} train / {len(val_idx)} validation images at {args.size}px")
    loader = functools.partial(imgbatch.Loader, batch_size=args.batch_size, size=args.size)
    train = loader(m.subset(train_idx), shuffle=True, seed=args.seed)
    val = loader(m.subset(val_idx))

    mean, std = feature_stats(train)
    n_classes = len(m.classes)
    rng = np.random.default_rng(args.seed)
    w = (rng.standard_normal((mean.size, n_classes)) * 0.01).astype(np.float32)
    b = np.zeros(n_classes, np.float32)
    params = [w, b]  # updated in place
    moment1 = [np.zeros_like(p) for p in params]
    moment2 = [np.zeros_like(p) for p in params]
    beta1, beta2, step = 0.9, 0.999, 0

    def features(images: Floats) -> Floats:
        x: Floats = (images.reshape(len(images), -1) - mean) / std
        return x

    def accuracy(loader: imgbatch.Loader) -> float:
        hits = seen = 0
        for images, labels in loader:
            hits += int(((features(images) @ w + b).argmax(1) == labels).sum())
            seen += len(labels)
        return hits / max(seen, 1)

    val_acc = 0.0
    for epoch in range(1, args.epochs + 1):
        loss_sum = hits = seen = 0.0
        for images, labels in train:
            x = features(images)
            z = x @ w + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            rows = np.arange(len(labels))
            loss_sum += float(-np.log(p[rows, labels] + 1e-12).sum())
            hits += float((p.argmax(1) == labels).sum())
            seen += len(labels)
            p[rows, labels] -= 1.0  # now d(summed cross-entropy)/dz
            grads = [x.T @ p / len(labels) + args.l2 * w, p.mean(0)]
            step += 1
            for i, g in enumerate(grads):
                moment1[i] = beta1 * moment1[i] + (1 - beta1) * g
                moment2[i] = beta2 * moment2[i] + (1 - beta2) * g * g
                m_hat = moment1[i] / (1 - beta1**step)
                v_hat = moment2[i] / (1 - beta2**step)
                params[i] -= (args.lr * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        val_acc = accuracy(val)
        print(
            f"epoch {epoch:2d}  train loss {loss_sum / seen:.4f}  "
            f"train acc {hits / seen:.3f}  val acc {val_acc:.3f}"
        )
    print(f"final validation accuracy {val_acc:.3f} (chance {1 / n_classes:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
