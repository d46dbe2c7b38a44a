"""Bearer-token auth, a request size limit and JSON only, as plain ASGI middleware in front of
BentoML.

Tokens come from ``LEADSCORE_API_TOKENS`` (comma-separated). Probes and the API docs stay open so
an orchestrator can check the service without a secret.
"""

from __future__ import annotations

import hmac
import json
import re
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


class RequestIdEcho:
    """A client's ``X-Request-ID`` comes back on every answer, also on a 400 or 401 the API
    never saw (the scoring APIs set it themselves on theirs, :func:`serving.service._request_id`);
    only an id of the allowed form is echoed."""

    def __init__(self, app: ASGIApp, pattern: re.Pattern[str]) -> None:
        self.app = app
        self.pattern = pattern

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = (
            dict(scope.get("headers") or []).get(b"x-request-id")
            if scope["type"] == "http"
            else None
        )
        if sent is None or not self.pattern.fullmatch(sent.decode("latin-1")):
            await self.app(scope, receive, send)
            return

        async def echo(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"x-request-id", sent)]}
            await send(message)

        await self.app(scope, receive, echo)


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
    """413 for bodies over the limit, whether announced by Content-Length or streamed.

    A streamed body (no Content-Length) is read here up to the limit before the service sees
    it: an error raised inside BentoML would be answered 500.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = f"request body over {self.max_bytes} bytes"
        if length is not None:  # the server holds the body to its announced length
            try:
                announced = int(length)
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number")
                return
            if announced > self.max_bytes:
                await _reply(send, 413, too_big)
                return
            await self.app(scope, receive, send)
            return
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await _reply(send, 413, too_big)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


# Form and pickle bodies go to BentoML's multipart and pickle readers, which answer a JSON API's
# client with 500.
NOT_JSON = frozenset(
    {
        b"multipart/form-data",
        b"application/x-www-form-urlencoded",
        b"application/vnd.bentoml+pickle",
    }
)


class JsonOnly:
    """415 for a form or pickle body, or a compressed one: the API reads plain JSON (a missing
    Content-Type is read as JSON, as BentoML does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"content-type", b"")
            if given.split(b";")[0].strip().lower() in NOT_JSON:
                error = "send the body as JSON (Content-Type: application/json)"
                await _reply(send, 415, error)
                return
            encoding = headers.get(b"content-encoding", b"identity").strip().lower()
            if encoding not in (b"", b"identity"):  # read as JSON, gzip was "invalid JSON"
                error = (
                    f"Content-Encoding {encoding.decode('latin-1')!r} is not read; send plain JSON"
                )
                await _reply(send, 415, error)
                return
        await self.app(scope, receive, send)
