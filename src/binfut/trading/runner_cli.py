"""The ``binfut paper`` and ``binfut live`` commands: a strategy on live market data, simulated or for real.

``paper_cmd`` and ``live_cmd`` are plain Typer commands the main CLI mounts (``app.command("paper")(paper_cmd)``,
``app.command("live")(live_cmd)``); ``runner_app`` wraps both for ``python -m binfut.trading.runner_cli``.
One config file (JSON or TOML, :func:`~binfut.trading.cli.load_config_file`) serves ``backtest``,
``paper`` and ``live``: ``[strategy]``, ``[risk]`` (:class:`~binfut.trading.risk.RiskConfig`) and each
command's table, ``[paper]`` (:class:`~binfut.trading.paper.PaperConfig`) or ``[live]``
(:class:`~binfut.trading.live.LiveConfig`); the other commands' tables are ignored.  ``--env`` / ``--url``
are the command's own, else ``binfut --env / --url``, else the offline local exchange; the target is
named on stderr.  Live credentials come from ``BINFUT_API_KEY`` / ``BINFUT_API_SECRET`` (or
``BINFUT_API_KEY_FILE``) like every client.  Mainnet needs ``--i-understand-this-is-real-money`` and is
refused before any connection otherwise.  Ctrl-C ends a run gracefully (wind-down included); any
failure is one line on stderr that says what failed (``cannot reach ... at URL: ...``), exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import typer

from binfut._cli import announce, describe_target, global_option, resolve_target, run_guarded
from binfut._format import amount
from binfut.errors import BinfutError, ConnectTimeout
from binfut.trading.cli import config_table, load_config_file, strategy_from_config

__all__ = ["live_cmd", "load_runner_config", "main", "paper_cmd", "runner_app"]

runner_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Paper and live trading.")


@runner_app.callback()
def _root() -> None:
    """Paper and live trading."""


def load_runner_config(path: Path | None) -> dict[str, Any]:
    """The tables of the config file ``backtest``, ``paper`` and ``live`` share (``{}`` without one);
    the same as :func:`binfut.trading.cli.load_config_file`.

    Raises
    ------
    ValueError
        Not TOML / JSON, or a table other than strategy, risk, backtest, paper or live.
    """
    return load_config_file(path)


def _specs(symbol: str, env: str, url: str | None) -> dict[str, Any]:
    """The engine's spec of ``symbol``, or one built from the environment's exchangeInfo."""
    from binfut.matching import default_specs

    specs = default_specs()
    if symbol in specs:
        return {symbol: specs[symbol]}
    return {symbol: _spec_from_venue(symbol, env, url)}


def _spec_from_venue(symbol: str, env: str, url: str | None) -> Any:
    from binfut.client import Client
    from binfut.emulator.replay import spec_from_exchange_info

    with Client(env=env, base_url=url) as client:
        info = client.exchange_info()
    for row in info.symbols:
        if row.symbol == symbol:
            spec = spec_from_exchange_info(msgspec.to_builtins(row))
            if spec is not None:
                return spec
    raise ValueError(f"{symbol} is not listed by the {env} exchange")


def _summary_table(summary: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"{summary.mode}: {summary.strategy} {', '.join(summary.symbols)} {summary.interval}")
    table.add_column("")
    table.add_column("value", justify="right")
    positions = ", ".join(f"{k} {v}" for k, v in summary.positions.items()) or "flat"
    rows = [
        ("bars", summary.bars_text()), ("orders", str(len(summary.orders))), ("fills", str(len(summary.fills))),
        ("rejections", str(len(summary.rejections))), ("positions", positions), ("open orders", str(summary.open_orders)),
        ("wallet", amount(summary.final_wallet)), ("equity", amount(summary.final_equity)),
        ("realized PnL", amount(summary.realized_pnl)), ("fees", amount(summary.fees)),
        ("funding", amount(summary.funding)), ("stopped", summary.stop_reason or "-"),
        ("kill switch", summary.kill_reason or "-"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


async def _drive(runner: Any, duration: float | None, dashboard: bool, status_every: float) -> Any:
    """Run under the dashboard or with a status line every ``status_every`` s; Ctrl-C stops gracefully."""
    from binfut.trading.dashboard import run_live_with_dashboard, status_line

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        if dashboard:
            return await run_live_with_dashboard(runner, duration_s=duration if duration is not None else 10**9, stop=stop)
        task = asyncio.ensure_future(runner.run(duration, stop=stop))
        while not task.done():
            await asyncio.wait({task}, timeout=status_every)
            if not task.done():
                typer.echo(status_line(runner.status()))
        return task.result()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)


def _strategy(name: str, tables: dict[str, Any], symbol: str, interval: str) -> Any:
    strategy = strategy_from_config(name, tables, symbol)
    strategy.interval = interval
    return strategy


def _never_opened(exc: TimeoutError, streams: str, seconds: float) -> NoReturn:
    """Re-raise a runner's bare ``TimeoutError`` (its streams never opened) as a ConnectTimeout that says so."""
    if isinstance(exc, BinfutError) or str(exc):
        raise exc
    raise ConnectTimeout(f"the streams ({streams}) did not open within {seconds:g} s") from exc


def _finish(summary: Any) -> None:
    from rich.console import Console

    Console().print(_summary_table(summary))


_STRATEGY = typer.Option("ma_cross", "--strategy", help="ma_cross, ml or package.module:Class")
_CONFIG = typer.Option(
    None, "--config", help="JSON or TOML file with [strategy], [paper], [live], [risk] ([backtest] is ignored)"
)
_SYMBOL = typer.Option("BTCUSDT", "--symbol")
_INTERVAL = typer.Option("1m", "--interval")
_ENV = typer.Option(
    None, "--env", help="local, testnet, demo or mainnet (default: binfut --env, else local: the offline local exchange)"
)
_URL = typer.Option(
    None, "--url", help="REST base URL, e.g. the local exchange's (default: binfut --url, else http://127.0.0.1:8765)"
)
_DURATION = typer.Option(None, "--duration", help="stop after this many seconds (default: until Ctrl-C)")
_DASHBOARD = typer.Option(None, "--dashboard/--no-dashboard", help="live panel (default: when stdout is a terminal)")
_EVERY = typer.Option(5.0, "--status-every", help="seconds between status lines without the dashboard")
_WARMUP = typer.Option(
    None, "--warmup", min=0, help="closed bars replayed from history before going live (default: what the strategy needs; 0: cold)"
)
_DEBUG = typer.Option(False, "--debug", help="show tracebacks and log warnings (also: binfut --debug)")


def _dashboard(flag: bool | None) -> bool:
    return sys.stdout.isatty() if flag is None else flag


def paper_cmd(
    ctx: typer.Context, strategy: str = _STRATEGY, config: Path = _CONFIG, symbol: str = _SYMBOL,
    interval: str = _INTERVAL, env: str | None = _ENV, url: str | None = _URL, duration: float = _DURATION,
    dashboard: bool = _DASHBOARD, status_every: float = _EVERY, warmup: int | None = _WARMUP, debug: bool = _DEBUG,
) -> None:  # fmt: skip
    """Paper-trade a strategy: live market data of --env, orders filled by the local matching engine.

    The market data comes from the offline local exchange unless --env / --url (here or before the
    subcommand) say otherwise.
    """
    env, url = resolve_target(ctx, env, url)
    debug = debug or bool(global_option(ctx, "debug"))
    target = describe_target(env, url)
    logging.basicConfig(level=logging.WARNING if debug else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    def go() -> None:
        from binfut.client import Client
        from binfut.config import urls_for
        from binfut.trading.paper import PaperConfig, PaperRunner
        from binfut.trading.risk import RiskConfig

        tables = load_runner_config(config)
        cfg = config_table(tables, "paper", PaperConfig)
        if warmup is not None:
            cfg = msgspec.structs.replace(cfg, warmup_bars=warmup)
        risk = config_table(tables, "risk", RiskConfig) if "risk" in tables else None
        strat = _strategy(strategy, tables, symbol, interval)
        announce(env, f"paper: market data from {describe_target(env, url, streams=True)}, fills by the local engine")
        urls = urls_for(env, url)
        with Client(env=env, base_url=url) as client:
            client.ping()  # fail in a second, not after the streams' timeout, when nothing listens
        runner = PaperRunner(strat, config=cfg, risk=risk, urls=urls, specs=_specs(symbol, env, url), interval=interval)
        try:
            summary = asyncio.run(_drive(runner, duration, _dashboard(dashboard), status_every))
        except TimeoutError as exc:
            _never_opened(exc, urls.ws_market, (PaperRunner.run.__kwdefaults__ or {}).get("ready_timeout_s", 30.0))
        _finish(summary)

    run_guarded(go, debug=debug, target=target)


def live_cmd(
    ctx: typer.Context, strategy: str = _STRATEGY, config: Path = _CONFIG, symbol: str = _SYMBOL,
    interval: str = _INTERVAL, env: str | None = _ENV, url: str | None = _URL, duration: float = _DURATION,
    dashboard: bool = _DASHBOARD, status_every: float = _EVERY, warmup: int | None = _WARMUP,
    ws_api: bool = typer.Option(False, "--ws-api", help="send orders over the WebSocket API"),
    real_money: bool = typer.Option(False, "--i-understand-this-is-real-money", help="required with --env mainnet"),
    debug: bool = _DEBUG,
) -> None:  # fmt: skip
    """Trade a strategy for real on --env (testnet, demo, the local exchange; mainnet with the confirmation flag).

    The offline local exchange unless --env / --url (here or before the subcommand) say otherwise.
    """
    env, url = resolve_target(ctx, env, url)
    debug = debug or bool(global_option(ctx, "debug"))
    target = describe_target(env, url)
    logging.basicConfig(level=logging.WARNING if debug else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    def go() -> None:
        from binfut.config import urls_for
        from binfut.trading.live import LiveConfig, check_mainnet
        from binfut.trading.risk import RiskConfig

        urls_for(env)  # an unknown name is a ConfigError that lists the choices
        check_mainnet(env, real_money)  # before anything connects
        tables = load_runner_config(config)
        cfg = config_table(tables, "live", LiveConfig)
        if ws_api:
            cfg = msgspec.structs.replace(cfg, ws_api=True)
        if warmup is not None:
            cfg = msgspec.structs.replace(cfg, warmup_bars=warmup)
        risk = config_table(tables, "risk", RiskConfig) if "risk" in tables else None
        strat = _strategy(strategy, tables, symbol, interval)
        announce(env, f"live: trading on {target}")
        try:
            summary = asyncio.run(
                _live(strat, cfg, risk, env, url, real_money, duration, _dashboard(dashboard), status_every)
            )
        except TimeoutError as exc:
            _never_opened(exc, "user data and market", cfg.start_timeout_s)
        _finish(summary)

    run_guarded(go, debug=debug, target=target)


async def _live(strategy: Any, cfg: Any, risk: Any, env: str, url: str | None, confirm: bool, duration: float | None,
                dashboard: bool, status_every: float) -> Any:
    from binfut.client import AsyncClient
    from binfut.errors import ConfigError
    from binfut.trading.live import LiveRunner

    async with AsyncClient(env=env, base_url=url) as client:
        if client.credentials is None:
            raise ConfigError("live trading needs credentials: set BINFUT_API_KEY and BINFUT_API_SECRET")
        runner = LiveRunner(strategy, client, config=cfg, risk=risk, confirm_mainnet=confirm, interval=strategy.interval)
        return await _drive(runner, duration, dashboard, status_every)


runner_app.command("paper")(paper_cmd)
runner_app.command("live")(live_cmd)


def main(argv: Sequence[str] | None = None) -> None:
    """Standalone entry point: ``python -m binfut.trading.runner_cli paper|live ...``."""
    runner_app(args=list(argv) if argv is not None else sys.argv[1:], prog_name="binfut")


if __name__ == "__main__":  # pragma: no cover
    main()
