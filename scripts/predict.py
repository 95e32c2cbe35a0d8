"""Batch inference over a path-only list: a prediction per file, written to a new predictions.csv.

The model is deliberately tiny and honest about it: a nearest-class-mean classifier on 16x16
thumbnails, "trained" by averaging the thumbnails of each class of a labelled file (one pass
over the file). What the script shows is the inference loop: a path-only list
(``label_column=None``: the labels are -1), ``with_index=True`` so that each batch carries the
manifest rows of its images, and ``loader.manifest.paths[rows]`` naming the files, whatever the
order, the skipped files or the batch size.

Usage:
    python scripts/predict.py                       # sample_data/: fit, then predict every file
    python scripts/predict.py --paths photos.txt --out predictions.csv

Without ``--paths`` the labelled file is read again as a path-only list (its label column
ignored), and the script also prints the accuracy against the labels it fitted on: training
accuracy, a sanity check of the loop, not a measure of the model.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

import imgbatch

ROOT = Path(__file__).resolve().parent.parent
SIDE = 16  # thumbnail side the model sees


def fit_class_means(labels: Path, *, batch_size: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The mean 16x16 thumbnail of each class of the labelled file: ``(classes, 16*16*3)``."""
    loader = imgbatch.Loader(labels, batch_size=batch_size, size=SIDE, shuffle=False)
    classes = loader.classes
    if classes is None or loader.manifest.multi_labels is not None:
        msg = f"{labels}: this demo fits one class name per row"
        raise SystemExit(msg)
    sums = np.zeros((len(classes), SIDE * SIDE * 3))
    counts = np.zeros(len(classes))
    for images, ids in loader:
        np.add.at(sums, ids, images.reshape(len(images), -1))
        np.add.at(counts, ids, 1)
    return sums / np.maximum(counts, 1)[:, None], classes


def predict(
    loader: imgbatch.Loader, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, predicted class ids and scores (softmax of negative squared distances)."""
    rows, ids, scores = [], [], []
    for images, _, batch_rows in loader:  # with_index=True: (images, labels -1, rows)
        flat = images.reshape(len(images), -1).astype(np.float64)
        distance = ((flat[:, None, :] - means[None]) ** 2).mean(axis=2)
        logits = -distance / max(float(distance.std()), 1e-9)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        rows.append(batch_rows)
        ids.append(probs.argmax(axis=1))
        scores.append(probs.max(axis=1))
    return np.concatenate(rows), np.concatenate(ids), np.concatenate(scores)


def write_predictions(
    out: Path, paths: list[str], names: list[str], scores: np.ndarray, *, force: bool
) -> None:
    """Write ``path,predicted,score`` rows to ``out``, a new file (unless ``force``)."""
    with open(out, "w" if force else "x", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "predicted", "score"])
        for path, name, score in zip(paths, names, scores.tolist(), strict=True):
            writer.writerow([path, name, f"{score:.4f}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=ROOT / "sample_data" / "labels.csv",
                        help="labelled file to fit the class means on")  # fmt: skip
    parser.add_argument("--paths", type=Path, default=None,
                        help="path-only list to predict (default: --labels)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("predictions.csv"))
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists; pass --force to overwrite it")
    started = time.perf_counter()
    means, classes = fit_class_means(args.labels, batch_size=args.batch_size)
    source = args.paths or args.labels
    loader = imgbatch.Loader(
        source, batch_size=args.batch_size, size=SIDE, shuffle=False, label_column=None,
        with_index=True, on_error="skip",
    )  # fmt: skip
    rows, ids, scores = predict(loader, means)
    paths = loader.manifest.paths[rows]
    names = [classes[i] for i in ids.tolist()]
    write_predictions(args.out, paths, names, scores, force=args.force)
    seconds = time.perf_counter() - started
    print(f"{args.out}: {len(rows)} predictions ({len(loader.errors)} files skipped), "
          f"{seconds:.2f} s")  # fmt: skip
    if args.paths is None:
        truth = imgbatch.read_manifest(args.labels).labels[rows]
        accuracy = float((truth == ids).mean())
        print(f"training accuracy of the class-mean model: {accuracy:.3f} "
              f"(chance {1 / len(classes):.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
