"""Ways to run the local exchange: ``start_emulator``, ``EmulatorThread`` and the ``serve`` command."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from binfut.emulator import EmulatorConfig, EmulatorThread, start_emulator
from binfut.emulator.server import parse_serve_args
from integration.emulator.support import make_key


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], object]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read())


@pytest.mark.asyncio
async def test_start_emulator_picks_a_free_port_and_stops() -> None:
    cfg = EmulatorConfig(simulate=False, port=0)
    emu = await start_emulator(cfg)
    try:
        assert (
            emu.port > 0
            and emu.rest_url == f"http://127.0.0.1:{emu.port}"
            and emu.ws_url == f"ws://127.0.0.1:{emu.port}"
        )
        async with aiohttp.ClientSession() as http, http.get(emu.rest_url + "/fapi/v1/ping") as resp:
            assert resp.status == 200 and await resp.json() == {}
    finally:
        await emu.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(emu.rest_url + "/fapi/v1/ping") as resp:
            await resp.read()


def test_emulator_thread_serves_a_synchronous_client_on_a_scaled_clock() -> None:
    key = make_key("HMAC", 9)
    cfg = EmulatorConfig(api_keys={key.api_key: key.material}, speed=20.0, seed=1)
    with EmulatorThread(cfg) as emu:
        status, headers, body = get(emu.rest_url + "/fapi/v1/time")
        assert status == 200 and "x-mbx-used-weight-1m" in headers
        assert isinstance(body, dict) and abs(body["serverTime"] - emu.call(emu.exchange.clock.time_ms)) < 5_000
        query = f"timestamp={body['serverTime']}"
        sig = hmac.new(key.material.encode(), query.encode(), hashlib.sha256).hexdigest()
        status, _, balances = get(
            f"{emu.rest_url}/fapi/v3/balance?{query}&signature={sig}", {"X-MBX-APIKEY": key.api_key}
        )
        assert status == 200 and isinstance(balances, list) and Decimal(balances[0]["balance"]) == Decimal("100000")
        # the synthetic market runs by itself on the scaled clock
        for _ in range(100):
            if emu.call(lambda: emu.exchange.market.last_trade("BTCUSDT")) is not None:
                break
            time.sleep(0.05)
        assert emu.call(lambda: emu.exchange.market.last_trade("BTCUSDT")) is not None
    with pytest.raises(OSError):
        get(emu.rest_url + "/fapi/v1/ping")


def test_serve_arguments(tmp_path: Path) -> None:
    pem = make_key("ED25519", 4).material
    key_file = tmp_path / "ed.pem"
    key_file.write_text(pem)
    cfg = parse_serve_args(["--host", "127.0.0.1", "--port", "0", "--api-key", "K1", "--api-secret", "s1", "--api-key", "K2",
                            "--api-secret", str(key_file), "--balance", "2500", "--seed", "9", "--speed", "60",
                            "--faults", "f.yaml", "--symbols", "btcusdt,ethusdt"])  # fmt: skip
    assert cfg.port == 0 and cfg.api_keys == {"K1": "s1", "K2": pem}
    assert cfg.balance == Decimal("2500") and cfg.seed == 9 and cfg.speed == 60.0 and cfg.faults_file == "f.yaml"
    assert cfg.symbols == ("BTCUSDT", "ETHUSDT") and cfg.simulate


def test_serve_main_prints_its_urls_and_runs_until_stopped(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rules": [{"kind": "latency", "ms": 1, "endpoints": ["ping"]}]}))
    code = "import sys; from binfut.emulator import serve_main; sys.exit(serve_main(sys.argv[1:]))"
    args = ["--port", "0", "--api-key", "K1", "--api-secret", "s1", "--faults", str(faults), "--speed", "5"]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        assert proc.stdout is not None
        rest = proc.stdout.readline().split()
        ws = proc.stdout.readline().split()
        assert rest[0] == "REST" and rest[1].startswith("http://127.0.0.1:")
        assert ws[0] == "WebSocket" and ws[1] == "ws" + rest[1][4:]
        status, _, body = get(rest[1] + "/fapi/v1/ping")
        assert status == 200 and body == {}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err


@pytest.mark.asyncio
async def test_an_unexpected_error_answers_minus_1000_with_500_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    from binfut.clock import ManualClock
    from binfut.emulator import build_exchange

    ex = build_exchange(EmulatorConfig(simulate=False), clock=ManualClock())

    def broken(*_: object) -> object:
        raise RuntimeError("handler bug")

    ex.handlers["ping"] = broken  # the exchange's own handler table: a deliberately broken handler
    async with start_emulator(exchange=ex) as emu, aiohttp.ClientSession() as http:
        async with http.get(emu.rest_url + "/fapi/v1/ping") as resp:
            assert resp.status == 500
            assert await resp.json() == {
                "code": -1000,
                "msg": "An unknown error occurred while processing the request.",
            }
            assert "X-MBX-USED-WEIGHT-1M" in resp.headers
        async with http.get(emu.rest_url + "/fapi/v1/time") as resp:
            assert resp.status == 200  # the server keeps serving
    assert any("handler bug" in (r.exc_text or "") or r.exc_info for r in caplog.records if r.levelname == "ERROR")
