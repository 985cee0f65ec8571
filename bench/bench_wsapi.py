"""WebSocket API vs REST: ``order.place`` round trips per second and client CPU µs per call.

The local exchange runs in a child process (its CPU never shows in this process's
``time.process_time()``), with order and weight limits raised so no client is throttled. Every order
is a LIMIT IOC far from the (empty) book, so it expires at once and the book stays empty.

Cells: WsApiClient with a per-request HMAC signature, WsApiClient after an Ed25519 ``session.logon``
(unsigned requests), and the REST AsyncClient (HMAC), each sequential (one in flight) and with 50
in flight. Run: ``python bench/bench_wsapi.py [--seconds 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Result, ameasure, format_table, machine_note  # noqa: E402

HMAC_KEY, HMAC_SECRET = "benchWsHmacKey", "benchWsHmacSecret"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "49000", "time_in_force": "IOC"}


def _serve(queue: Any, ed_key: str, ed_public: str) -> None:
    from binfut.emulator import EmulatorConfig, build_exchange, start_emulator

    async def main() -> None:
        config = EmulatorConfig(
            simulate=False,
            symbols=("BTCUSDT",),
            api_keys={HMAC_KEY: HMAC_SECRET, ed_key: ed_public},
            weight_limit_1m=10**9,
            order_limit_10s=10**9,
            order_limit_1m=10**9,
        )
        async with start_emulator(exchange=build_exchange(config)) as emu:
            queue.put((emu.rest_url, emu.ws_url))
            await asyncio.Event().wait()

    asyncio.run(main())


async def _bench(rest_url: str, ws_url: str, ed: Any, seconds: float) -> list[Result]:
    from binfut.client import AsyncClient
    from binfut.config import ClientConfig
    from binfut.credentials import Credentials
    from binfut.stream.wsapi import WsApiClient

    results: list[Result] = []
    api_url = ws_url + "/ws-fapi/v1"
    async with (
        WsApiClient(api_url, credentials=Credentials(HMAC_KEY, HMAC_SECRET)) as hmac_api,
        WsApiClient(api_url, credentials=Credentials(ed.api_key, ed.client_secret)) as ed_api,
        AsyncClient(HMAC_KEY, HMAC_SECRET, env="local", base_url=rest_url, config=ClientConfig(validate_filters=False)) as rest,
    ):
        await ed_api.session_logon()
        # REST adopts the exchange's (raised) limits from exchangeInfo; WS from each reply's rateLimits.
        await rest.load_filters()
        cells = [
            ("WS API order.place, HMAC per request", lambda: hmac_api.order_place(**ORDER)),
            ("WS API order.place, Ed25519 session", lambda: ed_api.order_place(**ORDER)),
            ("REST new_order, HMAC", lambda: rest.new_order(**ORDER)),
        ]
        for inflight in (1, 50):
            for name, fn in cells:
                results.append(await ameasure(f"{name} ({inflight} in flight)", fn, inflight=inflight, seconds=seconds))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=1.0, help="target seconds per cell")
    args = p.parse_args(argv)
    from binfut.emulator.config import generate_api_key

    ed = generate_api_key("ED25519", rng=random.Random(1))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(queue, ed.api_key, ed.server_material), daemon=True)
    proc.start()
    try:
        rest_url, ws_url = queue.get(timeout=60)
        results = asyncio.run(_bench(rest_url, ws_url, ed, args.seconds))
    finally:
        proc.terminate()
        proc.join(10)
    rows = [
        [r.name, f"{r.cpu_us:.0f}" if r.cpu_us else "-", f"{r.rate:.0f}" if r.rate else "-", r.error or ""]
        for r in results
    ]
    print(format_table("order.place: WebSocket API vs REST (client CPU per call)", ["cell", "CPU µs/call", "calls/s", "error"], rows, [False, True, True, False]))
    print(machine_note())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
