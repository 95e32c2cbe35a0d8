"""The read stage's one interface: :class:`Source`, where the bytes of manifest rows come from.

A loader holds one source; each iteration (and each random-access batch) opens a
:meth:`Source.session`, tells it the rows of every batch it submits (:meth:`Source.want`), and
its decode threads :meth:`Source.read` each row's bytes. Local files
(:class:`~imgbatch.read.files.FileSource`) read in the decode thread; object storage
(:class:`~imgbatch.read.remote.RemoteSource`) fetches ahead on threads of its own. Another kind of
source (an image column of a Parquet file, say) implements the same five methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["Source"]


class Source(Protocol):
    """Where the bytes of manifest rows come from.

    Attributes:
        ahead: how many slots ahead of the one being decoded each decode thread calls
            :meth:`hint` for (0: never).
        fetch_ahead: how many rows after the batches submitted a session is asked for
            (:meth:`want`) as well, once each: 0 (each batch's own rows only, when it is
            submitted) unless fetching takes long enough to need a head start.
    """

    ahead: int
    fetch_ahead: int

    def read(self, path: str, *, row: int, max_bytes: int | None) -> bytes:
        """The bytes of manifest row ``row`` (at ``path``), or an ImageReadError saying why not;
        more than ``max_bytes`` (None: no cap) is an error too."""
        ...

    def hint(self, path: str) -> None:
        """``path`` will be read soon: start getting it if that is cheap; never raises."""
        ...

    def session(self) -> Source:
        """The reads of one iteration (closed when it ends): may run ahead of the decode
        threads on threads of its own. A source without running state returns itself."""
        ...

    def want(self, paths: Sequence[str], rows: Sequence[int], *, max_bytes: int | None) -> None:
        """A batch's rows, in the order its slots will be read: a session may fetch them now."""
        ...

    def close(self) -> None:
        """Stop fetching, drop what was fetched and not read, and join every thread."""
        ...
