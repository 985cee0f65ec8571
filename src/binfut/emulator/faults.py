"""Fault injection for the local exchange: seeded, scheduled misbehaviour, every firing logged.

A :class:`FaultInjector` holds :class:`FaultRule` records (from ``--faults FILE``, YAML or JSON, or
added in-process). Each rule has a kind, a target filter and a schedule; the HTTP layer asks
:meth:`FaultInjector.check` once per request and kind, the WebSocket layer asks
:meth:`FaultInjector.should`. Rules kept here:
- a rule counts the events that match its filter (its kind and ``endpoints``); it fires on the
  ``at_requests`` numbers (1-based), on every ``every``-th one, or with ``probability`` drawn from
  the injected seeded ``random.Random``; with no schedule at all it fires on every match;
- ``count`` > 1 makes a storm: once fired, the next ``count - 1`` matches fire too;
- ``max_fires`` caps the total; ``clock_skew`` is not scheduled: it shifts server time while loaded;
- every firing is appended to :attr:`FaultInjector.log` (and, when a path is given, to a JSON-lines
  file) with the server time, kind, target and details, so a test can compare what a client saw
  with what happened. Pure except for that append-only file; no clock reads (``now_ms`` comes in).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec

from binfut.errors import ConfigError

__all__ = ["FaultInjector", "FaultKind", "FaultRecord", "FaultRule", "load_fault_file"]


class FaultKind(StrEnum):
    """What can go wrong."""

    LATENCY = "latency"  # answer late (``ms`` plus up to ``jitter_ms``)
    DROP = "drop"  # close the connection without answering (``execute``: after running the request)
    HTTP_5XX = "http_5xx"  # ``status`` (default 503) with -1001, nothing executed
    UNKNOWN_STATUS = "unknown_status"  # executed, then answered 503 with ``code`` -1006 / -1007
    RATE_LIMIT = "rate_limit"  # 429 -1003 with Retry-After ``retry_after`` (a storm with ``count``)
    BAN = "ban"  # 418 with Retry-After ``retry_after``
    WS_DISCONNECT = "ws_disconnect"  # the WebSocket side drops a connection
    DEPTH_GAP = "depth_gap"  # the WebSocket side skips one depth update (a ``pu`` gap)
    LISTEN_KEY_EXPIRY = "listen_key_expiry"  # a listenKey expires early
    CLOCK_SKEW = "clock_skew"  # server time runs ``offset_ms`` off the clock

    @property
    def is_http(self) -> bool:
        return self in _HTTP_KINDS


_HTTP_KINDS = frozenset(
    {
        FaultKind.LATENCY,
        FaultKind.DROP,
        FaultKind.HTTP_5XX,
        FaultKind.UNKNOWN_STATUS,
        FaultKind.RATE_LIMIT,
        FaultKind.BAN,
    }
)


class FaultRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One fault rule.

    Parameters
    ----------
    kind : see :class:`FaultKind`
    probability : chance per matching event (seeded RNG)
    every : fire on every N-th matching event
    at_requests : fire on these matching-event numbers (1-based)
    endpoints : only events whose target (endpoint name, stream, connection label) is listed
    max_fires : stop after this many firings
    count : storm length: matches that fire after the first one, plus one
    ms, jitter_ms : latency
    status : HTTP status of ``http_5xx`` (500, 502, 503, 504)
    code : Binance code of ``unknown_status`` (-1006 or -1007) or ``http_5xx`` (-1001)
    retry_after : Retry-After seconds of ``rate_limit`` / ``ban``
    offset_ms : ``clock_skew`` offset added to server time
    execute : ``drop`` only: run the request before dropping the connection
    """

    kind: FaultKind
    probability: float | None = None
    every: int | None = None
    at_requests: list[int] | None = None
    endpoints: list[str] | None = None
    max_fires: int | None = None
    count: int = 1
    ms: int = 0
    jitter_ms: int = 0
    status: int | None = None
    code: int | None = None
    retry_after: int = 1
    offset_ms: int = 0
    execute: bool = False


class FaultRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One fired fault: server time, kind, target (endpoint / connection) and details."""

    time_ms: int
    kind: str
    target: str
    detail: str = ""
    rule: int = -1  # index of the rule that fired (-1: in-process trigger)


class _FaultFile(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[FaultRule] = []
    seed: int | None = None
    log: str | None = None


@dataclass(slots=True)
class _RuleState:
    matched: int = 0
    fired: int = 0
    storm_left: int = 0


class FaultInjector:
    """Decides when faults fire and keeps the log.

    Parameters
    ----------
    rules : initial rules
    rng : the seeded random source for ``probability`` and latency jitter
    log_path : append every fired fault to this file as one JSON line
    """

    __slots__ = ("_rng", "_states", "log", "log_path", "rules", "_skew_logged")

    def __init__(
        self, rules: list[FaultRule] | tuple[FaultRule, ...] = (), *, rng: random.Random, log_path: str | None = None
    ) -> None:
        self._rng = rng
        self.rules: list[FaultRule] = []
        self._states: list[_RuleState] = []
        self.log: list[FaultRecord] = []
        self.log_path = log_path
        self._skew_logged: set[int] = set()
        for rule in rules:
            self.add(rule)

    # --- rule management -------------------------------------------------------------------------

    def add(self, rule: FaultRule | None = None, **fields: Any) -> FaultRule:
        """Add a rule (a :class:`FaultRule`, or its fields as keywords: ``add(kind="drop", every=3)``)."""
        if rule is None:
            try:
                rule = msgspec.convert(fields, FaultRule)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"bad fault rule {fields}: {exc}") from None
        self.rules.append(rule)
        self._states.append(_RuleState())
        return rule

    def clear(self) -> None:
        """Remove every rule (the log is kept)."""
        self.rules.clear()
        self._states.clear()
        self._skew_logged.clear()

    def load(self, path: str | Path) -> None:
        """Add the rules of a YAML or JSON fault file (its ``seed`` and ``log`` apply too)."""
        spec = load_fault_file(path)
        if spec.seed is not None:
            self._rng.seed(spec.seed)
        if spec.log and self.log_path is None:
            self.log_path = spec.log
        for rule in spec.rules:
            self.add(rule)

    # --- decisions -----------------------------------------------------------------------------

    def check(self, kind: FaultKind | str, now_ms: int, target: str = "", detail: str = "") -> FaultRule | None:
        """Count one event of ``kind`` on ``target``; the rule that fires, or None.

        At most one rule fires per call (the first that decides to); every matching rule counts the
        event either way, so schedules stay independent of each other.
        """
        kind = FaultKind(kind)
        fired: FaultRule | None = None
        for index, rule in enumerate(self.rules):
            if rule.kind is not kind or (rule.endpoints and target not in rule.endpoints):
                continue
            state = self._states[index]
            state.matched += 1
            if fired is not None or (rule.max_fires is not None and state.fired >= rule.max_fires):
                continue
            if self._decide(rule, state):
                state.fired += 1
                state.storm_left = max(0, rule.count - 1) if state.storm_left == 0 else state.storm_left - 1
                fired = rule
                self.record(kind, now_ms, target, detail or _describe(rule), rule=index)
        return fired

    def should(self, kind: FaultKind | str, now_ms: int, target: str = "", detail: str = "") -> bool:
        """:meth:`check` as a predicate (the WebSocket side's entry point)."""
        return self.check(kind, now_ms, target, detail) is not None

    def has(self, kind: FaultKind | str) -> bool:
        """True when a rule of ``kind`` is loaded (lets hot paths skip the check)."""
        kind = FaultKind(kind)
        return any(rule.kind is kind for rule in self.rules)

    def latency_ms(self, rule: FaultRule) -> int:
        """The delay a fired latency rule asks for (``ms`` plus seeded jitter)."""
        return rule.ms + (self._rng.randint(0, rule.jitter_ms) if rule.jitter_ms > 0 else 0)

    def clock_offset_ms(self, now_ms: int) -> int:
        """Total ``clock_skew`` offset (each skew rule is logged the first time it applies)."""
        total = 0
        for index, rule in enumerate(self.rules):
            if rule.kind is FaultKind.CLOCK_SKEW:
                total += rule.offset_ms
                if index not in self._skew_logged:
                    self._skew_logged.add(index)
                    self.record(FaultKind.CLOCK_SKEW, now_ms, "server_time", f"offset_ms={rule.offset_ms}", rule=index)
        return total

    def record(self, kind: FaultKind | str, now_ms: int, target: str, detail: str = "", *, rule: int = -1) -> None:
        """Append one fired fault to the log (and the log file)."""
        entry = FaultRecord(time_ms=now_ms, kind=str(FaultKind(kind).value), target=target, detail=detail, rule=rule)
        self.log.append(entry)
        if self.log_path:
            with open(self.log_path, "ab") as fh:
                fh.write(msgspec.json.encode(entry) + b"\n")

    def fired(self, kind: FaultKind | str | None = None) -> list[FaultRecord]:
        """The log, optionally only one kind."""
        if kind is None:
            return list(self.log)
        value = FaultKind(kind).value
        return [r for r in self.log if r.kind == value]

    def _decide(self, rule: FaultRule, state: _RuleState) -> bool:
        if state.storm_left > 0:
            return True
        scheduled = False
        if rule.at_requests is not None:
            scheduled = True
            if state.matched in rule.at_requests:
                return True
        if rule.every is not None and rule.every > 0:
            scheduled = True
            if state.matched % rule.every == 0:
                return True
        if rule.probability is not None:
            return self._rng.random() < rule.probability
        return not scheduled

    def __repr__(self) -> str:
        return f"FaultInjector(rules={len(self.rules)}, fired={len(self.log)})"


def _describe(rule: FaultRule) -> str:
    k = rule.kind
    if k is FaultKind.LATENCY:
        return f"ms={rule.ms} jitter_ms={rule.jitter_ms}"
    if k is FaultKind.HTTP_5XX:
        return f"status={rule.status or 503}"
    if k is FaultKind.UNKNOWN_STATUS:
        return f"status=503 code={rule.code or -1006} executed=true"
    if k in (FaultKind.RATE_LIMIT, FaultKind.BAN):
        return f"retry_after={rule.retry_after}"
    if k is FaultKind.DROP:
        return f"executed={'true' if rule.execute else 'false'}"
    return ""


# --- fault files ---------------------------------------------------------------------------------


def load_fault_file(path: str | Path) -> _FaultFile:
    """Read a fault file: ``{"seed": 7, "log": "faults.log", "rules": [...]}`` or a bare rule list.

    YAML is read with PyYAML when installed, otherwise with a small built-in reader of the block
    subset the format needs (mappings, ``- `` lists, ``[a, b]`` flow lists, scalars).

    Raises
    ------
    ConfigError
        Unreadable file, bad syntax or an unknown field.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read fault file {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
            data = json.loads(text)
        else:
            data = _read_yaml(text)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"fault file {p}: cannot parse: {exc}") from None
    if isinstance(data, list):
        data = {"rules": data}
    if isinstance(data, dict):  # "at" is accepted as a short alias of "at_requests"
        for item in data.get("rules") or []:
            if isinstance(item, dict) and "at" in item:
                item["at_requests"] = item.pop("at")
    try:
        return msgspec.convert(data, _FaultFile)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"fault file {p}: {exc}") from None


def _read_yaml(text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return _MiniYaml(text).parse()
    return yaml.safe_load(text)


class _MiniYaml:
    """Block-style YAML subset: nested mappings and ``- `` sequences, flow lists, plain scalars."""

    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str]] = []
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
            if line.strip() and line.strip() != "---":
                self.lines.append((len(line) - len(line.lstrip()), line.strip()))
        self.pos = 0

    def parse(self) -> Any:
        return self._block(self.lines[0][0]) if self.lines else {}

    def _block(self, indent: int) -> Any:
        if self.lines[self.pos][1].startswith("- ") or self.lines[self.pos][1] == "-":
            return self._seq(indent)
        return self._map(indent)

    def _seq(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while self.pos < len(self.lines):
            ind, text = self.lines[self.pos]
            if ind < indent or not (text.startswith("- ") or text == "-"):
                break
            body = text[2:].strip()
            if not body:
                self.pos += 1
                out.append(self._block(self.lines[self.pos][0]))
            elif ":" in body and not body.startswith(("[", "'", '"')):
                # "- key: value" opens a mapping whose other keys sit at the item's body column.
                self.lines[self.pos] = (ind + 2, body)
                out.append(self._map(ind + 2))
            else:
                self.pos += 1
                out.append(_scalar(body))
        return out

    def _map(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.pos < len(self.lines):
            ind, text = self.lines[self.pos]
            if ind < indent or text.startswith("- "):
                break
            if ind > indent:
                raise ValueError(f"unexpected indentation at {text!r}")
            key, _, value = text.partition(":")
            self.pos += 1
            if value.strip():
                out[key.strip()] = _scalar(value.strip())
            elif self.pos < len(self.lines) and self.lines[self.pos][0] >= indent:
                nxt_ind, nxt = self.lines[self.pos]
                out[key.strip()] = self._block(nxt_ind) if nxt_ind > indent or nxt.startswith("- ") else None
            else:
                out[key.strip()] = None
        return out


def _scalar(text: str) -> Any:
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(part.strip()) for part in inner.split(",")] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", "none"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
