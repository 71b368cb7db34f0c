"""Versioned artefacts: register each version once, promote one to serve, roll back.

A registry is a folder of immutable artefacts ``<name>-v<version>.pt`` and one small JSON
file that records which version is *current* and every promotion before it. Rolling back
re-promotes the previous version: nothing is deleted, and the log shows what happened.

>>> registry = ArtefactRegistry(tempfile.mkdtemp(), "pneumoniamnist")   # doctest: +SKIP
>>> registry.register(v1); registry.promote("1.0.0")                   # doctest: +SKIP
>>> registry.register(v2); registry.promote("2.0.0"); registry.rollback()  # doctest: +SKIP
'1.0.0'
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .predictor import Predictor


def version_key(version: str) -> tuple[int, ...]:
    """Sort key: ``"1.10.0"`` after ``"1.9.0"``.

    >>> sorted(["1.10.0", "1.9.0", "2.0.0"], key=version_key)
    ['1.9.0', '1.10.0', '2.0.0']
    """
    return tuple(int(part) for part in version.split("."))


class ArtefactRegistry:
    """The versions of one model (``name``) in ``folder``, and which one is served."""

    def __init__(self, folder: str | Path, name: str):
        self.folder, self.name = Path(folder), name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_path = self.folder / f"{name}-registry.json"

    def path(self, version: str) -> Path:
        return self.folder / f"{self.name}-v{version}.pt"

    def register(self, predictor: Predictor) -> Path:
        """Save ``predictor`` as its version; a version, once registered, is never overwritten."""
        path = self.path(predictor.version)
        if path.exists():
            raise FileExistsError(f"{self.name} v{predictor.version} is already registered ({path}); "
                                  "released versions are immutable: bump the version")
        return predictor.save(path)

    def versions(self) -> list[str]:
        """Registered versions, oldest first."""
        prefix = f"{self.name}-v"
        found = [p.name[len(prefix):-3] for p in self.folder.glob(f"{prefix}*.pt")]
        return sorted(found, key=version_key)

    def _log(self) -> list[dict]:
        return json.loads(self.log_path.read_text())["promotions"] if self.log_path.exists() else []

    def promote(self, version: str, reason: str = "") -> None:
        """Make ``version`` the one to serve (it must be registered)."""
        if version not in self.versions():
            raise ValueError(f"{self.name} v{version} is not registered; registered: {self.versions()}")
        log = self._log() + [{"version": version, "reason": reason,
                              "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}]
        tmp = self.log_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"name": self.name, "promotions": log}, indent=1))
        os.replace(tmp, self.log_path)  # atomic: a crash leaves the old log or the new one

    def current(self) -> str:
        """The version being served."""
        log = self._log()
        if not log:
            raise LookupError(f"no version of {self.name} has been promoted yet")
        return log[-1]["version"]

    def history(self) -> list[dict]:
        """Every promotion, oldest first: ``{"version", "reason", "at"}``."""
        return self._log()

    def rollback(self, reason: str = "rollback") -> str:
        """Promote the version that was current before the current one; return it."""
        log = self._log()
        current = self.current()
        earlier = [entry["version"] for entry in log if entry["version"] != current]
        if not earlier:
            raise LookupError(f"nothing to roll back to: {self.name} has only ever served v{current}")
        self.promote(earlier[-1], reason)
        return earlier[-1]

    def load(self, version: str | None = None) -> Predictor:
        """The predictor of ``version`` (default: the current one)."""
        return Predictor.load(self.path(version or self.current()))
