"""The compiled engine (mypyc, ``make compiled``) is the pure-Python engine, only faster.

``make test`` runs the engine's tests twice: on the source, and on the mypyc build in ``build/compiled``
with ``BINFUT_ENGINE_BUILD=compiled``.  Each run checks that it imports the build it claims to test; the
source run also checks that both builds answer seeded scenarios byte for byte the same.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.engine_scenarios import encode, random_load, scenario

ROOT = Path(__file__).resolve().parents[1]
BUILD = os.environ.get("BINFUT_ENGINE_BUILD", "pure")


def _build_script() -> Any:
    """``scripts/build_compiled.py``: what it compiles, and where it puts the build."""
    spec = importlib.util.spec_from_file_location("build_compiled", ROOT / "scripts" / "build_compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCRIPT = _build_script()
COMPILED: tuple[str, ...] = tuple(_SCRIPT.COMPILED)
COMPILED_DIR: Path = _SCRIPT.OUT


@pytest.mark.parametrize("name", COMPILED)
def test_each_engine_module_comes_from_the_build_this_run_tests(name: str) -> None:
    module = importlib.import_module(name)
    native = any(str(module.__file__).endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)

    assert BUILD in ("pure", "compiled"), f"BINFUT_ENGINE_BUILD must be pure or compiled, not {BUILD!r}"
    assert native == (BUILD == "compiled"), f"{name} is {module.__file__} in the {BUILD} run"


def test_the_random_load_reaches_every_path_it_is_meant_to() -> None:
    venue, seen = random_load()
    text = encode(seen)

    for event in (b'"e":"ORDER_TRADE_UPDATE"', b'"e":"ACCOUNT_UPDATE"', b'"e":"ALGO_UPDATE"', b'"e":"TRADE_LITE"'):
        assert event in text
    codes = {s[1] for s in seen if isinstance(s, tuple) and s and s[0] == "rejected"}
    assert {-2011, -5021, -5022} <= codes  # unknown order, FOK and GTX rejections
    assert any(a.income_records() for a in venue.accounts.values())
    assert sum(len(a.trades) for a in venue.accounts.values()) > 1_000


@pytest.mark.skipif(BUILD != "pure", reason="compared from the source run")
def test_both_builds_answer_the_seeded_scenarios_byte_for_byte_the_same(tmp_path: Path) -> None:
    if not (COMPILED_DIR / "binfut").is_dir():
        pytest.skip("no compiled build in build/compiled: `make compiled` (make test builds it)")
    script = ROOT / "tests" / "helpers" / "engine_scenarios.py"
    out = tmp_path / "compiled.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(COMPILED_DIR), str(ROOT / "tests")])}
    probe = "import binfut.matching.engine as e; print(e.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout

    subprocess.run([sys.executable, str(script), str(out)], env=env, check=True, timeout=300)

    assert where.strip().startswith(str(COMPILED_DIR)), where
    expected = encode(scenario()[1]) + b"\n" + encode(random_load()[1])
    got = out.read_bytes()
    if got != expected:
        at = next(i for i, (x, y) in enumerate(zip(got, expected, strict=False)) if x != y) if min(len(got), len(expected)) else 0
        pytest.fail(f"the builds differ at byte {at}: compiled {got[at - 80:at + 80]!r} / pure {expected[at - 80:at + 80]!r}")
