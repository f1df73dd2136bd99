"""The data directory and the other directories newswatch writes to."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import ConfigError


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` (and its parents) if needed and check newswatch can write there;
    a path it cannot use is one ConfigError line naming it and why."""
    resolved = path.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise ConfigError(f"{what} {resolved} is a file, not a directory")
    try:
        resolved.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {resolved}: {exc.strerror or exc}") from exc
    if not os.access(resolved, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to {what} {resolved}: permission denied")
    return resolved
