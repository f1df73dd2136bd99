"""`newswatch worker` mistakes about queues and pools: one line, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--queues", "fetch,bulk"), "unknown queue bulk: use one or more of tick, deliver"),
        (("--queues", ","), "unknown queue"),
        (("--pool", "gevent"), "unknown pool 'gevent': use auto, threads or prefork"),
    ],
)
def test_worker_option_mistakes_are_one_line(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["NEWSWATCH_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "worker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr
    assert not (tmp_path / "data" / "redis").exists()  # refused before starting anything
