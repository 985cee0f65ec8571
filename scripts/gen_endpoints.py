"""Render ``client/_methods_sync.py`` and ``client/_methods_async.py`` from the endpoint table.

Each endpoint becomes one typed, keyword-only method (and series endpoints also get a ``<name>_df``
method that returns a pandas DataFrame straight from the response bytes). ``--check`` exits 1 when
the files on disk differ from what the table renders (``make test`` runs it).

    python scripts/gen_endpoints.py          # write the files
    python scripts/gen_endpoints.py --check  # fail on drift
"""

from __future__ import annotations

import keyword
import sys
import types
import typing
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from binfut.protocol.endpoints import ENDPOINTS  # noqa: E402
from binfut.protocol.spec import Endpoint, Kind, Param  # noqa: E402

OUT = ROOT / "src" / "binfut" / "client"

_KIND_ANNOTATION = {
    Kind.STR: "str",
    Kind.INT: "int",
    Kind.MILLIS: "int",
    Kind.DECIMAL: "Num",
    Kind.BOOL: "bool",
    Kind.JSON: "Sequence[Any] | str",
}


class Imports:
    """Collects the model modules and enums a rendered file must import."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.enums: set[str] = set()

    def module_alias(self, module: str) -> str:
        alias = "_" + module.rsplit(".", 1)[-1]
        self.modules[module] = alias
        return alias


def type_str(tp: Any, imports: Imports) -> str:
    """Render a response type annotation."""
    if tp is Any:
        return "Any"
    if tp is None or tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(dict.fromkeys(type_str(a, imports) for a in typing.get_args(tp)))
    if origin is not None:
        args = ", ".join(type_str(a, imports) for a in typing.get_args(tp))
        name = {list: "list", dict: "dict", tuple: "tuple"}.get(origin, getattr(origin, "__name__", "Any"))
        return f"{name}[{args}]" if args else name
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return f"{imports.module_alias(tp.__module__)}.{tp.__name__}"
    if isinstance(tp, type) and tp.__module__ == "builtins":
        return tp.__name__
    if isinstance(tp, type) and tp.__module__ == "decimal":
        return "Decimal"
    return "Any"


def py_name(param: Param) -> str:
    name = param.py_name
    return name + "_" if keyword.iskeyword(name) else name


def annotation(param: Param, imports: Imports) -> str:
    if param.kind is Kind.ENUM and param.enum is not None:
        imports.enums.add(param.enum.__name__)
        return f"{param.enum.__name__} | str"
    return _KIND_ANNOTATION[param.kind]


def render_signature(ep: Endpoint, imports: Imports, symbol: str | None = None) -> tuple[str, str]:
    """The parameter list and the call's mapping; ``symbol`` overrides the symbol parameter's
    annotation in an ``@overload`` (``"str"``: sent, ``"None"``: omitted)."""
    required = [p for p in ep.params if p.required]
    optional = [p for p in ep.params if not p.required]
    lines = ["self"]
    if ep.params:
        lines.append("*")
    lines += [f"{py_name(p)}: {annotation(p, imports)}" for p in required]
    for p in optional:
        if p.name == "symbol" and symbol == "str":
            lines.append("symbol: str")
        elif p.name == "symbol" and symbol == "None":
            lines.append("symbol: None = None")
        else:
            lines.append(f"{py_name(p)}: {annotation(p, imports)} | None = None")
    body = ", ".join(f'"{p.name}": {py_name(p)}' for p in ep.params)
    return ",\n        ".join(lines), "{" + body + "}"


def render_overloads(ep: Endpoint, imports: Imports, prefix: str) -> str:
    """Two ``@overload`` stubs: with ``symbol`` one result, without it the list of all."""
    one, many = type_str(ep.returns, imports), type_str(ep.returns_all, imports)
    out = []
    for symbol, ret in (("str", one), ("None", many)):
        sig, _ = render_signature(ep, imports, symbol)
        out.append(f"    @overload\n    {prefix} {ep.name}(\n        {sig},\n    ) -> {ret}: ...\n")
    return "\n".join(out)


def weight_text(ep: Endpoint) -> str:
    if isinstance(ep.weight, int):
        return str(ep.weight)
    text = (ep.weight.__doc__ or "depends on parameters").strip()
    return text.removeprefix("weight ")


def docstring(ep: Endpoint, extra: str = "") -> str:
    summary = ep.summary or ep.name.replace("_", " ").capitalize()
    lines = [f"{summary}{extra}", "", f"``{ep.label}`` · weight {weight_text(ep)} · security {ep.security.value}"]
    params = [p for p in ep.params if p.doc]
    if params:
        lines += ["", "Parameters", "----------"]
        for p in params:
            lines.append(f"{py_name(p)} : {p.doc}")
    if ep.doc:
        lines += ["", "References", "----------", ep.doc]
    indented = [f"        {line}" if line else "" for line in lines[1:]]
    return "\n".join(['"""' + lines[0], *indented, '        """'])


def render(is_async: bool) -> str:
    imports = Imports()
    methods: list[str] = []
    prefix = "async def" if is_async else "def"
    call = "await self._call" if is_async else "self._call"
    for ep in ENDPOINTS:
        sig, body = render_signature(ep, imports)
        ret = type_str(ep.returns, imports)
        if ep.returns_all is not None:
            ret = " | ".join(dict.fromkeys([*ret.split(" | "), *type_str(ep.returns_all, imports).split(" | ")]))
            if ep.param("symbol") is not None and not ep.param("symbol").required:  # type: ignore[union-attr]
                methods.append(render_overloads(ep, imports, prefix))
        methods.append(
            f"    {prefix} {ep.name}(\n        {sig},\n    ) -> {ret}:\n"
            f"        {docstring(ep)}\n"
            f"        return {call}(_EP[\"{ep.name}\"], {body})  # type: ignore[no-any-return]\n"
        )
        if ep.frame:
            methods.append(
                f"    {prefix} {ep.name}_df(\n        {sig},\n    ) -> DataFrame:\n"
                f"        {docstring(ep, ' as a pandas DataFrame (UTC DatetimeIndex, numeric columns)')}\n"
                f"        return {call}(_EP[\"{ep.name}\"], {body}, FRAMES[\"{ep.frame}\"])  # type: ignore[no-any-return]\n"
            )
    cls = "AsyncEndpointMethods" if is_async else "SyncEndpointMethods"
    call_type = "Callable[..., Awaitable[Any]]" if is_async else "Callable[..., Any]"
    header = [
        '"""GENERATED by scripts/gen_endpoints.py from binfut.protocol.endpoints — do not edit.',
        "",
        f"One typed method per USD-M endpoint for the {'async' if is_async else 'sync'} client; each builds the",
        "wire-named parameter mapping and hands it to the shared call flow.",
        '"""',
        "",
        "# ruff: noqa",
        "from __future__ import annotations",
        "",
        "from collections.abc import Awaitable, Callable, Sequence" if is_async else "from collections.abc import Callable, Sequence",
        "from decimal import Decimal",
        "from typing import TYPE_CHECKING, Any, overload",
        "",
    ]
    if imports.enums:
        header.append(f"from binfut.enums import {', '.join(sorted(imports.enums))}")
    header.append("from binfut.protocol.endpoints import BY_NAME as _EP")
    header.append("from binfut.protocol.frames import FRAMES")
    for module, alias in sorted(imports.modules.items()):
        header.append(f"import {module} as {alias}")
    header += [
        "from binfut.types import Num",
        "",
        "if TYPE_CHECKING:",
        "    from pandas import DataFrame",
        "",
        '__all__ = ["' + cls + '"]',
        "",
        "",
        f"class {cls}:",
        '    """Generated endpoint methods; the client class supplies ``_call``."""',
        "",
        "    __slots__ = ()",
        f"    _call: {call_type}",
        "",
        "",
    ]
    return "\n".join(header) + "\n".join(methods)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drift = []
    for is_async, name in ((False, "_methods_sync.py"), (True, "_methods_async.py")):
        text = render(is_async)
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                drift.append(name)
        else:
            path.write_text(text)
    if drift:
        print(f"generated client methods are out of date: {', '.join(drift)}; run python scripts/gen_endpoints.py")
        return 1
    print("client methods up to date" if check else f"wrote {len(ENDPOINTS)} endpoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
