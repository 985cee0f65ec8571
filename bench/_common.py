"""Helpers shared by the ``bench/bench_*.py`` scripts: CPU/wall measurement and plain-text tables.

Measurement rule used everywhere: the number that matters is the **client process's CPU time per
call** (``time.process_time()`` deltas: user + system time of every thread of this process), because
it does not depend on the server, the network or the other processes on the machine. Wall-clock
calls/s is printed next to it, but on a loaded 2-core box it moves with everything else.

Each measurement warms up, calibrates a batch size from a short timed run so a cell takes about
``seconds``, then runs ``repeats`` batches (a ``gc.collect()`` before each) and reports the median
batch's CPU per call, the spread between batches and the overall calls/s.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COMPILED",
    "Result",
    "ameasure",
    "ameasure_interleaved",
    "format_table",
    "machine_note",
    "measure",
    "measure_interleaved",
    "engine_build",
    "run_on_build",
    "short_error",
]

COMPILED = Path(__file__).resolve().parent.parent / "build" / "compiled"
"""The mypyc build of binfut (``make compiled``; ``make bench`` builds it first)."""


def engine_build() -> str:
    """``"compiled"`` when this process imports the mypyc-built engine, else ``"pure"``."""
    import binfut.matching.engine as engine_module

    return "pure" if str(engine_module.__file__).endswith(".py") else "compiled"


def run_on_build(script: str, build: str, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``script --build BUILD *args`` in a new process on that engine build, its output captured.

    The compiled build is selected by putting :data:`COMPILED` first on ``PYTHONPATH`` (child processes
    the script spawns inherit it); the script checks with :func:`engine_build` that it got the build.
    """
    env = dict(os.environ)
    if build == "compiled":
        if not (COMPILED / "binfut").is_dir():
            sys.exit(f"no compiled engine in {COMPILED}: run `make compiled` (make bench builds it)")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COMPILED), env.get("PYTHONPATH")]))
    cmd = [sys.executable, script, "--build", build, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)


@dataclass
class Result:
    """One measured cell: ``cpu_us`` per call (median batch), ``spread`` = (max-min)/median of batches."""

    name: str
    calls: int = 0
    cpu_us: float | None = None
    rate: float | None = None
    spread: float | None = None
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.cpu_us is not None


def short_error(exc: BaseException, limit: int = 90) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _batch_size(per_call_s: float, seconds: float, repeats: int, min_n: int, max_n: int) -> int:
    n = int(seconds / repeats / max(per_call_s, 1e-7))
    return max(min_n, min(max_n, n))


def _summarise(name: str, batches: list[tuple[int, float, float]], note: str) -> Result:
    per_call = [cpu / n for n, cpu, _ in batches]
    median = statistics.median(per_call)
    total_n = sum(n for n, _, _ in batches)
    total_wall = sum(w for _, _, w in batches)
    spread = (max(per_call) - min(per_call)) / median if median > 0 else 0.0
    return Result(name, total_n, median * 1e6, total_n / total_wall if total_wall > 0 else None, spread, note=note)


def measure(
    name: str,
    fn: Callable[[], object],
    *,
    seconds: float = 1.0,
    warmup: int = 20,
    repeats: int = 3,
    min_n: int = 10,
    max_n: int = 20_000,
    note: str = "",
) -> Result:
    """CPU µs per call and calls/s of the blocking ``fn``."""
    for _ in range(warmup):
        fn()
    # Calibrate on at least ~50 ms so the batch size is not set by one slow call.
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed > 0.05 or n >= max_n:
            break
    size = _batch_size(elapsed / n, seconds, repeats, min_n, max_n)
    batches: list[tuple[int, float, float]] = []
    for _ in range(repeats):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(size):
            fn()
        batches.append((size, time.process_time() - c0, time.perf_counter() - w0))
    return _summarise(name, batches, note)


async def ameasure(
    name: str,
    fn: Callable[[], Awaitable[object]],
    *,
    inflight: int = 1,
    seconds: float = 1.0,
    warmup: int = 20,
    repeats: int = 3,
    min_n: int = 10,
    max_n: int = 20_000,
    note: str = "",
) -> Result:
    """CPU µs per call and calls/s of the coroutine function ``fn``, sequential or ``inflight`` at once.

    With ``inflight > 1`` a batch is ``asyncio.gather`` over all its calls, a semaphore keeping at
    most ``inflight`` of them in flight (task creation is part of the measured cost, for every client).
    """

    async def run(count: int) -> None:
        if inflight <= 1:
            for _ in range(count):
                await fn()
            return
        sem = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with sem:
                await fn()

        await asyncio.gather(*(one() for _ in range(count)))

    await run(max(warmup, inflight * 2 if inflight > 1 else warmup))
    n, t0 = 0, time.perf_counter()
    step = max(1, inflight)
    while True:
        await run(step)
        n += step
        elapsed = time.perf_counter() - t0
        if elapsed > 0.05 or n >= max_n:
            break
    size = _batch_size(elapsed / n, seconds, repeats, max(min_n, inflight), max_n)
    batches: list[tuple[int, float, float]] = []
    for _ in range(repeats):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        await run(size)
        batches.append((size, time.process_time() - c0, time.perf_counter() - w0))
    return _summarise(name, batches, note)


def measure_interleaved(
    cells: Sequence[tuple[str, Callable[[], object]]],
    *,
    seconds: float = 1.0,
    warmup: int = 20,
    rounds: int = 5,
    min_n: int = 10,
    max_n: int = 20_000,
) -> list[Result]:
    """Like :func:`measure` for several contenders at once, their batches interleaved round by round.

    Machine load drifts (other processes, frequency scaling); interleaving spreads that drift over every
    contender alike, so the ratios between them stay meaningful. A contender that raises gets an
    error Result and drops out; the others go on.
    """
    out: dict[str, Result] = {}
    sizes: dict[str, int] = {}
    batches: dict[str, list[tuple[int, float, float]]] = {name: [] for name, _ in cells}
    live: list[tuple[str, Callable[[], object]]] = []
    for name, fn in cells:
        try:
            for _ in range(warmup):
                fn()
            n, t0 = 0, time.perf_counter()
            while True:
                fn()
                n += 1
                elapsed = time.perf_counter() - t0
                if elapsed > 0.05 or n >= max_n:
                    break
        except Exception as exc:
            out[name] = Result(name, error=short_error(exc))
            continue
        sizes[name] = _batch_size(elapsed / n, seconds, rounds, min_n, max_n)
        live.append((name, fn))
    for _ in range(rounds):
        for name, fn in list(live):
            size = sizes[name]
            gc.collect()
            try:
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(size):
                    fn()
                batches[name].append((size, time.process_time() - c0, time.perf_counter() - w0))
            except Exception as exc:
                out[name] = Result(name, error=short_error(exc))
                live.remove((name, fn))
    for name, _ in live:
        out[name] = _summarise(name, batches[name], "")
    return [out[name] for name, _ in cells]


async def ameasure_interleaved(
    cells: Sequence[tuple[str, Callable[[], Awaitable[object]]]],
    *,
    inflight: int = 1,
    seconds: float = 1.0,
    warmup: int = 20,
    rounds: int = 5,
    min_n: int = 10,
    max_n: int = 20_000,
) -> list[Result]:
    """:func:`measure_interleaved` for coroutine functions, sequential or ``inflight`` at once (see :func:`ameasure`)."""

    async def run(fn: Callable[[], Awaitable[object]], count: int) -> None:
        if inflight <= 1:
            for _ in range(count):
                await fn()
            return
        sem = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with sem:
                await fn()

        await asyncio.gather(*(one() for _ in range(count)))

    out: dict[str, Result] = {}
    sizes: dict[str, int] = {}
    batches: dict[str, list[tuple[int, float, float]]] = {name: [] for name, _ in cells}
    live: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    step = max(1, inflight)
    for name, fn in cells:
        try:
            await run(fn, max(warmup, 2 * inflight if inflight > 1 else warmup))
            n, t0 = 0, time.perf_counter()
            while True:
                await run(fn, step)
                n += step
                elapsed = time.perf_counter() - t0
                if elapsed > 0.05 or n >= max_n:
                    break
        except Exception as exc:
            out[name] = Result(name, error=short_error(exc))
            continue
        sizes[name] = _batch_size(elapsed / n, seconds, rounds, max(min_n, inflight), max_n)
        live.append((name, fn))
    for _ in range(rounds):
        for name, fn in list(live):
            size = sizes[name]
            gc.collect()
            try:
                c0, w0 = time.process_time(), time.perf_counter()
                await run(fn, size)
                batches[name].append((size, time.process_time() - c0, time.perf_counter() - w0))
            except Exception as exc:
                out[name] = Result(name, error=short_error(exc))
                live.remove((name, fn))
    for name, _ in live:
        out[name] = _summarise(name, batches[name], "")
    return [out[name] for name, _ in cells]


def format_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None
) -> str:
    """A plain-text table; ``right[i]`` right-aligns column ``i`` (numbers)."""
    right = list(right) if right is not None else [False] * len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    parts = [title, rule, line(headers), rule]
    parts.extend(line(r) for r in rows)
    parts.append(rule)
    return "\n".join(parts)


def machine_note() -> str:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load n/a"
    # the interpreter the venv was made from (`make` prefers the system's own, built with PGO + LTO)
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return (
        f"Python {platform.python_version()} ({sys.implementation.name}, {base}), {cpus} CPUs usable, {load}, "
        f"{platform.machine()}"
    )
