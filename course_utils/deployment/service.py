"""A small web service around a predictor artefact: FastAPI under uvicorn, started by one command.

    python -m course_utils.deployment.service --artefact data/artefacts/pneumoniamnist-v1.0.0.pt --port 8000

Endpoints:

- ``POST /predict``: a multipart upload with the image in the field ``file``; answers
  ``{"label", "top": [{"class", "probability"}, ...], "version", "threshold", "source"}``.
  A bad upload gets a 4xx answer whose ``detail`` names the file and the problem
  (415 not an image, 422 truncated, too small or wrong channels, 413 too large, 400 empty).
- ``GET /health``: ``{"status": "ok", "version", "classes"}``, for load balancers and tests;
  ``GET /ready`` the same once the model is loaded. Both run on the event loop, not in the
  worker threads that run the model, so they answer during a burst of predictions.
- ``GET /``: a minimal upload form for a browser. The API pages (``/docs``) only with ``--docs``.

Hostile uploads get a 4xx, never a 500: the body limit is enforced while the upload streams
(``BodyLimit``), a stalled body is answered 408, two parts named ``file`` are refused, and the
decoder accepts a few formats and a bounded number of pixels (``inputs.decode``).

>>> with serve_in_background("model.pt") as url:                 # doctest: +SKIP
...     httpx.post(f"{url}/predict", files={"file": open("scan.png", "rb")}).json()
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from .body_limit import BodyLimit
from .inputs import InvalidImageError
from .predictor import Predictor

MAX_UPLOAD_BYTES = 10_000_000
CONCURRENT_PREDICTIONS = max(2, os.cpu_count() or 2)

FORM = """<!doctype html><title>{title}</title>
<h1>{title}</h1><p>Model version {version}; classes: {classes}.</p>
<form action="/predict" method="post" enctype="multipart/form-data">
<input type="file" name="file" accept="image/*"> <button>Predict</button></form>"""


def status_for(error: InvalidImageError) -> int:
    """The HTTP status of a bad upload: 400 empty, 413 too many pixels, 415 not an image, 422 otherwise."""
    if error.problem.startswith("is empty"):
        return 400
    if error.problem.startswith("has too many pixels"):
        return 413
    return 415 if error.problem.startswith("is not an image") else 422


NO_FILE = ("send one image as a multipart/form-data upload in the field 'file', e.g. "
           "curl -F file=@scan.png http://HOST:PORT/predict")


def create_app(predictor: Predictor, title: str = "Image classifier", docs: bool = False,
               body_timeout: float = 10.0) -> FastAPI:
    """The FastAPI application serving ``predictor``; ``docs`` opens ``/docs`` and ``/openapi.json``;
    an upload that sends nothing for ``body_timeout`` seconds is answered 408."""
    app = FastAPI(title=title, version=predictor.version, docs_url="/docs" if docs else None,
                  redoc_url=None, openapi_url="/openapi.json" if docs else None)
    # Decoding and the model run at most CONCURRENT_PREDICTIONS at a time, so memory does not
    # grow with the number of clients (anyio's default pool would run 40 at once).
    limiter = anyio.CapacityLimiter(CONCURRENT_PREDICTIONS)
    # the form parser's own overhead (part headers) on top of the file
    app.add_middleware(BodyLimit, max_bytes=MAX_UPLOAD_BYTES + 100_000, chunk_timeout=body_timeout,
                       total_timeout=6 * body_timeout)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "version": predictor.version, "classes": predictor.classes}

    @app.get("/ready")
    async def ready() -> dict:
        return {"status": "ready", "version": predictor.version}

    @app.get("/", response_class=HTMLResponse)
    async def form() -> str:
        return FORM.format(title=title, version=predictor.version, classes=", ".join(predictor.classes))

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPException(422, NO_FILE)
        async with request.form(max_files=4, max_fields=16) as form:
            files = [part for part in form.getlist("file") if isinstance(part, UploadFile)]
            if not files:
                raise HTTPException(422, NO_FILE)
            if len(files) > 1:
                raise HTTPException(422, f"send one image per request: got {len(files)} parts named 'file'")
            name = files[0].filename or "upload"
            data = await files[0].read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"{name}: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
        try:  # in a worker thread (the event loop keeps answering /health), a few at a time
            result = await anyio.to_thread.run_sync(lambda: predictor.predict(data, names=[name]),
                                                    limiter=limiter)
        except InvalidImageError as error:
            raise HTTPException(status_for(error), str(error)) from None
        return {**result.as_dict(), "threshold": predictor.threshold}

    return app


def free_port() -> int:
    """A TCP port that is free on this machine now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_background(artefact: str | Path, port: int | None = None, host: str = "127.0.0.1",
                        timeout: float = 120.0, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start the service in a child process with the one command, yield its URL, stop it.

    Waits until ``/health`` answers; if the server dies first, the error shows its log.
    """
    import httpx

    port = port or free_port()
    command = [sys.executable, "-m", "course_utils.deployment.service", "--artefact", str(artefact),
               "--host", host, "--port", str(port), *extra_args]
    url = f"http://{host}:{port}"
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the service exited with code {server.returncode}:\n{log.read()[-3000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the service did not answer on {url} within {timeout:.0f} s")
                time.sleep(0.25)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a predictor artefact over HTTP.")
    parser.add_argument("--artefact", required=True, help="a .pt file written by Predictor.save")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--onnx", default=None, help="run the network with ONNX Runtime from this .onnx file")
    parser.add_argument("--docs", action="store_true", help="serve the API pages at /docs")
    parser.add_argument("--body-timeout", type=float, default=10.0,
                        help="seconds an upload may send nothing before it is answered 408")
    args = parser.parse_args(argv)

    import uvicorn

    predictor = Predictor.load(args.artefact)
    if args.onnx:
        from .export import onnx_runner, onnx_session

        predictor.use_runtime(onnx_runner(onnx_session(args.onnx)))
    print(f"serving {predictor} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(predictor, docs=args.docs, body_timeout=args.body_timeout), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
