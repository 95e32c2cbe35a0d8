"""Real servers on 127.0.0.1 for the remote-storage tests and the benchmark: an HTTP server over
a folder (with injected 503s and per-request latency) and an S3-compatible ``moto_server``.

No client is ever mocked: imgbatch talks to these over real sockets, as it would to S3 or a web
server. Each server is started on a free port and stopped by its owner.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: Fake credentials for moto (it accepts any).
FAKE_CREDENTIALS = {"key": "testing", "secret": "testing"}
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FolderHandler(SimpleHTTPRequestHandler):
    """Serves a folder; fails the first requests of chosen paths with 503, and may sleep first."""

    server: FolderServer

    def do_GET(self) -> None:
        owner = self.server
        with owner.lock:
            owner.requests[self.path] += 1
            failing = owner.requests[self.path] <= owner.fail_first.get(self.path, 0)
        if owner.latency:
            time.sleep(owner.latency)
        if failing:
            self.send_error(503, "Service Unavailable (injected)")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the request counts instead."""


class FolderServer(ThreadingHTTPServer):
    """An HTTP server over ``folder`` on 127.0.0.1, in a thread of its own."""

    daemon_threads = True

    def __init__(self, folder: str | os.PathLike[str], *, latency: float = 0.0) -> None:
        handler = partial(FolderHandler, directory=os.fspath(folder))
        super().__init__(("127.0.0.1", free_port()), handler)
        self.latency = latency
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # GETs per URL path
        self.fail_first: dict[str, int] = {}  # URL path -> 503s before it is served
        self.thread = threading.Thread(target=self.serve_forever, name="http-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FolderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


def moto_command(port: int) -> list[str]:
    """The command starting moto's S3-compatible server on 127.0.0.1:``port``."""
    beside = Path(sys.executable).with_name("moto_server")
    exe = str(beside) if beside.exists() else shutil.which("moto_server")
    base = [exe] if exe else [sys.executable, "-m", "moto.server"]
    return [*base, "-H", "127.0.0.1", "-p", str(port)]


@contextlib.contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run ``moto_server`` on a free port; yields its endpoint URL; stops it at the end."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, **FAKE_ENV}
    process = subprocess.Popen(
        moto_command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(endpoint, process, timeout)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"moto_server exited with {process.returncode}"
            raise RuntimeError(msg)
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1),
        ):
            return
        time.sleep(0.1)
    msg = f"moto_server did not answer at {endpoint} within {timeout} s"
    raise RuntimeError(msg)


def s3_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for s3fs against moto at ``endpoint``."""
    return {**FAKE_CREDENTIALS, "endpoint_url": endpoint}


def upload_folder(endpoint: str, folder: str | os.PathLike[str], bucket: str) -> None:
    """Create ``bucket`` on the server and put every file under ``folder`` in it (same keys)."""
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options(endpoint), skip_instance_cache=True)
    fs.mkdir(bucket)
    root = Path(folder)
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    fs.put(
        [str(p) for p in files],
        [f"{bucket}/{p.relative_to(root).as_posix()}" for p in files],
    )
