"""Refuse an oversized or stalled request body while it streams, not after it is on disk.

A web framework that parses a multipart upload first and checks its size afterwards has
already written all of it: a 500 MB upload to a service with a 10 MB limit was once spooled to
disk in full before its 413. ``BodyLimit`` is ASGI middleware that counts the bytes as they
arrive: a declared ``Content-Length`` over the limit is refused before a byte is read, a body
that grows past it is cut off there, and a body that stops arriving (a client that declares
more than it sends, or sends a byte now and then) is answered 408 after ``chunk_timeout``
seconds of silence or ``total_timeout`` seconds in all. The answer is JSON with a ``detail``
that says which, like the service's other refusals.

>>> BodyLimit(app=None, max_bytes=10).max_bytes
10
"""

from __future__ import annotations

import asyncio
import json
import time


async def answer(send, status: int, detail: str) -> None:
    """Send a complete JSON response ``{"detail": ...}`` with ``status``."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body, arriving without long stalls."""

    def __init__(self, app, max_bytes: int, chunk_timeout: float = 10.0, total_timeout: float = 60.0):
        self.app, self.max_bytes = app, max_bytes
        self.chunk_timeout, self.total_timeout = chunk_timeout, total_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            size = int(declared) if declared.isdigit() else -1
            if size < 0:
                await answer(send, 400, f"Content-Length {declared.decode(errors='replace')!r} is not a size")
                return
            if size > self.max_bytes:
                await answer(send, 413, f"the upload is {size / 1e6:.1f} MB; at most {self.max_bytes / 1e6:.0f} MB")
                return
        state = {"received": 0, "answered": False, "started": False, "deadline": time.monotonic() + self.total_timeout}

        async def refuse(status: int, detail: str) -> dict:
            if not state["started"] and not state["answered"]:
                state["answered"] = True
                await answer(send, status, detail)
            return {"type": "http.disconnect"}  # the app stops reading; its own answer is dropped

        async def guarded_receive() -> dict:
            if state["answered"]:
                return {"type": "http.disconnect"}
            wait = min(self.chunk_timeout, state["deadline"] - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.001))
            except asyncio.TimeoutError:
                return await refuse(408, f"the upload stalled after {state['received']} bytes "
                                         f"(no data for {self.chunk_timeout:.0f} s, or over "
                                         f"{self.total_timeout:.0f} s in all)")
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    return await refuse(413, f"the upload is larger than {self.max_bytes / 1e6:.0f} MB")
            return message

        async def guarded_send(message: dict) -> None:
            if state["answered"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not state["answered"]:  # a real error of the app: let the server report it
                raise
