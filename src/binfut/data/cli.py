"""The ``binfut data ...`` commands and ``binfut record``, as a Typer sub-app the main CLI mounts.

``data_app`` has ``download`` (REST history with rich progress bars and ETA, resumable), ``ls``
(what is on disk), ``sql`` (DuckDB over the dataset) and ``import`` (data.binance.vision zips);
``record_cmd`` records live streams. Every command takes ``--dir`` (default ``./data``) and prints a
table (or JSON with ``--json``). ``download`` and ``record`` go where ``--env`` / ``--url`` say: their
own options when given, else ``binfut --env / --url``, else the offline local exchange; they name
that place on stderr. This module also owns the rules every ``binfut`` command shares
(:func:`resolve_target`, :func:`run_guarded`, :func:`error_line`): an error is one line on stderr that
says what failed, never a traceback unless ``--debug``. ``python -m binfut.data.cli`` runs the same
commands standalone (``data ...`` and ``record``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from binfut._cli import announce, describe_target, global_option, resolve_target, run_guarded
from binfut._format import utc_time

__all__ = [
    "RichProgress",
    "data_app",
    "main",
    "record_cmd",
]

data_app = typer.Typer(no_args_is_help=True, help="Market data store: history into Parquet, DuckDB SQL, recording.")

_ENV_HELP = "local, testnet, demo or mainnet (default: binfut --env, else local: the offline local exchange)"
_URL_HELP = "REST base URL, e.g. the local exchange's (default: binfut --url, else http://127.0.0.1:8765 for local)"
_DIR = typer.Option(Path("data"), "--dir", help="dataset directory")
_JSON = typer.Option(False, "--json", help="print JSON instead of tables (also: binfut --json)")
_ENV = typer.Option(None, "--env", help=_ENV_HELP)
_URL = typer.Option(None, "--url", help=_URL_HELP)
_FILES = typer.Argument(..., help="data.binance.vision zips (their .CHECKSUM files beside them)")
_STREAMS = typer.Argument(..., help="stream names, e.g. btcusdt@aggTrade btcusdt@kline_1m")


def _run(ctx: typer.Context, action: Callable[[], int | None], target: str | None = None) -> None:
    run_guarded(action, debug=bool(global_option(ctx, "debug")), target=target)


def _as_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or bool(global_option(ctx, "as_json"))


# -- helpers ------------------------------------------------------------------------------------------------


def parse_time(text: str) -> int:
    """``2024-01-01``, ``2024-01-01T12:30[:00]`` (UTC) or epoch ms -> epoch ms."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD[THH:MM[:SS]], UTC) or epoch ms") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    Console().print(table)


# -- download -----------------------------------------------------------------------------------------------


class RichProgress:
    """Progress bars: one for the whole download (windows, rows, ETA), one per series in flight."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bars = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:>10,} rows"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.total: Any = None
        self.tasks: dict[int, Any] = {}

    def planned(self, reports: Sequence[Any]) -> None:
        windows = sum(r.windows for r in reports)
        self.total = self.bars.add_task("[bold]all", total=windows or 1, rows=0, completed=0 if windows else 1)

    def series_started(self, report: Any, windows: int) -> None:
        if windows:
            label = f"{report.kind} {report.symbol} {report.series or ''}".strip()
            self.tasks[id(report)] = self.bars.add_task(label, total=windows, rows=0)

    def advanced(self, report: Any, windows: int, rows: int) -> None:
        task = self.tasks.get(id(report))
        if task is not None:
            self.bars.update(task, advance=windows, rows=report.rows)
        self.bars.update(self.total, advance=windows, rows=self.bars.tasks[self.total].fields["rows"] + rows)

    def series_done(self, report: Any) -> None:
        task = self.tasks.pop(id(report), None)
        if task is not None:
            self.bars.remove_task(task)


@data_app.command("download")
def download_cmd(
    ctx: typer.Context,
    symbols: str = typer.Option(..., "--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT"),
    kinds: str = typer.Option(
        "klines",
        "--kinds",
        help="comma-separated: klines, mark, index, premium, continuous, agg_trades, funding, oi, top_position_ratio, top_account_ratio, global_ratio, taker, basis",
    ),
    start: str = typer.Option(..., "--start", help="UTC date/time or epoch ms (inclusive)"),
    end: str = typer.Option(None, "--end", help="UTC date/time or epoch ms (exclusive; default: now)"),
    interval: str = typer.Option("1m", "--interval", help="kline interval"),
    period: str = typer.Option("5m", "--period", help="period of the /futures/data statistics"),
    contract_type: str = typer.Option("PERPETUAL", "--contract-type", help="continuous klines and basis"),
    env: str | None = _ENV,
    url: str | None = _URL,
    directory: Path = _DIR,
    concurrency: int = typer.Option(4, "--concurrency", help="series downloaded at once"),
    limit: int = typer.Option(None, "--limit", help="rows per request (default: the most per request weight)"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars"),
    as_json: bool = _JSON,
) -> None:
    """Download REST history into the dataset; a rerun resumes where it stopped.

    From the offline local exchange unless --env / --url (here or before the subcommand) say otherwise.
    """
    as_json = _as_json(ctx, as_json)
    env, url = resolve_target(ctx, env, url)
    target = describe_target(env, url)

    def go() -> int:
        announce(env, f"downloading from {target}")
        from binfut.data.downloader import DownloadSpec, download, parse_kinds
        from binfut.data.store import Store

        spec = DownloadSpec(
            kinds=parse_kinds(kinds),
            symbols=tuple(s.strip().upper() for s in symbols.split(",") if s.strip()),
            start_ms=parse_time(start),
            end_ms=parse_time(end) if end else None,
            interval=interval,
            period=period,
            contract_type=contract_type.upper(),
            limit=limit,
        )
        progress = None if no_progress or as_json else RichProgress()

        async def run() -> Any:
            if progress is None:
                return await download(spec, Store(directory), env=env, base_url=url, concurrency=concurrency)
            with progress.bars:
                return await download(
                    spec, Store(directory), env=env, base_url=url, concurrency=concurrency, progress=progress
                )

        try:
            report = asyncio.run(run())
        except KeyboardInterrupt:
            typer.echo("interrupted: what was fetched is stored; run the same command again to resume", err=True)
            return 130
        _print_download(report, as_json)
        return 1 if report.failed else 0

    _run(ctx, go, target)


def _print_download(report: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "rows": report.rows,
                    "requests": report.requests,
                    "weight": report.weight,
                    "statuses": report.statuses,
                    "elapsed_s": round(report.elapsed_s, 3),
                    "series": [
                        {
                            "kind": s.kind, "symbol": s.symbol, "interval": s.series, "rows": s.rows,
                            "rows_added": s.rows_added, "requests": s.requests, "error": s.error,
                            "gaps": [g.to_json() for g in s.gaps],
                            "unavailable": list(s.unavailable) if s.unavailable else None,
                        }
                        for s in report.series
                    ],
                },
                indent=2,
            )
        )  # fmt: skip
        return
    rows = [
        (
            s.kind,
            s.symbol,
            s.series or "",
            f"{s.rows:,}",
            f"{s.rows_added:,}",
            len(s.gaps),
            "up to date" if s.already_covered else (s.error or "ok"),
        )
        for s in report.series
    ]
    _table("download", ("kind", "symbol", "interval", "rows", "new", "gaps", "status"), rows)
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted((report.statuses or {}).items()))
    typer.echo(
        f"{report.requests} requests, weight {report.weight} (limit {report.weight_limit}/min), "
        f"{report.elapsed_s:.1f} s; HTTP {statuses or 'n/a'}"
    )
    if report.gaps:
        _table(
            "gaps (no rows returned by the exchange)",
            ("kind", "symbol", "interval", "from", "to", "missing"),
            [(g.kind, g.symbol, g.series or "", utc_time(g.start_ms), utc_time(g.end_ms), g.missing) for g in report.gaps[:50]],
        )
        if len(report.gaps) > 50:
            typer.echo(f"... and {len(report.gaps) - 50} more gaps (binfut data ls --gaps)")
    for s in report.failed:
        typer.echo(f"error: {s.kind} {s.symbol} {s.series or ''}: {s.error}".replace("  ", " "), err=True)
    for s in report.series:
        if s.unavailable:
            typer.echo(
                f"note: {s.kind} {s.symbol}: Binance keeps 30 days; {utc_time(s.unavailable[0])} .. {utc_time(s.unavailable[1])} skipped"
            )


# -- ls / sql -----------------------------------------------------------------------------------------------


@data_app.command("ls")
def ls_cmd(
    ctx: typer.Context,
    directory: Path = _DIR,
    kind_name: str = typer.Option(None, "--kind", help="only this kind"),
    gaps: bool = typer.Option(False, "--gaps", help="list the gaps recorded by downloads"),
    as_json: bool = _JSON,
) -> None:
    """List the series on disk: files, rows, size, first and last time, gaps."""
    as_json = _as_json(ctx, as_json)

    def go() -> None:
        from binfut.data.manifest import Manifest
        from binfut.data.store import Store

        store = Store(directory)
        summaries = store.summary(kind_name)
        states = {(s.kind, s.symbol, s.series): s for s in Manifest(directory).states()}
        if gaps:
            items = [(s.kind, s.symbol, s.series or "", *g) for s in states.values() for g in s.gaps]
            if as_json:
                typer.echo(json.dumps([list(i) for i in items]))
            else:
                _table(
                    "gaps",
                    ("kind", "symbol", "interval", "from", "to", "missing"),
                    [(*i[:3], utc_time(i[3]), utc_time(i[4]), i[5]) for i in items],
                )
            return
        if as_json:
            typer.echo(json.dumps([
                {"kind": s.kind, "symbol": s.symbol, "interval": s.series, "files": s.files, "rows": s.rows,
                 "bytes": s.bytes, "first_ms": s.first_ms, "last_ms": s.last_ms,
                 "gaps": len(states[(s.kind, s.symbol, s.series)].gaps) if (s.kind, s.symbol, s.series) in states else 0}
                for s in summaries
            ], indent=2))  # fmt: skip
            return
        if not summaries:
            typer.echo(f"(no data in {directory})")
            return
        rows = [
            (s.kind, s.symbol, s.series or "", s.files, f"{s.rows:,}", _size(s.bytes), utc_time(s.first_ms), utc_time(s.last_ms),
             len(states[(s.kind, s.symbol, s.series)].gaps) if (s.kind, s.symbol, s.series) in states else "")
            for s in summaries
        ]  # fmt: skip
        _table(str(directory), ("kind", "symbol", "interval", "files", "rows", "size", "first", "last", "gaps"), rows)

    _run(ctx, go)


@data_app.command("sql")
def sql_cmd(
    ctx: typer.Context,
    query: str | None = typer.Argument(
        None, help="SQL over the views (one per kind: klines, funding_rate, agg_trades ...); not needed with --views"
    ),
    directory: Path = _DIR,
    fmt: str | None = typer.Option(None, "--format", help="table, csv or json (default: table; json with binfut --json)"),
    max_rows: int = typer.Option(100, "--max-rows", help="rows printed in table format"),
    views: bool = typer.Option(False, "--views", help="print the CREATE VIEW statements (no query needed) and exit"),
) -> None:
    """Run DuckDB SQL over the dataset: one view per kind, over read_parquet with hive partitioning."""
    fmt = fmt or ("json" if _as_json(ctx, False) else "table")

    def go() -> None:
        import duckdb

        from binfut.data.store import Store

        store = Store(directory)
        if views:
            typer.echo(";\n".join(store.view_sql()) + ";")
            return
        if query is None or not query.strip():
            raise typer.BadParameter("give a SQL query (e.g. 'select count(*) from klines'), or --views for the views")
        if fmt not in ("table", "csv", "json"):
            raise typer.BadParameter(f"--format must be table, csv or json (got {fmt!r})")
        try:
            result = store.sql(query)
        except duckdb.Error as exc:
            raise ValueError(f"DuckDB: {exc}") from None
        if fmt == "json":
            typer.echo(json.dumps(result.to_pylist(), default=str, indent=2))
        elif fmt == "csv":
            import pyarrow.csv as pacsv

            sink = sys.stdout.buffer
            pacsv.write_csv(result, sink)
            sink.flush()
        else:
            rows = [list(r.values()) for r in result.slice(0, max_rows).to_pylist()]
            _table(f"{result.num_rows} rows", result.column_names, rows)

    _run(ctx, go)


@data_app.command("import")
def import_cmd(
    ctx: typer.Context,
    files: list[Path] = _FILES,
    directory: Path = _DIR,
    kind_name: str = typer.Option(None, "--kind", help="kline kind of SYMBOL-1m-DATE files (default from the path)"),
    symbol: str = typer.Option(None, "--symbol", help="store under this symbol"),
    checksum: str = typer.Option("require", "--checksum", help="require, if-present or skip"),
    as_json: bool = _JSON,
) -> None:
    """Import Binance bulk files (daily / monthly zips) after checking their sha256."""
    as_json = _as_json(ctx, as_json)

    def go() -> None:
        from binfut.data.archive import import_archives
        from binfut.data.store import Store

        results = import_archives(files, Store(directory), kind_hint=kind_name, symbol=symbol, checksum=checksum)
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "file": str(r.path),
                            "kind": r.kind,
                            "symbol": r.symbol,
                            "interval": r.series,
                            "rows": r.rows,
                            "rows_added": r.rows_added,
                            "checksum": r.checksum_verified,
                        }
                        for r in results
                    ],
                    indent=2,
                )
            )
            return
        _table(
            "import",
            ("file", "kind", "symbol", "interval", "rows", "new", "header", "sha256"),
            [
                (
                    r.path.name,
                    r.kind,
                    r.symbol,
                    r.series or "",
                    f"{r.rows:,}",
                    f"{r.rows_added:,}",
                    "yes" if r.header else "no",
                    "ok" if r.checksum_verified else "not checked",
                )
                for r in results
            ],
        )

    _run(ctx, go)


# -- record -------------------------------------------------------------------------------------------------


def record_cmd(
    ctx: typer.Context,
    streams: list[str] = _STREAMS,
    directory: Path = _DIR,
    env: str | None = _ENV,
    url: str | None = _URL,
    duration: float = typer.Option(None, "--duration", help="seconds to record (default: until Ctrl-C)"),
    flush: float = typer.Option(1.0, "--flush", help="seconds between journal fsyncs (the most a crash loses)"),
    roll: float = typer.Option(60.0, "--roll", help="seconds between Parquet files"),
) -> None:
    """Record live streams: raw frames (receive time in ns) and normalized tables, in rolling files.

    From the offline local exchange unless --env / --url (here or before the subcommand) say otherwise.
    """
    env, url = resolve_target(ctx, env, url)
    target = describe_target(env, url, streams=True)

    def go() -> None:
        announce(env, f"recording from {target}")
        from binfut.data.recorder import record
        from binfut.data.store import Store

        def rolled(rec: Any, files: list[Path]) -> None:
            s = rec.stats
            typer.echo(f"rolled: {len(files)} files; {s.frames:,} frames, {s.frames_flushed:,} on disk", err=True)

        def refused(exc: Exception) -> None:
            typer.echo(f"warning: {exc}; frames stay queued and the write is retried", err=True)

        try:
            stats = asyncio.run(
                record(
                    streams, Store(directory), env=env, base_url=url, duration_s=duration, flush_interval_s=flush,
                    roll_interval_s=roll, on_roll=rolled, on_error=refused,
                )
            )  # fmt: skip
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)
            return
        typer.echo(f"recorded {stats.frames:,} frames into {stats.files_written} files in {directory}")

    _run(ctx, go, target)


def main(argv: Sequence[str] | None = None) -> None:
    """Standalone entry point: ``python -m binfut.data.cli data download ...`` / ``... record ...``."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, help="binfut market data")
    app.add_typer(data_app, name="data")
    app.command("record")(record_cmd)
    app(args=list(argv) if argv is not None else None, prog_name="binfut")


if __name__ == "__main__":  # pragma: no cover
    main()
