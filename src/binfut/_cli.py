"""What every ``binfut`` command shares: where it goes (``--env`` / ``--url``, its own or the root's) and
how a failure is told (one line on stderr, a traceback only with ``--debug``).

The root app (:mod:`binfut.cli`) and the sub-apps (:mod:`binfut.data.cli`, :mod:`binfut.trading.cli`,
:mod:`binfut.trading.runner_cli`) import these; none of them imports another app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from binfut.errors import BinfutError, ConfigError, ConnectError, TransportError

__all__ = [
    "EXPECTED_ERRORS",
    "announce",
    "describe_target",
    "error_line",
    "global_option",
    "resolve_target",
    "run_guarded",
]

#: Failures a command reports as one line with exit status 1; anything else is "unexpected" (status 2).
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    BinfutError, typer.BadParameter, ValueError, KeyError, OSError, ImportError, TimeoutError,
)  # fmt: skip


def global_option(ctx: typer.Context | None, name: str) -> Any:
    """``binfut``'s global option ``name`` (``env``, ``url``, ``as_json``, ``debug``), as the root callback left
    it in ``ctx.obj``; None when the command runs standalone or the option was not given."""
    return getattr(ctx.obj, name, None) if ctx is not None else None


def resolve_target(ctx: typer.Context | None, env: str | None, url: str | None) -> tuple[str, str | None]:
    """Where a command goes: its own ``--env`` / ``--url`` when given, else ``binfut --env`` / ``--url``,
    else the offline local exchange (``local``). Each option is resolved on its own; the name is checked
    by :func:`announce`."""
    env = env if env is not None else global_option(ctx, "env") or "local"
    url = url if url is not None else global_option(ctx, "url")
    return env, url


def announce(env: str, text: str) -> None:
    """Check that ``env`` names an environment, then say ``text`` (where the command goes) on stderr.

    Raises
    ------
    ConfigError
        ``env`` is not one of local, testnet, demo, mainnet.
    """
    from binfut.config import urls_for

    urls_for(env)
    typer.echo(text, err=True)


def describe_target(env: str, url: str | None, *, streams: bool = False) -> str:
    """``the local exchange at http://127.0.0.1:8765`` or ``testnet at https://...``: the REST base URL a
    client of ``env`` / ``url`` uses, or (``streams``) the market-stream URL a StreamManager opens."""
    from binfut.config import urls_for

    try:
        urls = urls_for(env, url)
    except ConfigError:
        return f"environment {env!r}"
    # Client: --url replaces the REST base of any environment; streams follow --url only for local.
    where = urls.ws_market if streams else (url.rstrip("/") if url else urls.rest)
    return f"the local exchange at {where}" if env == "local" else f"{env} at {where}"


def _one_line(text: str) -> str:
    """Multi-line messages (DuckDB's, msgspec's) joined into one; lines without a letter or digit dropped."""
    lines = [line.strip() for line in text.splitlines()]
    return "; ".join(line for line in lines if any(c.isalnum() for c in line))


def _reason(exc: BaseException) -> str:
    """The innermost cause's message (an OSError's strerror, e.g. ``Connection refused``), or ''."""
    seen: list[BaseException] = []
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None and cause not in seen and len(seen) < 10:
        seen.append(cause)
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    for inner in reversed(seen):
        text = inner.strerror if isinstance(inner, OSError) and inner.strerror else str(inner)
        if _one_line(text):
            return _one_line(text)
    return ""


def error_line(exc: BaseException, target: str | None = None, *, unexpected: bool = False) -> str:
    """``error: Type: message`` on one line, never with an empty message.

    An exception without a message (``TimeoutError()``) is described by its kind (``timed out``) or its
    class docstring; a connection failure names ``target`` (``cannot reach the local exchange at URL``)
    and its innermost cause (``Connection refused``).
    """
    raw = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    message = _one_line(str(raw))
    if not message:
        doc = (type(exc).__doc__ or "").strip().splitlines()
        message = "timed out" if isinstance(exc, TimeoutError) else doc[0].rstrip(".") if doc else "no message"
    if isinstance(exc, TransportError | TimeoutError | ConnectionError):
        reason = _reason(exc)
        if reason and reason not in message:
            message = f"{message} ({reason})"
        # A connection that never opened (the stdlib's own timeouts included) versus one that failed later.
        never_opened = isinstance(exc, ConnectError) or not isinstance(exc, TransportError)
        if target:
            message = f"cannot reach {target}: {message}" if never_opened else f"{target}: {message}"
    name = f"unexpected {type(exc).__name__}" if unexpected else type(exc).__name__
    hint = " (run with --debug for the traceback)" if unexpected else ""
    return f"error: {name}: {message}{hint}"


def run_guarded(action: Callable[[], int | None], *, debug: bool = False, target: str | None = None) -> None:
    """Run a command's body: an exit code it returns is the command's; a failure is one :func:`error_line`
    on stderr with exit status 1 (2 when unexpected); with ``debug`` the exception propagates instead."""
    try:
        code = action()
    except (typer.Exit, typer.Abort):
        raise
    except EXPECTED_ERRORS as exc:
        if debug:
            raise
        typer.echo(error_line(exc, target), err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        if debug:
            raise
        typer.echo(error_line(exc, target, unexpected=True), err=True)
        raise typer.Exit(2) from None
    if code:
        raise typer.Exit(code)
