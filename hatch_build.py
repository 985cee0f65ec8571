"""Wheel build hook: ship the mypyc-compiled matching engine inside binfut's wheels.

A wheel built from this tree (``make wheel``, ``pip install .``, ``pip wheel .``) contains the
pure-Python sources and, beside them, the engine compiled by ``scripts/build_compiled.py`` -- the same
build ``make compiled`` makes and ``make test`` checks.  Python imports an extension module before the
``.py`` file of the same name, so an installed wheel runs the compiled engine with no further setting.
The wheel is then specific to the Python version and platform it was built on.

* Editable installs (``pip install -e .``) stay pure Python: the sources must stay live.
* ``BINFUT_ENGINE=pure`` builds a pure-Python wheel (any platform, no compiler needed).
* ``BINFUT_COMPILED_FROM=DIR`` packs an existing build (``DIR/binfut`` from ``make compiled``) instead of
  compiling again; the caller vouches that it was built from these sources (``make wheel`` does).

A failed compilation fails the build with the reason; it never falls back to a pure wheel silently.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _load_build_script(path: Path) -> ModuleType:
    """``scripts/build_compiled.py`` (what it compiles and how), loaded from the tree being built."""
    spec = importlib.util.spec_from_file_location("build_compiled", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CompiledEngineHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._tmp: str | None = None
        if self.target_name != "wheel" or version == "editable":
            return
        engine = os.environ.get("BINFUT_ENGINE", "compiled")
        if engine == "pure":
            return
        if engine != "compiled":
            raise ValueError(f"BINFUT_ENGINE must be 'compiled' or 'pure', not {engine!r}")
        build_compiled = _load_build_script(Path(self.root) / "scripts" / "build_compiled.py")
        given = os.environ.get("BINFUT_COMPILED_FROM")
        if given:
            out = Path(given).resolve()
            if not (out / "binfut").is_dir():
                raise FileNotFoundError(f"BINFUT_COMPILED_FROM={given}: no binfut package in {out} (run `make compiled`)")
        else:
            self._tmp = tempfile.mkdtemp(prefix="binfut-wheel-")
            try:
                build_compiled.build(Path(self._tmp) / "compiled")
            except (Exception, SystemExit) as exc:
                raise RuntimeError(
                    f"compiling binfut's engine with mypyc failed ({exc}); set BINFUT_ENGINE=pure to build a "
                    "pure-Python wheel instead"
                ) from exc
            out = Path(self._tmp) / "compiled"
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        natives = sorted(p for p in out.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        expected = {name.replace(".", "/") for name in build_compiled.COMPILED}
        found = {str(p.relative_to(out)).split(".", 1)[0] for p in natives}
        missing = sorted(expected - found)
        if missing:
            raise FileNotFoundError(f"the compiled engine in {out} lacks {missing}")
        for path in natives:
            build_data["force_include"][str(path)] = str(path.relative_to(out))
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
