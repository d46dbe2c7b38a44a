"""Bearer-token auth and a request size limit, as plain ASGI middleware in front of BentoML.

Tokens come from ``LEADSCORE_API_TOKENS`` (comma-separated). Probes and the API docs stay open so
an orchestrator can check the service without a secret.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/", "/docs"})


async def _reply(
    send: Send, status: int, error: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """401 unless ``Authorization: Bearer <token>`` names a configured token."""

    def __init__(self, app: ASGIApp, tokens: frozenset[str]) -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path", "") in OPEN_PATHS
            or scope.get("path", "").startswith("/static_content")
        ):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        valid = scheme.lower() == b"bearer" and any(
            hmac.compare_digest(token.strip(), known) for known in self.tokens
        )
        if not valid:
            error = "missing or invalid bearer token (Authorization: Bearer <token>)"
            await _reply(send, 401, error, [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


class RequestSizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = f"request body over {self.max_bytes} bytes"
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number")
                return
            if announced > self.max_bytes:
                await _reply(send, 413, too_big)
                return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _reply(send, 413, too_big)


class _TooLarge(Exception):
    pass
