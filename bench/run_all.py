"""Run every ``bench/bench_*.py`` one after another (``make bench``), each with a time limit.

Each bench is a standalone script that prints its own tables; their output is streamed as it comes.
A script that fails or runs past ``--timeout`` is stopped (its whole process group, so servers it
started go with it) and the run continues with the next one. The final note lists what ran, how long
it took and how it ended. Exit status: 0 when every script exited 0, else 1.

Usage: ``python bench/run_all.py [--timeout 600] [--only SUBSTR] [--list]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import machine_note

HERE = Path(__file__).resolve().parent


def discover(only: str | None = None) -> list[Path]:
    scripts = sorted(p for p in HERE.glob("bench_*.py") if p.is_file())
    if only:
        scripts = [p for p in scripts if only.lower() in p.name.lower()]
    return scripts


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the script's process group, then SIGKILL what is left after 5 s."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run(script: Path, timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    # Own session = own process group: a timeout stops the script and everything it spawned.
    proc = subprocess.Popen([sys.executable, str(script)], cwd=HERE.parent, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
        outcome = "ok" if rc == 0 else f"failed (exit {rc})"
    except subprocess.TimeoutExpired:
        _stop(proc)
        outcome = f"TIMEOUT after {timeout:.0f} s (stopped)"
    except KeyboardInterrupt:
        _stop(proc)
        raise
    return outcome, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="run every bench/bench_*.py in turn")
    ap.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("BENCH_TIMEOUT", 600)),
        help="seconds per script (default 600)",
    )
    ap.add_argument("--only", help="run only the scripts whose file name contains this")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)

    scripts = discover(args.only)
    if args.list:
        print("\n".join(p.name for p in scripts))
        return 0
    if not scripts:
        print(f"no bench/bench_*.py found{' matching ' + repr(args.only) if args.only else ''}")
        return 1

    print(machine_note(), flush=True)
    results: list[tuple[str, str, float]] = []
    for script in scripts:
        banner = f"=== {script.name} (limit {args.timeout:.0f} s) "
        print(f"\n{banner}{'=' * max(3, 100 - len(banner))}", flush=True)
        outcome, seconds = run(script, args.timeout)
        results.append((script.name, outcome, seconds))
        print(f"=== {script.name}: {outcome} in {seconds:.1f} s", flush=True)

    width = max(len(name) for name, _, _ in results)
    print("\nBenchmarks run (in order):")
    for name, outcome, seconds in results:
        print(f"  {name.ljust(width)}  {seconds:7.1f} s  {outcome}")
    failed = [name for name, outcome, _ in results if outcome != "ok"]
    print(f"{len(results)} ran, {len(results) - len(failed)} ok" + (f", not ok: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
