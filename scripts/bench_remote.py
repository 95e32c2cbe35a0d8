"""Throughput of imgbatch reading images over HTTP and S3 with per-request latency, against its
own local-disk throughput and against a naive remote loader.

Servers, all on 127.0.0.1, in one helper process (this script with ``--serve``) apart from the
loaders' processes: for each latency L (``--latencies``, ms) an aiohttp server over the image
folder, and an aiohttp proxy in front of one ``moto_server`` (S3), each sleeping L ms (without
blocking: many requests wait at once) before it answers. The images are uploaded to moto once.

Cases, each one epoch in a fresh process (this script with ``--run-case``):

- ``local``: ``imgbatch.Loader(workers=2)`` over the files on disk (page cache warm);
- ``imgbatch-http``, ``imgbatch-s3``: the same Loader over ``http://`` / ``s3://`` URLs
  (``io_workers``, ``io_buffer_bytes`` as given);
- ``naive-http``, ``naive-s3``: what a hand-written fsspec Dataset does in a DataLoader with 2
  workers: 2 threads, each taking one image at a time, ``fs.cat_file(url)`` (one GET) then
  ``cv2.imdecode``, RGB, ``cv2.resize`` (bilinear), float32 / 255; on ``--naive-limit`` images
  (its rate is steady; the full set would take minutes at 100 ms);
- ``fetch-s3``, ``fetch-http``: imgbatch's fetching alone (a Prefetch session over every URL, no
  decode): the most the server and client can serve here (moto is a Python server).

Each round runs ``local`` before and after each latency's cases; a case's ratio to local is its
rate over the mean of those two local runs (the machine's drift cancels); the table gives medians
over ``--rounds``. CPU ms/img: the case process's user + system CPU time per image, and the
server process's over the same run (on the same cores: a real store's is not yours). Peak RSS
is the case process's
``VmHWM`` (its ``ru_maxrss`` would include this script's own peak, inherited across exec).

Usage:
    python scripts/bench_remote.py --limit 1500
    python scripts/bench_remote.py --latencies 30 --rounds 1 --cases 'local,imgbatch-*'
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _bench
import cv2
import numpy as np

import imgbatch
from imgbatch.read import DEFAULT_IO_BUFFER_BYTES, DEFAULT_IO_WORKERS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import moto_server, s3_options, upload_folder  # noqa: E402

LABELS = ROOT / "bench_data" / "imagenet-like" / "labels.csv"
BUCKET = "bench"
CASES = ("imgbatch-http", "imgbatch-s3", "naive-http", "naive-s3", "fetch-http", "fetch-s3")


# -- the servers (one process, one event loop) ----------------------------------------------------


def http_app(folder: Path, latency: float) -> Any:
    """An aiohttp app serving ``folder`` (from memory once read), each answer ``latency`` s late.

    Answers from memory rather than ``web.FileResponse``, whose file opening runs on the
    server's few executor threads: at 30 ms that capped the server near 1,500 requests/s here.
    """
    from aiohttp import web

    cache: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        name = request.match_info["path"]
        data = cache.get(name)
        if data is None:
            path = (folder / name).resolve()
            if not path.is_relative_to(folder) or not path.is_file():
                raise web.HTTPNotFound
            data = cache[name] = path.read_bytes()
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{path:.+}", handle)
    return app


def proxy_app(upstream: str, latency: float) -> Any:
    """An aiohttp app forwarding every request to ``upstream``, ``latency`` s late."""
    import aiohttp
    from aiohttp import web

    hop = {"content-encoding", "transfer-encoding", "connection"}
    session: list[aiohttp.ClientSession] = []

    async def close(app: web.Application) -> None:
        for s in session:
            await s.close()

    async def handle(request: web.Request) -> web.Response:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)))
        await asyncio.sleep(latency)
        body = await request.read()
        async with session[0].request(
            request.method, upstream + request.path_qs, headers=request.headers, data=body,
            allow_redirects=False, auto_decompress=False,
        ) as r:  # fmt: skip
            data = await r.read()
            headers = {k: v for k, v in r.headers.items() if k.lower() not in hop}
            return web.Response(status=r.status, headers=headers, body=data)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    app.on_cleanup.append(close)
    return app


async def serve(folder: Path, moto: str, latencies: list[int]) -> None:
    """Start a file server and an S3 proxy per latency; print their URLs; run until stdin ends."""
    from aiohttp import web

    urls: dict[str, dict[str, str]] = {"http": {}, "s3": {}}
    runners = []
    for ms in latencies:
        for kind, app in (("http", http_app(folder, ms / 1e3)), ("s3", proxy_app(moto, ms / 1e3))):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            port = runner.addresses[0][1]
            urls[kind][str(ms)] = f"http://127.0.0.1:{port}"
            runners.append(runner)
    print(json.dumps(urls), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for runner in runners:
        await runner.cleanup()


# -- one case, in its own process ----------------------------------------------------------------


def manifest_at(labels: Path, limit: int, root: str | None) -> imgbatch.Manifest:
    """The first ``limit`` rows of ``labels``, their paths resolved against ``root``."""
    m = imgbatch.read_manifest(labels, root=root) if root else imgbatch.read_manifest(labels)
    return m.subset(np.arange(min(limit, len(m))))


def naive_epoch(
    m: imgbatch.Manifest, options: dict[str, Any], size: int, batch: int
) -> Iterator[Any]:
    """Two threads, each: one GET, then decode and resize, one image at a time."""
    import fsspec

    fs = fsspec.filesystem(m.paths[0].split("://")[0], **options)

    def load(url: str) -> np.ndarray:
        data = fs.cat_file(url)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            msg = f"cannot decode {url}"
            raise ValueError(msg)
        image = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (size, size))
        return image.astype(np.float32) / 255

    paths = list(m.paths)
    with ThreadPoolExecutor(2) as pool:
        for start in range(0, len(paths), batch):
            images = list(pool.map(load, paths[start : start + batch]))
            yield np.stack(images), m.labels[start : start + batch]


def fetch_epoch(m: imgbatch.Manifest, options: dict[str, Any], io_workers: int) -> Iterator[Any]:
    """imgbatch's fetching alone: every URL through one Prefetch session, no decode."""
    from imgbatch.read import RemoteSource

    reads = RemoteSource(options, io_workers=io_workers).session()
    try:
        paths = list(m.paths)
        reads.want(paths, range(len(paths)), max_bytes=None)
        for row, path in enumerate(paths):
            yield reads.read(path, row=row, max_bytes=None), m.labels[row : row + 1]
    finally:
        reads.close()


def run_case(case: str, args: argparse.Namespace, base: str | None) -> dict[str, Any]:
    """One epoch of ``case`` against ``base`` (a URL, None for local disk): its figures."""
    kind = case.rsplit("-", maxsplit=1)[-1]
    options = s3_options(base) if kind == "s3" and base else {}
    root = f"s3://{BUCKET}" if kind == "s3" else base
    limit = args.naive_limit if case.startswith("naive") else args.limit
    m = manifest_at(args.labels, limit, root)
    epoch: Callable[[], Iterator[Any]]
    if case.startswith("naive"):
        epoch = lambda: naive_epoch(m, options, args.size, args.batch_size)  # noqa: E731
    elif case.startswith("fetch"):
        epoch = lambda: fetch_epoch(m, options, args.io_workers)  # noqa: E731
    else:
        loader = imgbatch.Loader(
            m, batch_size=args.batch_size, size=args.size, shuffle=False, workers=args.workers,
            storage_options=options, io_workers=args.io_workers,
            io_buffer_bytes=args.io_buffer_mb * 2**20,
        )  # fmt: skip
        epoch = loader.__iter__
        if case == "local":
            _bench.warm_page_cache(m.paths)
    images, cpu, start = 0, cpu_seconds(), time.perf_counter()
    for _, y in epoch():
        images += len(y)
    seconds = time.perf_counter() - start
    cpu_ms = (cpu_seconds() - cpu) * 1e3 / images
    return {"case": case, "images": images, "seconds": seconds, "rate": images / seconds,
            "rss_mb": peak_rss_mb(), "cpu_ms_per_image": cpu_ms}  # fmt: skip


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (or of process ``pid``, from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM``, which starts afresh at ``exec`` (Linux's
    ``ru_maxrss`` keeps the forking parent's peak across it), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the whole benchmark -------------------------------------------------------------------------


def start_servers(args: argparse.Namespace, moto: str) -> tuple[subprocess.Popen[str], Any]:
    """The server process, and the URLs it printed."""
    command = [sys.executable, __file__, "--serve", "--moto", moto, "--labels", str(args.labels)]
    command += ["--latencies", ",".join(map(str, args.latencies))]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())


def one_run(case: str, args: argparse.Namespace, base: str | None) -> dict[str, Any] | None:
    """``case`` in a fresh process; its figures, or None if it failed (reason printed)."""
    command = [sys.executable, __file__, "--run-case", case, "--base", base or ""]
    command += forwarded(args)
    served = cpu_seconds(args.server_pid)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    served = cpu_seconds(args.server_pid) - served
    if done.returncode != 0:
        print(f"  {case} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_ms_per_image"] = served * 1e3 / result["images"]
    return result


def forwarded(args: argparse.Namespace) -> list[str]:
    """The options a case's process needs."""
    return [
        "--labels", str(args.labels), "--limit", str(args.limit), "--naive-limit",
        str(args.naive_limit), "--size", str(args.size), "--batch-size", str(args.batch_size),
        "--workers", str(args.workers), "--io-workers", str(args.io_workers),
        "--io-buffer-mb", str(args.io_buffer_mb),
    ]  # fmt: skip


def one_round(args: argparse.Namespace, urls: Any, results: dict[str, list[Any]]) -> None:
    """local, then each latency's cases, then local again, ...; ratios to the local runs around."""
    before = one_run("local", args, None)
    results.setdefault("local", []).append(before)
    for ms in args.latencies:
        runs = []
        for case in args.cases:
            base = urls[case.split("-")[-1]][str(ms)]
            runs.append((case, one_run(case, args, base)))
        after = one_run("local", args, None)
        results["local"].append(after)
        local = [r["rate"] for r in (before, after) if r]
        for case, run in runs:
            if run is not None and local:
                run["ratio_to_local"] = run["rate"] / statistics.mean(local)
            results.setdefault(f"{case} @{ms}ms", []).append(run)
            show(f"{case} @{ms}ms", run)
        before = after
    show("local", before)


def show(name: str, run: dict[str, Any] | None) -> None:
    if run is not None:
        ratio = f"  {run['ratio_to_local']:.2f}x local" if "ratio_to_local" in run else ""
        print(
            f"  {name:24} {run['rate']:8,.0f} images/s  {run['rss_mb']:6,.0f} MB{ratio}", flush=True
        )


def cpu_per_image(runs: list[Any]) -> float:
    """Median CPU ms per image of the case's process and of the servers, together."""
    good = [r for r in runs if r]
    return (
        float(
            statistics.median(
                r.get("cpu_ms_per_image", 0) + r.get("server_cpu_ms_per_image", 0) for r in good
            )
        )
        if good
        else 0.0
    )


def table(results: dict[str, list[Any]]) -> str:
    """The markdown table of medians.

    The last column bounds a case's ratio to local from the CPU it costs: the local loader
    keeps both cores busy, so a case that costs (its process + the servers) c ms of CPU per
    image where local costs c0 cannot pass c0 / c of the local rate on the same cores.
    """
    rows = []
    naive = {}
    local_cpu = cpu_per_image(results.get("local", []))
    for name, runs in results.items():
        good = [r for r in runs if r]
        if good:
            naive[name] = statistics.median(r["rate"] for r in good)
    for name, runs in results.items():
        good = [r for r in runs if r]
        if not good:
            rows.append([name, "failed", "", "", "", "", "", ""])
            continue
        rate = statistics.median(r["rate"] for r in good)
        ratios = [r["ratio_to_local"] for r in good if "ratio_to_local" in r]
        local = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        peer = name.replace("imgbatch-", "naive-")
        vs = f"{rate / naive[peer]:.1f}x" if name.startswith("imgbatch-") and peer in naive else "-"
        rss = f"{max(r['rss_mb'] for r in good):,.0f}"
        cpu = f"{statistics.median(r.get('cpu_ms_per_image', 0) for r in good):.2f}"
        server = f"{statistics.median(r.get('server_cpu_ms_per_image', 0) for r in good):.2f}"
        bound = "-"
        if name.startswith("imgbatch-") and local_cpu:
            bound = f"{local_cpu / cpu_per_image(runs):.2f}x"
        rows.append([name, f"{rate:,.0f}", local, vs, rss, cpu, server, bound])
    head = ["case", "images/s", "/ local", "/ naive", "peak RSS (MB)", "CPU ms/img", "server",
            "CPU bound / local"]  # fmt: skip
    return _bench.markdown_table(head, rows, align="lrrrrrrr")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--limit", type=int, default=1500)
    p.add_argument("--naive-limit", type=int, default=300)
    p.add_argument(
        "--latencies", type=lambda s: [int(x) for x in s.split(",")], default=[0, 10, 30, 100]
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cases", default="*", help="comma-separated patterns over " + ", ".join(CASES))
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--io-workers", type=int, default=DEFAULT_IO_WORKERS)
    p.add_argument("--io-buffer-mb", type=int, default=DEFAULT_IO_BUFFER_BYTES >> 20)
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--upload", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--moto", default="", help=argparse.SUPPRESS)
    p.add_argument("--run-case", default=None, help=argparse.SUPPRESS)
    p.add_argument("--base", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    patterns = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.cases = [c for c in CASES if any(fnmatch.fnmatch(c, pat) for pat in patterns)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.serve:
        asyncio.run(serve(args.labels.parent.resolve(), args.moto, args.latencies))
        return 0
    if args.upload:
        m = manifest_at(args.labels, max(args.limit, args.naive_limit), None)
        upload_set(m, args.labels.parent.resolve(), args.moto)
        return 0
    if args.run_case:
        print(json.dumps(run_case(args.run_case, args, args.base or None)))
        return 0
    info = _bench.machine_info()
    print(f"{_bench.describe_machine(info)}; load {os.getloadavg()[0]:.1f}", flush=True)
    with moto_server() as moto:
        # In a process of its own: this one starts no fsspec threads (and stays small).
        command = [sys.executable, __file__, "--upload", "--moto", moto, *forwarded(args)]
        subprocess.run(command, check=True)
        server, urls = start_servers(args, moto)
        args.server_pid = server.pid
        try:
            results: dict[str, list[Any]] = {}
            for k in range(args.rounds):
                print(f"round {k + 1}/{args.rounds}", flush=True)
                one_round(args, urls, results)
        finally:
            assert server.stdin is not None
            assert server.stdout is not None
            server.stdin.close()
            server.wait()
            server.stdout.close()
    print(table(results))
    if args.json_out:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        report = {"machine": info, "args": settings, "results": results}
        args.json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


def upload_set(m: imgbatch.Manifest, folder: Path, endpoint: str) -> None:
    """Put the manifest's files in the bucket, keys relative to ``folder``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # only the files of the set, as links
        for path in m.paths:
            rel = Path(path).relative_to(folder)
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, Path(tmp) / rel)
        started = time.perf_counter()
        upload_folder(endpoint, tmp, BUCKET)
        print(f"uploaded {len(m):,} files to moto in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
