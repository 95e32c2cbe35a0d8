"""URLs where a path may go (``s3://``, ``gs://``, ``http(s)://``, any fsspec protocol): telling
them from local paths, and resolving a manifest's relative paths against a URL folder.

Plain string work, no fsspec: the manifest and the read stage both use it, and neither imports an
optional library to find out that a path is local.
"""

from __future__ import annotations

import re

__all__ = ["is_url", "url_join", "url_parent"]

# A scheme of two or more characters, so that a Windows drive ("C://...") is never a URL.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+://")


def is_url(path: str) -> bool:
    """True for ``scheme://...`` (``s3://b/k.jpg``, ``https://host/a.jpg``), False for a path.

    Example:
        >>> is_url("s3://bucket/cat/1.jpg"), is_url("/data/cat/1.jpg"), is_url("C://x.jpg")
        (True, False, False)
    """
    return "://" in path and _URL.match(path) is not None


def url_join(root: str, path: str) -> str:
    """``path`` as written in a manifest, resolved against the URL folder ``root``.

    An absolute URL stays as it is; a path starting with ``/`` is taken from the root of
    ``root``'s host or bucket; any other path is relative to ``root``.

    Example:
        >>> url_join("s3://bucket/train", "cat/1.jpg")
        's3://bucket/train/cat/1.jpg'
        >>> url_join("https://host/data/", "/img/2.jpg")
        'https://host/img/2.jpg'
        >>> url_join("s3://bucket/train", "gs://other/3.jpg")
        'gs://other/3.jpg'
    """
    if is_url(path):
        return path
    if path.startswith("/"):
        scheme, rest = root.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}{path}"
    return f"{root.rstrip('/')}/{path}"


def url_parent(url: str) -> str:
    """The folder a URL is in (what a label file's relative paths are resolved against).

    Example:
        >>> url_parent("s3://bucket/train/labels.csv")
        's3://bucket/train'
        >>> url_parent("https://host/labels.csv")
        'https://host'
    """
    scheme, rest = url.split("://", 1)
    head, _, _ = rest.rpartition("/")
    return f"{scheme}://{head or rest}"
