"""A small web service around a predictor artefact: FastAPI under uvicorn, started by one command.

    python -m course_utils.deployment.service --artefact data/artefacts/pneumoniamnist-v1.0.0.pt --port 8000

Endpoints:

- ``POST /predict``: a multipart upload with the image in the field ``file``; answers
  ``{"label", "top": [{"class", "probability"}, ...], "version", "threshold", "source"}``.
  A bad upload gets a 4xx answer whose ``detail`` names the file and the problem
  (415 not an image, 422 truncated, too small or wrong channels, 413 too large, 400 empty).
- ``GET /health``: ``{"status": "ok", "version", "classes"}``, for load balancers and tests.
- ``GET /``: a minimal upload form for a browser.

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
from typing import Annotated

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from .inputs import InvalidImageError
from .predictor import Predictor

MAX_UPLOAD_BYTES = 10_000_000

FORM = """<!doctype html><title>{title}</title>
<h1>{title}</h1><p>Model version {version}; classes: {classes}.</p>
<form action="/predict" method="post" enctype="multipart/form-data">
<input type="file" name="file" accept="image/*"> <button>Predict</button></form>"""


def status_for(error: InvalidImageError) -> int:
    """The HTTP status of a bad upload: 400 empty, 415 not an image, 422 otherwise."""
    if error.problem.startswith("is empty"):
        return 400
    return 415 if error.problem.startswith("is not an image") else 422


def create_app(predictor: Predictor, title: str = "Image classifier") -> FastAPI:
    """The FastAPI application serving ``predictor``."""
    app = FastAPI(title=title, version=predictor.version)

    @app.exception_handler(RequestValidationError)
    async def missing_file(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "detail": "send one image as a multipart/form-data upload in the field 'file', e.g. "
                      "curl -F file=@scan.png http://HOST:PORT/predict"})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": predictor.version, "classes": predictor.classes}

    @app.get("/", response_class=HTMLResponse)
    def form() -> str:
        return FORM.format(title=title, version=predictor.version, classes=", ".join(predictor.classes))

    @app.post("/predict")
    def predict(file: Annotated[UploadFile, File()]) -> dict:  # plain def: runs in a worker thread
        name = file.filename or "upload"
        data = file.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"{name}: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
        try:
            result = predictor.predict(data, names=[name])
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
    args = parser.parse_args(argv)

    import uvicorn

    predictor = Predictor.load(args.artefact)
    if args.onnx:
        from .export import onnx_runner, onnx_session

        predictor.use_runtime(onnx_runner(onnx_session(args.onnx)))
    print(f"serving {predictor} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(predictor), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
