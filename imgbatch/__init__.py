"""imgbatch: stream image batches from a label file into a training loop.

Example:
    >>> import imgbatch
    >>> loader = imgbatch.Loader("labels.csv", batch_size=32, size=224)  # doctest: +SKIP
    >>> for images, labels in loader:  # doctest: +SKIP
    ...     train_step(images, labels)
"""

from __future__ import annotations

from .augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ColorJitter,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomVerticalFlip,
)
from .eager import batches, load_eager, load_image
from .errors import ImageReadError, ImgbatchError, ImgbatchWarning, ManifestError
from .loader import Loader
from .manifest import Manifest, read_folder, read_manifest

__version__ = "0.1.0"

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ColorJitter",
    "ImageReadError",
    "ImgbatchError",
    "ImgbatchWarning",
    "Loader",
    "Manifest",
    "ManifestError",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomVerticalFlip",
    "__version__",
    "batches",
    "load_eager",
    "load_image",
    "read_folder",
    "read_manifest",
]
