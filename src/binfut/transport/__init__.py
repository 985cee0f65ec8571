"""I/O adapters: HTTP transports (urllib3 sync, aiohttp async)."""

from binfut.transport.base import AsyncHttpTransport, HttpTransport

__all__ = ["AsyncHttpTransport", "HttpTransport"]
