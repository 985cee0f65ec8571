"""binfut's wheel carries the compiled engine (hatch_build.py), and the installed wheel runs it.

The wheel packs the build in ``build/compiled`` (``BINFUT_COMPILED_FROM``, as ``make wheel`` does), which
``make test`` builds first and ``test_compiled`` checks; compiling from scratch is the same
``scripts/build_compiled.py`` and takes a minute, so it is left to ``make wheel`` / ``pip wheel .``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.engine_scenarios import encode, random_load, scenario
from test_compiled import BUILD, COMPILED, COMPILED_DIR, ROOT

pytestmark = pytest.mark.skipif(BUILD != "pure", reason="built from the source run")


def _wheel(out: Path, **env: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        env={**os.environ, **env}, check=True, capture_output=True, timeout=300,
    )
    (wheel,) = out.glob("binfut-*.whl")
    return wheel


def test_the_wheel_runs_the_compiled_engine_and_answers_like_the_source(tmp_path: Path) -> None:
    if not (COMPILED_DIR / "binfut").is_dir():
        pytest.skip("no compiled build in build/compiled: `make compiled` (make test builds it)")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    # Act: build it, install it in a directory of its own
    wheel = _wheel(tmp_path / "dist", BINFUT_COMPILED_FROM=str(COMPILED_DIR))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests")])}
    probe = "import importlib, sys; print('\\n'.join(importlib.import_module(n).__file__ for n in sys.argv[1:]))"
    files = subprocess.run(
        [sys.executable, "-c", probe, *COMPILED], env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    out = tmp_path / "scenarios.bin"
    subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "engine_scenarios.py"), str(out)], env=env, check=True, timeout=300)
    # Assert: a wheel for this Python and platform, with the sources and the compiled modules ...
    assert f"-{tag}-{tag}-" in wheel.name, wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in COMPILED:
        path = module.replace(".", "/")
        assert f"{path}.py" in names
        assert any(n.startswith(f"{path}.") and n.endswith(".so") for n in names), f"{module} is not compiled in the wheel"
    # ... whose installed engine is the compiled one, and answers byte for byte like the source
    assert len(files) == len(COMPILED)
    assert all(f.startswith(str(site)) and f.endswith(".so") for f in files), files
    assert out.read_bytes() == encode(scenario()[1]) + b"\n" + encode(random_load()[1])


def test_binfut_engine_pure_builds_a_wheel_for_any_platform(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, BINFUT_ENGINE="pure")

    assert wheel.name.endswith("-py3-none-any.whl")
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]


def test_an_unknown_engine_setting_fails_the_build_with_the_rule(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _wheel(tmp_path, BINFUT_ENGINE="fast")

    assert b"BINFUT_ENGINE must be 'compiled' or 'pure', not 'fast'" in failed.value.stderr + failed.value.stdout
