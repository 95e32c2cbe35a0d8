"""Build the two benchmark datasets from the photographs shipped inside scikit-image's wheel.

The sources are the nine colour photos in ``skimage/data`` (astronaut, chelsea, coffee, rocket,
motorcycle_left, motorcycle_right, hubble_deep_field, retina, ihc), read from the installed
package's folder: nothing is downloaded. Each output file is a random crop of one of them, and its
class is the name of that photo:

- ``imagenet-like`` (5,000 files by default): a random 50-100% of each side at a random position,
  flipped left-right half of the time, resized so the long side is 400-640 px (``INTER_AREA`` when
  shrinking, ``INTER_CUBIC`` when enlarging), JPEG quality 75-95. About 45 KB and 510x400 px.
- ``camera-like`` (500 files by default): the same crops enlarged with ``INTER_CUBIC`` to a long
  side of 2,000-4,000 px, with Gaussian noise (sigma 3, per pixel and channel) so that they
  compress like camera JPEGs, quality 85-95. About 1-2 MB each.

Files go to ``OUT/<dataset>/<class>/<class>_<index>.jpg`` with ``OUT/<dataset>/labels.csv``
(header ``path,label``, paths relative to that folder). Every file is drawn from its own generator,
``numpy.random.default_rng((seed, dataset id, index))``, so the output does not depend on the
thread that wrote it: the same seed, sources and OpenCV build give the same bytes.
``OUT/<dataset>/params.json`` records what a dataset was built from; a dataset whose stamp matches
the requested parameters is left as it is (``--force`` rebuilds it).

Usage:
    python scripts/make_bench_data.py                          # both, into <repo>/bench_data/
    python scripts/make_bench_data.py --only imagenet-like --count 1000
    python scripts/make_bench_data.py --out /tmp/bench --seed 1 --force
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = np.ndarray  # uint8 BGR, as cv2 returns it (cv2 types its arrays loosely)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bench_data"
SEED = 20240611
# Bump when the recipe's code changes in a way that changes the output bytes.
RECIPE_VERSION = 1
SOURCES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)
STAMP = "params.json"
LABELS = "labels.csv"


@dataclass(frozen=True)
class Recipe:
    """How one dataset's files are drawn (every range is inclusive)."""

    name: str
    id: int  # part of each file's seed: datasets differ even at the same index
    count: int
    long_side: tuple[int, int]
    quality: tuple[int, int]
    crop: tuple[float, float] = (0.5, 1.0)  # fraction of each side of the source kept
    noise_sigma: float = 0.0


RECIPES = {
    "imagenet-like": Recipe("imagenet-like", 1, 5000, long_side=(400, 640), quality=(75, 95)),
    "camera-like": Recipe(
        "camera-like", 2, 500, long_side=(2000, 4000), quality=(85, 95), noise_sigma=3.0
    ),
}


@dataclass(frozen=True)
class Written:
    """One written file: its path relative to the dataset folder, class, size in px and bytes."""

    path: str
    label: str
    width: int
    height: int
    nbytes: int


def source_folder() -> Path:
    """Return scikit-image's ``data`` folder, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        msg = "scikit-image is not installed (its wheel ships the photos): pip install scikit-image"
        raise SystemExit(msg)
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [name for name in SOURCES if not (folder / name).is_file()]
    if missing:
        msg = f"scikit-image's data folder {folder} lacks {', '.join(missing)}"
        raise SystemExit(msg)
    return folder


def load_sources(folder: Path) -> tuple[dict[str, Image], dict[str, str]]:
    """Return the source photos (BGR, by class name) and the sha256 of each file."""
    photos: dict[str, Image] = {}
    digests: dict[str, str] = {}
    for name in SOURCES:
        data = (folder / name).read_bytes()
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            msg = f"cannot decode the source photo {folder / name}"
            raise SystemExit(msg)
        cls = name.rsplit(".", 1)[0]
        photos[cls] = img
        digests[cls] = hashlib.sha256(data).hexdigest()
    return photos, digests


def _noise_table(sigma: float) -> npt.NDArray[np.int16]:
    """Return a (1, 256) lookup from a uniform byte to a rounded N(0, sigma) sample.

    Mapping random bytes through the inverse normal CDF is ~10x faster than
    ``Generator.normal`` on a 12-megapixel image and just as deterministic.
    """
    normal = NormalDist(0.0, sigma)
    table = [round(normal.inv_cdf((k + 0.5) / 256)) for k in range(256)]
    return np.asarray(table, np.int16).reshape(1, 256)


def draw(
    recipe: Recipe, photos: dict[str, Image], classes: Sequence[str], seed: int, index: int
) -> tuple[str, Image, int]:
    """Return (class, image, JPEG quality) of file ``index`` of ``recipe``."""
    rng = np.random.default_rng((seed, recipe.id, index))
    cls = classes[index % len(classes)]  # round-robin: any prefix of the files is balanced
    src = photos[cls]
    h, w = src.shape[:2]
    lo, hi = recipe.crop
    ch = max(1, round(h * rng.uniform(lo, hi)))
    cw = max(1, round(w * rng.uniform(lo, hi)))
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    img: Image = src[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        img = cv2.flip(img, 1)
    long_side = int(rng.integers(recipe.long_side[0], recipe.long_side[1] + 1))
    scale = long_side / max(ch, cw)
    out_w, out_h = max(1, round(cw * scale)), max(1, round(ch * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    img = cv2.resize(img, (out_w, out_h), interpolation=interpolation)
    quality = int(rng.integers(recipe.quality[0], recipe.quality[1] + 1))
    if recipe.noise_sigma > 0:
        noise = cv2.LUT(
            rng.integers(0, 256, size=img.shape, dtype=np.uint8), _noise_table(recipe.noise_sigma)
        )
        img = cv2.add(img, noise, dtype=cv2.CV_8U)
    return cls, img, quality


def write_one(
    recipe: Recipe,
    photos: dict[str, Image],
    classes: Sequence[str],
    seed: int,
    index: int,
    folder: Path,
) -> Written:
    """Draw file ``index`` of ``recipe``, write it under ``folder`` and describe it."""
    cls, img, quality = draw(recipe, photos, classes, seed, index)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        msg = f"cv2.imencode failed on file {index} of {recipe.name}"
        raise RuntimeError(msg)
    rel = f"{cls}/{cls}_{index:05d}.jpg"
    (folder / rel).write_bytes(buf.tobytes())
    return Written(rel, cls, img.shape[1], img.shape[0], int(buf.size))


def _is_ours(folder: Path, classes: Sequence[str]) -> bool:
    """Whether ``folder`` holds nothing but what this script writes (so it may be deleted)."""
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name not in classes or any(
                not f.is_file() or f.suffix != ".jpg" for f in entry.iterdir()
            ):
                return False
        elif entry.name not in (LABELS, STAMP):
            return False
    return True


def summarise(rows: Sequence[Written], seconds: float) -> dict[str, Any]:
    """Counts and mean sizes of a written dataset (stored in its stamp, printed by ``report``)."""
    n = max(len(rows), 1)
    return {
        "files": len(rows),
        "classes": len({r.label for r in rows}),
        "mean_width": sum(r.width for r in rows) / n,
        "mean_height": sum(r.height for r in rows) / n,
        "mean_kb": sum(r.nbytes for r in rows) / n / 1e3,
        "total_mb": sum(r.nbytes for r in rows) / 1e6,
        "seconds": round(seconds, 2),
    }


def report(name: str, folder: Path, summary: dict[str, Any], *, built: bool) -> None:
    """Print one line about a dataset."""
    what = f"built in {summary['seconds']:.1f} s" if built else "up to date, kept"
    print(
        f"{name}: {summary['files']} files in {summary['classes']} classes, "
        f"mean {summary['mean_width']:.0f}x{summary['mean_height']:.0f} px, "
        f"{summary['mean_kb']:.1f} KB ({summary['total_mb']:.1f} MB in all) -> {folder} ({what})"
    )


def build(
    recipe: Recipe, out: Path, *, seed: int, sources: Path, force: bool, workers: int
) -> None:
    """Write ``recipe``'s dataset under ``out`` unless a matching one is already there."""
    folder = out / recipe.name
    photos, digests = load_sources(sources)
    classes = tuple(photos)
    # Through JSON and back, so that it compares equal to the stamp read from disk.
    params = json.loads(
        json.dumps(
            {
                "recipe": asdict(recipe),
                "recipe_version": RECIPE_VERSION,
                "seed": seed,
                "sources": digests,
            }
        )
    )
    stamp_path = folder / STAMP
    if not force and stamp_path.is_file():
        try:
            stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stamp = {}
        if stamp.get("params") == params and (folder / LABELS).is_file():
            report(recipe.name, folder, stamp["summary"], built=False)
            return
    if folder.exists():
        if not folder.is_dir() or not _is_ours(folder, classes):
            msg = (
                f"{folder} holds files this script did not write: move them or choose another --out"
            )
            raise SystemExit(msg)
        shutil.rmtree(folder)
    for cls in classes:
        (folder / cls).mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # cv2 and numpy's generators release the GIL
        rows = list(
            pool.map(
                lambda i: write_one(recipe, photos, classes, seed, i, folder), range(recipe.count)
            )
        )
    with (folder / LABELS).open("w", encoding="utf-8", newline="") as f:
        f.write("path,label\n")
        f.writelines(f"{r.path},{r.label}\n" for r in rows)
    summary = summarise(rows, time.perf_counter() - start)
    stamp = {
        "params": params,
        "summary": summary,
        # For the record only: another OpenCV build may encode different bytes.
        "versions": {"numpy": np.__version__, "opencv": cv2.__version__},
    }
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")  # last: marks done
    report(recipe.name, folder, summary, built=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be a positive int, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and build the requested datasets."""
    parser = argparse.ArgumentParser(
        description="Build the imagenet-like and camera-like benchmark datasets from the "
        "photographs in scikit-image's wheel."
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output root (default: <repo>/bench_data)"
    )
    parser.add_argument("--only", choices=sorted(RECIPES), help="build only this dataset")
    parser.add_argument(
        "--count",
        type=_positive,
        help="files per dataset (default: 5000 imagenet-like, 500 camera-like)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    parser.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="writer threads (default: cores)",
    )
    args = parser.parse_args(argv)

    sources = source_folder()
    names = [args.only] if args.only else list(RECIPES)
    start = time.perf_counter()
    for name in names:
        recipe = RECIPES[name]
        if args.count is not None:
            recipe = replace(recipe, count=args.count)
        build(
            recipe,
            args.out,
            seed=args.seed,
            sources=sources,
            force=args.force,
            workers=args.workers,
        )
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
