"""Build binfut with its matching engine compiled by mypyc, into ``build/compiled``.

The source of truth stays ``src/binfut`` (pure Python, what an editable install runs).  This script
copies it to ``build/compiled/binfut`` and compiles the engine's modules there with mypyc, so a
native extension never sits beside an edited ``.py`` file in the source tree.  Put the directory first
on ``PYTHONPATH`` to run the compiled engine:

    PYTHONPATH=build/compiled .venv/bin/python bench/bench_engine.py

``make compiled`` runs this when a source file changed; ``make test`` runs the engine's tests on the
result and ``make bench`` measures it beside the pure-Python engine.

Run: ``.venv/bin/python scripts/build_compiled.py [--out DIR]``
"""

from __future__ import annotations

import argparse
import importlib.machinery
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "binfut"
OUT = ROOT / "build" / "compiled"  # where the build goes by default (the Makefile and the tests use it)

# The engine's modules, the money-context check it makes per command and the clocks it reads the time
# from per command (a method call on an interpreted ManualClock cost 2 % of a command; ``Clock``, a
# Protocol, is not ``runtime_checkable`` for that reason: mypyc rejects it).  The modules that define
# msgspec Structs (``commands``, ``outputs``) stay interpreted: msgspec builds those classes itself, and
# a mypyc-compiled class body loses their field options (``builders`` holds what runs per command).
# The rest of binfut is I/O.
COMPILED = (
    "binfut._money",
    "binfut.clock",
    *(f"binfut.matching.{name}" for name in (
        "account", "algos", "builders", "engine", "filters", "instruments", "lifecycle", "models", "orderbook", "queries",
        "risk", "triggers", "venue",
    )),
)


def build(out: Path) -> Path:
    from mypyc.build import mypycify  # mypy ships mypyc (a dev dependency)
    from setuptools import setup

    target = out / "binfut"
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(SRC, staging / "binfut", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    paths = [name.replace(".", "/") + ".py" for name in COMPILED]
    # mypyc type-checks what it compiles and everything they import; `make test` runs mypy --strict on
    # the sources, so here only the third-party packages without type information need a pass
    (staging / "mypy.ini").write_text("[mypy]\nignore_missing_imports = True\n")
    cwd = Path.cwd()
    os.chdir(staging)
    try:
        setup(
            name="binfut-compiled",
            ext_modules=mypycify(paths, opt_level="3"),
            script_args=["--quiet", "build_ext", "--inplace"],
        )
    finally:
        os.chdir(cwd)
    shutil.rmtree(staging / "build", ignore_errors=True)
    (staging / "mypy.ini").unlink()
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    missing = [n for n in COMPILED if not any((staging / n.replace(".", "/")).with_suffix(s).exists() for s in suffixes)]
    if missing:
        sys.exit(f"mypyc did not produce {missing} in {staging}; the previous build is left as it was")
    # replace the previous build only once this one is complete
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.perf_counter()
    target = build(args.out.resolve())
    print(f"compiled {len(COMPILED)} engine modules into {target.parent} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
