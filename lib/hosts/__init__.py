"""Hosts: each puts the same handlers behind one kind of host (Falcon ASGI, AWS Lambda, ...).

A host only translates: what it receives into a `messages.Received`, the
`messages.Reply` of `serve.serve` back into its own terms. The pool it lends
to every request is a `Pool`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable


class Pool:
    """Opens the client pool once per process, lends it to every request, closes it at shutdown.

    Given clients, it lends them as they are and leaves closing them to whoever made them.
    """

    def __init__(self, opener: Callable[[], Awaitable[Any]] | None = None, clients: Any = None):
        self._opener = opener
        self.clients = clients

    async def open(self) -> Any:
        if self.clients is None:
            self.clients = await self._opener()
        return self.clients

    async def close(self) -> None:
        if self._opener is not None and self.clients is not None:
            clients, self.clients = self.clients, None
            await clients.aclose()
