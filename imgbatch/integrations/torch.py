"""PyTorch adapter: a :class:`~imgbatch.Loader` as a ``torch.utils.data.IterableDataset``.

Importing this module imports torch; importing :mod:`imgbatch` never does.

Use the dataset with ``DataLoader(dataset, batch_size=None)`` and the default ``num_workers=0``.
The loader's batches are already batched (``batch_size=None`` turns off the DataLoader's own
batching) and already decoded in parallel by imgbatch's threads (cv2 releases the GIL). With
``num_workers=N`` each worker process would hold its own copy of the loader and run the whole
pipeline: every batch would arrive N times, N sets of decode threads would fight over the same
cores, and the copies' epoch counters would never advance in the main process, so every epoch
would repeat the first one's order. :class:`TorchDataset` refuses to run in a worker for that
reason.

Build the loader with ``layout="chw"`` for convolutions (``torch.nn.Conv2d`` expects
``(N, C, H, W)``); :func:`require_chw` checks it.

Example:
    >>> import imgbatch
    >>> from imgbatch.integrations.torch import TorchDataset
    >>> loader = imgbatch.Loader("labels.csv", batch_size=32, layout="chw")  # doctest: +SKIP
    >>> data = torch.utils.data.DataLoader(TorchDataset(loader), batch_size=None)  # doctest: +SKIP
    >>> for epoch in range(10):  # doctest: +SKIP
    ...     for images, labels in data:  # a new permutation of the whole dataset each epoch
    ...         loss = train_step(images.to(device), labels.to(device))
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .._util import Batch
from ..errors import ImgbatchWarning
from ..loader import Loader

__all__ = ["TorchDataset", "pinning_available", "require_chw", "to_tensors"]

TensorBatch = tuple[torch.Tensor, ...]


def to_tensors(batch: Batch) -> TensorBatch:
    """``(images, labels)`` numpy arrays as torch tensors that share their memory (no copy);
    ``(images, labels, rows)`` (``with_index=True``) likewise.

    A loader's batch belongs to the caller and is never written again, so sharing it is safe.
    A read-only array, or one with negative strides, is copied first (``torch.from_numpy``
    cannot share those).

    Example:
        >>> images, labels = to_tensors((np.zeros((2, 3, 4, 4), np.float32), np.arange(2)))
        >>> images.shape, labels.dtype
        (torch.Size([2, 3, 4, 4]), torch.int64)
    """
    return tuple(_from_numpy(array) for array in batch)


def _from_numpy(array: np.ndarray) -> torch.Tensor:
    if not array.flags.writeable or any(s < 0 for s in array.strides):
        array = array.copy()
    return torch.from_numpy(array)


def pinning_available() -> bool:
    """Whether page-locked (pinned) memory can be allocated: it needs an accelerator (CUDA...).

    On a CPU-only build, or a machine without a GPU, pinning is impossible (and useless: there is
    no host-to-device copy to speed up).
    """
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return bool(torch.cuda.is_available())


def require_chw(loader: Loader) -> Loader:
    """Return ``loader`` if it yields ``(B, C, H, W)`` images, as ``torch.nn.Conv2d`` expects.

    Raises:
        ValueError: the loader was built with ``layout="hwc"`` (the default).

    Example:
        >>> loader = require_chw(imgbatch.Loader("labels.csv", layout="chw"))  # doctest: +SKIP
    """
    layout = loader.layout
    if layout != "chw":
        msg = (
            f'torch convolutions expect (N, C, H, W) images; build the Loader with layout="chw", '
            f"not {layout!r}"
        )
        raise ValueError(msg)
    return loader


class TorchDataset(IterableDataset[TensorBatch]):  # type: ignore[misc, unused-ignore]
    """A loader as an ``IterableDataset`` of ``(images, labels)`` tensor batches
    (``(images, labels, rows)`` for a loader built with ``with_index=True``).

    Each iteration runs one epoch of the loader (a new permutation each time, when the loader
    shuffles) and yields its batches as tensors sharing memory with the loader's arrays. Use it
    with ``DataLoader(dataset, batch_size=None)`` and ``num_workers=0`` (see the module's
    documentation), or iterate it directly.

    Args:
        loader: the :class:`~imgbatch.Loader` to wrap; it keeps the epoch counter.
        pin_memory: copy each batch into page-locked memory, so that
            ``.to("cuda", non_blocking=True)`` can overlap the transfer with compute. Pinning
            needs an accelerator: without one it is turned off with an
            :class:`~imgbatch.ImgbatchWarning` (as ``DataLoader(pin_memory=True)`` does), and
            ``dataset.pin_memory`` is False.

    Example:
        >>> dataset = TorchDataset(imgbatch.Loader("labels.csv", layout="chw"))  # doctest: +SKIP
        >>> loader = torch.utils.data.DataLoader(dataset, batch_size=None)  # doctest: +SKIP
        >>> len(loader) == len(dataset)  # batches per epoch  # doctest: +SKIP
        True
    """

    def __init__(self, loader: Loader, *, pin_memory: bool = False) -> None:
        if not isinstance(loader, Loader):
            msg = f"loader must be an imgbatch.Loader, got {type(loader).__name__}"
            raise TypeError(msg)
        self.loader = loader
        self.pin_memory = bool(pin_memory)
        if self.pin_memory and not pinning_available():
            warnings.warn(
                "pin_memory=True needs an accelerator (CUDA) and none is available; "
                "batches are not pinned",
                ImgbatchWarning,
                stacklevel=2,
            )
            self.pin_memory = False

    def __len__(self) -> int:
        """Batches per epoch: ``len(loader)``."""
        return len(self.loader)

    def __repr__(self) -> str:
        return f"TorchDataset({self.loader!r}, pin_memory={self.pin_memory})"

    def __iter__(self) -> Iterator[TensorBatch]:
        """One epoch of tensor batches; stopping early stops and joins the loader's threads."""
        if get_worker_info() is not None:
            msg = (
                "TorchDataset must run in the main process: use DataLoader(dataset, "
                "batch_size=None, num_workers=0); imgbatch decodes in its own threads, and each "
                "DataLoader worker would run the whole loader and yield every batch again"
            )
            raise RuntimeError(msg)
        return self._epoch()

    def _epoch(self) -> Generator[TensorBatch, None, None]:
        batches = iter(self.loader)
        try:
            for batch in batches:
                tensors = to_tensors(batch)  # (images, labels), with_index: and rows
                if self.pin_memory:
                    tensors = tuple(t.pin_memory() for t in tensors)
                yield tensors
        finally:
            # The loader's generator joins its threads when closed; closing it here (when this
            # generator is closed or collected) does it now rather than whenever it is collected.
            if isinstance(batches, Generator):
                batches.close()
