"""What a file that fails to load does: raise, or be skipped with a warning and a record."""

from __future__ import annotations

import warnings

from ..errors import ImageReadError, ImgbatchError, ImgbatchWarning
from ..order import EpochCursor

__all__ = ["ErrorLog"]


class ErrorLog:
    """What a failed file does: raise, or (``"skip"``) a warning, once per file, and a record."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        #: The :class:`ImageReadError` of each skipped file, once each.
        self.errors: list[ImageReadError] = []
        self.epoch_failures = 0  # files skipped in the epoch being consumed
        self._skipped: set[int] = set()

    def record(self, index: int, error: ImageReadError) -> None:
        """Raise ``error``, or note that row ``index`` was skipped."""
        if self.policy == "raise":
            raise error
        self.epoch_failures += 1
        if index not in self._skipped:
            self._skipped.add(index)
            self.errors.append(error)
            warnings.warn(f"skipped {error}", ImgbatchWarning, stacklevel=4)

    def end_epoch(
        self, cursor: EpochCursor, served: int, *, batch_size: int, drop_last: bool
    ) -> None:
        """A summary warning for an epoch with skipped files; an error when none loaded."""
        failed, self.epoch_failures = self.epoch_failures, 0
        if not failed:
            return
        total = len(cursor.order)
        if served:
            msg = (
                f"epoch {cursor.epoch}: skipped {failed} of {total} files; "
                f"loader.errors lists every file skipped so far ({len(self.errors)})"
            )
            warnings.warn(msg, ImgbatchWarning, stacklevel=3)
            return
        if failed < total and drop_last:
            what = (
                f"epoch {cursor.epoch} yielded no batch: {failed} of {total} files failed "
                f"and the others do not fill one batch of {batch_size} (drop_last=True)"
            )
        else:
            what = f"no image of epoch {cursor.epoch} could be loaded: {failed} of {total} "
            what += "files failed"
        msg = f"{what} (first: {self.errors[0]}); loader.errors lists them"
        raise ImgbatchError(msg)
