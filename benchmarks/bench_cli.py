"""Start-up time of the `newswatch` CLI against a bare interpreter, as subprocesses, same run.

Times `newswatch --help`, `feeds list`, `rules list` and `alerts list` end to end (process
start, imports, the schema check every command runs, the query, exit) in a fresh empty
temporary directory, as a user would run them: cwd is that directory, no NEWSWATCH_* variable
is set, so the store is the default ./newswatch-data/newswatch.db. The baseline is
`python -c pass` with the same interpreter. One untimed warm-up round (in a scratch directory)
warms the OS file cache; then the commands are run round-robin, N times each, so background
noise falls on all of them alike. The first `feeds list` in an empty directory also creates
the database: it is timed separately, once per round, each time in a new empty directory.

Prints median/min/max seconds per command, the median minus the baseline's, and the slowest
CLI median as a multiple of the baseline. Exit status is always 0; a command that exits
non-zero is reported with the last line of its stderr.

    .venv/bin/python -m benchmarks.bench_cli [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

FIRST_RUN = "newswatch feeds list (first run, creates db)"
BASELINE = "python -c pass (baseline)"


@dataclass
class Timings:
    label: str
    argv: list[str]
    seconds: list[float] = field(default_factory=list)
    failures: int = 0
    last_error: str = ""


def newswatch_executable() -> str | None:
    """The console script next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "newswatch"
    return str(beside) if beside.is_file() else shutil.which("newswatch")


def child_env() -> dict[str, str]:
    """The caller's environment without NEWSWATCH_* settings (nor import-time profiling)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NEWSWATCH_") and key != "PYTHONPROFILEIMPORTTIME"
    }


def run_once(timings: Timings, cwd: Path, env: dict[str, str], record: bool = True) -> None:
    started = time.perf_counter()
    done = subprocess.run(timings.argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        timings.failures += 1
        lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        timings.last_error = f"exit {done.returncode}: {lines[-1] if lines else '(no stderr)'}"
    if record:
        timings.seconds.append(elapsed)


def row(timings: Timings, baseline: float) -> str:
    values = timings.seconds
    mid = median(values)
    flag = "  (some runs FAILED)" if timings.failures else ""
    return (
        f"{timings.label:46}{mid:10.3f}{min(values):9.3f}{max(values):9.3f}"
        f"{mid - baseline:+15.3f}{flag}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Timed runs of each command.")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    newswatch = newswatch_executable()
    if newswatch is None:
        print("FAILED: newswatch is installed neither next to this interpreter nor on PATH")
        return 0
    env = child_env()

    baseline = Timings(BASELINE, [sys.executable, "-c", "pass"])
    commands = [
        Timings("newswatch --help", [newswatch, "--help"]),
        Timings("newswatch feeds list", [newswatch, "feeds", "list"]),
        Timings("newswatch rules list", [newswatch, "rules", "list"]),
        Timings("newswatch alerts list", [newswatch, "alerts", "list"]),
    ]
    first_run = Timings(FIRST_RUN, [newswatch, "feeds", "list"])
    everything = [baseline, *commands, first_run]

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        scratch, workdir = root / "warm-up", root / "work"
        scratch.mkdir()
        workdir.mkdir()
        # Warm-up, not recorded: loads every module file into the OS cache (and creates a
        # database in the scratch directory), so even the first-run figure is cache-warm.
        for timings in everything:
            run_once(timings, scratch, env, record=False)
        # The first command in the fresh working directory creates its database.
        run_once(first_run, workdir, env)
        for number in range(runs):
            for timings in [baseline, *commands]:
                run_once(timings, workdir, env)
            if number:  # round 0 used workdir itself
                fresh = root / f"first-run-{number}"
                fresh.mkdir()
                run_once(first_run, fresh, env)
        created = (workdir / "newswatch-data" / "newswatch.db").is_file()

    base = median(baseline.seconds)
    print(
        f"{runs} timed runs per command after 1 warm-up round; cwd: fresh temporary directory, "
        "store: default ./newswatch-data"
    )
    print(f"python: {sys.executable}   newswatch: {newswatch}")
    print(f"{'command':46}{'median s':>10}{'min s':>9}{'max s':>9}{'median-base s':>15}")
    for timings in [baseline, *commands, first_run]:
        print(row(timings, base))
    if not created:
        print("note: no ./newswatch-data/newswatch.db was created in the working directory")
    for timings in everything:
        if timings.failures:
            print(
                f"FAILED: {timings.label} exited non-zero in {timings.failures} run(s) "
                f"(warm-up included); last: {timings.last_error}"
            )
    slowest = max(commands, key=lambda t: median(t.seconds))
    slowest_median = median(slowest.seconds)
    print(
        f"slowest CLI median: {slowest.label} {slowest_median:.3f} s = "
        f"{slowest_median / base:.1f}x the baseline's {base:.3f} s "
        f"(first run with db creation: {median(first_run.seconds):.3f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
