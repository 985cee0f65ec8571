"""The ``binfut backtest`` command: run a strategy over stored or fetched klines, write the report.

``backtest_cmd`` is a plain Typer command the main CLI mounts (``app.command("backtest")(backtest_cmd)``);
``backtest_app`` wraps it for ``python -m binfut.trading.cli``.  One config file (JSON or TOML) serves
``backtest``, ``paper`` and ``live`` (:func:`load_config_file`): ``[strategy]``, ``[risk]`` and each
command's own table (``[backtest]``, ``[paper]``, ``[live]``); a command ignores the other commands'
tables, and an unknown table or key is an error naming it.  Data comes from ``--data`` (a ``binfut.data``
store directory, or one CSV / Parquet klines file) or over REST from ``--env`` / ``--url`` (the command's
own, else ``binfut --env / --url``, else the offline local exchange, named on stderr).  Any failure is
one line on stderr that says what failed, with exit status 1.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec
import typer

from binfut._cli import announce, describe_target, global_option, resolve_target, run_guarded
from binfut._format import amount

__all__ = [
    "CONFIG_TABLES",
    "backtest_app",
    "backtest_cmd",
    "config_table",
    "load_config_file",
    "main",
    "make_strategy",
    "parse_time",
    "strategy_from_config",
]

#: The tables of the one config file ``backtest``, ``paper`` and ``live`` share.
CONFIG_TABLES = ("strategy", "risk", "backtest", "paper", "live")

backtest_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Backtests on the matching engine.")


@backtest_app.callback()
def _root() -> None:
    """Backtests on the matching engine."""


def parse_time(value: str | None) -> int | None:
    """Epoch ms from ``2024-01-31``, ``2024-01-31T12:00`` (UTC unless an offset is given) or epoch ms."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def load_config_file(path: Path | None) -> dict[str, Any]:
    """The tables of a JSON or TOML config file (``{}`` without a file), as ``{table: {key: value}}``.

    One file serves ``backtest``, ``paper`` and ``live``: ``[strategy]``, ``[risk]``, ``[backtest]``,
    ``[paper]`` and ``[live]`` (:data:`CONFIG_TABLES`); each command reads its own table and ignores the
    other commands'.  Keys are checked when a command converts its tables (:func:`config_table`).

    Raises
    ------
    ValueError
        The file is not valid TOML / JSON, has a table not in :data:`CONFIG_TABLES`, or a top-level
        value that is not a table.
    """
    if path is None:
        return {}
    text = path.read_bytes()
    try:
        data = tomllib.loads(text.decode()) if path.suffix.lower() == ".toml" else json.loads(text)
    except ValueError as exc:  # TOMLDecodeError, JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the config must be a table of tables ({', '.join(CONFIG_TABLES)})")
    unknown = sorted(set(data) - set(CONFIG_TABLES))
    if unknown:
        raise ValueError(f"unknown config tables {unknown} in {path}: use {', '.join(CONFIG_TABLES)}")
    not_tables = sorted(name for name, value in data.items() if not isinstance(value, dict))
    if not_tables:
        raise ValueError(f"{path}: {', '.join(f'[{n}]' for n in not_tables)} must be a table of keys")
    return dict(data)


def config_table(tables: dict[str, Any], name: str, config_type: type[Any]) -> Any:
    """The ``[name]`` table converted into ``config_type`` (its defaults when the table is absent).

    Raises
    ------
    msgspec.ValidationError
        An unknown key or a bad value; the message names the table (``[backtest]: Object contains
        unknown field `levrage```).
    """
    try:
        return msgspec.convert(tables.get(name, {}), config_type, strict=False)
    except msgspec.ValidationError as exc:
        raise msgspec.ValidationError(f"[{name}]: {exc}") from exc


def strategy_from_config(name: str, tables: dict[str, Any], symbol: str) -> Any:
    """:func:`make_strategy` from the ``[strategy]`` table; a bad key is an error naming the table."""
    try:
        return make_strategy(name, tables.get("strategy", {}), symbol)
    except msgspec.ValidationError as exc:
        raise msgspec.ValidationError(f"[strategy]: {exc}") from exc
    except TypeError as exc:  # a plain class's __init__ refused a keyword
        raise ValueError(f"[strategy]: {exc}") from exc


def make_strategy(name: str, params: dict[str, Any], symbol: str) -> Any:
    """``ma_cross``, ``ml`` or ``package.module:Class`` built from ``params`` (``symbol`` filled in)."""
    from binfut.strategy import MACross, MACrossConfig, MLConfig, MLStrategy

    params = {**params, "symbol": params.get("symbol", symbol)}
    if name == "ma_cross":
        return MACross(msgspec.convert(params, MACrossConfig, strict=False))
    if name == "ml":
        return MLStrategy(msgspec.convert(params, MLConfig, strict=False))
    if ":" not in name:
        raise ValueError(f"unknown strategy {name!r}: use ma_cross, ml or package.module:Class")
    module, _, attr = name.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    config_type = getattr(cls, "config_type", None)
    if config_type is not None:
        return cls(msgspec.convert(params, config_type, strict=False))
    return cls(**params)


def _read_file(path: Path) -> Any:
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    col = next((c for c in ("open_time", "timestamp", "time", "date") if c in df.columns), None)
    if col is None:
        raise ValueError(f"{path}: need an open_time (or timestamp / time / date) column")
    raw = df[col]
    times = pd.to_datetime(raw, unit="ms", utc=True) if pd.api.types.is_integer_dtype(raw) else pd.to_datetime(raw, utc=True)
    return df.drop(columns=[col]).set_index(pd.DatetimeIndex(times, name="open_time"))


def _feed(symbol: str, interval: str, start: int | None, end: int | None, data: Path | None, env: str, url: str | None,
          funding_rate: Decimal | None) -> Any:
    from binfut.matching import default_specs
    from binfut.trading.feed import load_feed, prepare_feed, synthetic_funding

    specs = default_specs()
    if symbol not in specs:
        raise ValueError(f"no instrument spec for {symbol}; known: {', '.join(sorted(specs))}")
    spec = specs[symbol]
    if data is not None and data.is_file():
        bars = _read_file(data)
        if start is not None:
            bars = bars[bars.index >= datetime.fromtimestamp(start / 1000, tz=UTC)]
        if end is not None:
            bars = bars[bars.index < datetime.fromtimestamp(end / 1000, tz=UTC)]
        funding = synthetic_funding(bars, interval, funding_rate) if funding_rate is not None else None
        return prepare_feed(bars, spec, interval=interval, funding=funding)
    if data is not None:
        feed = load_feed(data, symbol, interval, start, end, spec)
    else:
        from binfut.client import Client
        from binfut.trading.feed import fetch_feed

        if start is None or end is None:
            raise ValueError("--start and --end are needed to fetch klines over REST")
        with Client(env=env, base_url=url) as client:
            feed = fetch_feed(client, symbol, interval, start, end, spec)
    if funding_rate is not None and not feed.funding:
        from binfut.trading.feed import attach_funding

        attach_funding(feed, synthetic_funding(feed.open_ms, interval, funding_rate))
    return feed


def _summary(metrics: Any, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"backtest: {metrics.strategy} {', '.join(metrics.symbols)} {metrics.interval} ({metrics.engine})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    pct = {"total_return", "annual_return", "max_drawdown", "exposure", "win_rate"}
    for name in metrics.__struct_fields__:
        if name in ("strategy", "symbols", "interval", "engine"):
            continue
        value = getattr(metrics, name)
        if name in pct:
            text = f"{value:.2%}"
        elif isinstance(value, float):
            text = amount(value, 3)
        else:
            text = "" if value is None else str(value)
        table.add_row(name.replace("_", " "), text)
    console = Console()
    console.print(table)
    console.print(f"report: {out / 'report.html'}")


def _rate(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"--funding-rate {text!r} is not a number") from None


_CONFIG = typer.Option(
    None, "--config", help="JSON or TOML file with [strategy], [backtest], [risk] ([paper] and [live] are ignored)"
)
_DATA = typer.Option(None, "--data", help="binfut.data store directory, or a CSV / Parquet klines file")
_OUT = typer.Option(Path("backtest-report"), "--out", help="report directory")


def backtest_cmd(
    ctx: typer.Context,
    strategy: str = typer.Option("ma_cross", "--strategy", help="ma_cross, ml or package.module:Class"),
    config: Path = _CONFIG,
    symbol: str = typer.Option("BTCUSDT", "--symbol"),
    interval: str = typer.Option("1m", "--interval"),
    start: str = typer.Option(None, "--start", help="UTC date/time (ISO) or epoch ms, inclusive"),
    end: str = typer.Option(None, "--end", help="UTC date/time (ISO) or epoch ms, exclusive"),
    data: Path = _DATA,
    env: str | None = typer.Option(
        None,
        "--env",
        help="REST source when --data is not given: local, testnet, demo or mainnet "
        "(default: binfut --env, else local: the offline local exchange)",
    ),
    url: str | None = typer.Option(
        None, "--url", help="REST base URL, e.g. the local exchange's (default: binfut --url, else http://127.0.0.1:8765)"
    ),
    out: Path = _OUT,
    engine: str = typer.Option(None, "--engine", help="auto, events or vectorized (overrides the config)"),
    funding_rate: str = typer.Option(None, "--funding-rate", help="constant 8-hourly funding rate when the data has none"),
    verbose: bool = typer.Option(False, "--verbose", help="log every refusal and the kill switch (warnings)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks (also: binfut --debug)"),
) -> None:
    """Backtest a strategy on the matching engine and write an HTML report with charts.

    Klines come from --data, else over REST from the offline local exchange unless --env / --url (here
    or before the subcommand) say otherwise.
    """
    env, url = resolve_target(ctx, env, url)
    target = describe_target(env, url) if data is None else None

    def go() -> None:
        from binfut.trading.backtest import BacktestConfig, run_backtest
        from binfut.trading.report import compute_metrics, write_report
        from binfut.trading.risk import RiskConfig

        tables = load_config_file(config)
        bt = config_table(tables, "backtest", BacktestConfig)
        if engine:
            bt = msgspec.structs.replace(bt, engine=engine)
        risk = config_table(tables, "risk", RiskConfig) if "risk" in tables else None
        strat = strategy_from_config(strategy, tables, symbol)
        if target is not None:
            announce(env, f"backtest: klines from {target}")
        feed = _feed(symbol, interval, parse_time(start), parse_time(end), data, env, url, _rate(funding_rate))
        logging.basicConfig(level=logging.WARNING if verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
        result = run_backtest(strat, feed, bt, risk)
        write_report(result, out)
        _summary(compute_metrics(result), out)

    run_guarded(go, debug=debug or bool(global_option(ctx, "debug")), target=target)


backtest_app.command("backtest")(backtest_cmd)


def main(argv: Sequence[str] | None = None) -> None:
    """Standalone entry point: ``python -m binfut.trading.cli backtest ...``."""
    backtest_app(args=list(argv) if argv is not None else sys.argv[1:], prog_name="binfut")


if __name__ == "__main__":  # pragma: no cover
    main()
