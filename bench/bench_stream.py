"""Stream throughput: messages received and decoded per second, binfut's StreamManager vs python-binance.

A WebSocket "blaster" runs in a separate process and replays real Binance USD-M frames from
``shared/realdata`` (cryptofeed's 2021 fstream capture: depth@100ms, bookTicker, aggTrade, kline; and
hftbacktest's 2024 BTCUSDT capture: depth@0ms, bookTicker, trade) as fast as the client's socket takes
them, pre-framed, so the client is the bottleneck. Each client connects, receives ``--frames`` frames and
must hand each one to user code *decoded*:

- binfut: ``StreamManager`` -> typed msgspec events (``StreamMessage``) -> ``async for`` consumer, and
  the same through an ``on_event`` callback;
- python-binance: ``BinanceSocketManager.futures_multiplex_socket`` (``websockets`` + ``orjson`` dicts)
  -> ``await socket.recv()``.

Run: ``.venv/bin/python bench/bench_stream.py [--frames 500000] [--binance-frames 200000] [--uvloop]``.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing as mp
import os
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REAL = Path(os.environ.get("BINFUT_REALDATA", "/work/shared/realdata"))
STREAMS = ["btcusdt@bookTicker", "btcusdt@depth@0ms", "btcusdt@trade", "sushiusdt@aggTrade"]


# ------------------------------------------------------------------------------------------------ frames


def load_frames() -> list[bytes]:
    """Every combined-stream frame of the two real captures, in recorded order."""
    frames: list[bytes] = []
    cryptofeed = REAL / "BINANCE_FUTURES.ws.1.0"
    for line in cryptofeed.read_text().splitlines()[1:]:
        if ": " in line:
            frames.append(line.split(": ", 1)[1].encode())
    with gzip.open(REAL / "btcusdt_20240718.gz", "rt") as fh:
        for line in fh:
            payload = line.split(" ", 1)[1].strip()
            if payload.startswith('{"stream"'):
                frames.append(payload.encode())
    return frames


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server text frame."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


# ------------------------------------------------------------------------------------------------ the blaster


def blaster_main(port_out: Any, ready: Any) -> None:
    """Child process: an aiohttp WebSocket server that sends ``n`` replayed frames per connection."""
    from aiohttp import web

    frames = [ws_frame(f) for f in load_frames()]
    chunk_frames = 256
    chunks = [b"".join(frames[i : i + chunk_frames]) for i in range(0, len(frames) - chunk_frames, chunk_frames)]
    state = {"n": 100_000}

    async def configure(request: web.Request) -> web.Response:
        state["n"] = int(request.query["n"])
        return web.Response(text="ok")

    async def stream(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, compress=False)
        await ws.prepare(request)
        transport, protocol = request.transport, request.protocol
        assert transport is not None
        sent, i, total = 0, 0, state["n"]
        while sent < total:
            take = min(chunk_frames, total - sent)
            data = chunks[i % len(chunks)] if take == chunk_frames else b"".join(frames[:take])
            transport.write(data)
            sent += take
            i += 1
            if getattr(protocol, "writing_paused", False):
                await protocol._drain_helper()  # the client's socket is full: wait for it
        async for _ in ws:  # until the client leaves
            pass
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/set", configure)
        for prefix in ("", "/public", "/market"):
            app.router.add_get(prefix + "/stream", stream)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.value = runner.addresses[0][1]
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def configure(port: int, n: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/set?n={n}") as resp:
        assert resp.status == 200


# ------------------------------------------------------------------------------------------------ clients


async def run_binfut_iterator(port: int, n: int) -> tuple[float, str]:
    from binfut.config import Urls
    from binfut.protocol.events import RawEvent
    from binfut.stream import StreamConfig, StreamManager

    config = StreamConfig(watchdog_s=None, max_age_s=None)
    async with StreamManager(Urls.local(f"http://127.0.0.1:{port}"), config=config, rng=random.Random(1)) as streams:
        events = streams.events(maxsize=65_536)
        await streams.subscribe(STREAMS[0])
        count, raw = 0, 0
        start = 0.0
        async for message in events:
            if count == 0:
                start = time.perf_counter()
            count += 1
            if type(message.data) is RawEvent:
                raw += 1
            if count == n:
                break
        elapsed = time.perf_counter() - start
    return elapsed, f"typed StreamMessage ({raw} raw)"


async def run_binfut_callback(port: int, n: int) -> tuple[float, str]:
    from binfut.config import Urls
    from binfut.stream import StreamConfig, StreamManager

    config = StreamConfig(watchdog_s=None, max_age_s=None)
    done = asyncio.Event()
    state = {"count": 0, "start": 0.0, "end": 0.0}

    def on_message(message: Any) -> None:
        if state["count"] == 0:
            state["start"] = time.perf_counter()
        state["count"] += 1
        if state["count"] == n:
            state["end"] = time.perf_counter()
            done.set()

    async with StreamManager(Urls.local(f"http://127.0.0.1:{port}"), config=config, rng=random.Random(1)) as streams:
        streams.on_event(on_message)
        await streams.subscribe(STREAMS[0])
        await asyncio.wait_for(done.wait(), 600)
    return state["end"] - state["start"], "typed StreamMessage"


async def run_python_binance(port: int, n: int) -> tuple[float, str]:
    from binance import AsyncClient, BinanceSocketManager

    client = AsyncClient()
    try:
        sockets = BinanceSocketManager(client, max_queue_size=10_000_000)
        sockets.FSTREAM_URL = f"ws://127.0.0.1:{port}/"
        socket = sockets.futures_multiplex_socket(STREAMS)
        count, start = 0, 0.0
        async with socket as stream:
            while count < n:
                await stream.recv()
                if count == 0:
                    start = time.perf_counter()
                count += 1
        elapsed = time.perf_counter() - start
    finally:
        await client.close_connection()
    return elapsed, "dict (orjson)"


def measure(
    name: str, runner: Callable[[int, int], Any], port: int, n: int, use_uvloop: bool
) -> tuple[str, int, float, str]:
    async def go() -> tuple[float, str]:
        await configure(port, n + 1_000)  # a little more than read, so nobody waits for the last frame
        return await runner(port, n)  # type: ignore[no-any-return]

    if use_uvloop:
        import uvloop

        elapsed, kind = uvloop.run(go())
    else:
        elapsed, kind = asyncio.run(go())
    return name, n, elapsed, kind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=500_000, help="frames per binfut run")
    parser.add_argument("--binance-frames", type=int, default=200_000, help="frames for python-binance")
    parser.add_argument("--skip-binance", action="store_true")
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client; the best is reported")
    args = parser.parse_args(argv)
    if not (REAL / "BINANCE_FUTURES.ws.1.0").is_file():
        print(f"real captures not found under {REAL}", file=sys.stderr)
        return 1

    ctx = mp.get_context("spawn")
    port, ready = ctx.Value("i", 0), ctx.Event()
    server = ctx.Process(target=blaster_main, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            print("blaster did not start", file=sys.stderr)
            return 1
        frames = load_frames()
        sizes = sorted(len(f) for f in frames)
        print(f"replaying {len(frames)} real frames (median {sizes[len(sizes) // 2]} B) from {REAL}")
        print(
            f"loop: {'uvloop' if args.uvloop else 'asyncio'}; python {sys.version.split()[0]}; best of {args.repeat}\n"
        )
        plan: list[tuple[str, Callable[[int, int], Any], int]] = [
            ("binfut StreamManager, async for", run_binfut_iterator, args.frames),
            ("binfut StreamManager, callback", run_binfut_callback, args.frames),
        ]
        if not args.skip_binance:
            plan.append(("python-binance BinanceSocketManager", run_python_binance, args.binance_frames))
        rows = []
        for name, runner, n in plan:
            runs = [measure(name, runner, port.value, n, args.uvloop) for _ in range(args.repeat)]
            rows.append(min(runs, key=lambda r: r[2]))
        width = max(len(r[0]) for r in rows)
        print(f"{'client':<{width}}  {'messages':>9}  {'seconds':>8}  {'msgs/s':>9}  delivered as")
        for name, n, elapsed, kind in rows:
            print(f"{name:<{width}}  {n:>9,}  {elapsed:>8.3f}  {n / elapsed:>9,.0f}  {kind}")
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
