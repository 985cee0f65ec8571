"""REST clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio), one endpoint table."""

from binfut.client.async_client import AsyncClient
from binfut.client.sync_client import Client

__all__ = ["AsyncClient", "Client"]
