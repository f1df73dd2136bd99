"""Shared test fixtures: where ../shared lives, and whether real services must be present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED = Path(os.environ.get("NEWSWATCH_SHARED_DIR", REPO_ROOT.parent / "shared"))


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def need_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip (fail in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent (the ../shared corpora are not beside this clone)"
        if _required("NEWSWATCH_REQUIRE_SHARED"):
            pytest.fail(reason + " and NEWSWATCH_REQUIRE_SHARED=1")
        pytest.skip(reason)
    return path


def need_service(name: str, available: bool, detail: str) -> None:
    """Skip (fail in CI) when a real service the test needs is down."""
    if available:
        return
    reason = f"{name} is not reachable ({detail})"
    if _required("NEWSWATCH_REQUIRE_SERVICES"):
        pytest.fail(reason + " and NEWSWATCH_REQUIRE_SERVICES=1")
    pytest.skip(reason)


@pytest.fixture
def shared_dir() -> Path:
    return need_shared()
