"""Servers a fault test owns and may kill: its own Redis and PostgreSQL, loopback listeners
that must never be reached, and a tripwire that keeps every worker on loopback.

Never the machine's shared Redis (6379) or PostgreSQL (5432): each server here runs on a
free port with its files in the test's temporary directory, and is killed by its own pid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.conftest import need_service


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


def _kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with suppress(ProcessLookupError):
        os.kill(process.pid, sig)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)


class OwnRedis:
    """A redis-server of the test's own: append-only, fsync on every write, so a SIGKILL
    loses nothing the server acknowledged, as in docker-compose.yml's production Redis."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        if self.binary is None:
            need_service("redis-server binary", False, "redis-server is not on PATH")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        assert wait_for_port("127.0.0.1", self.port, 20), "own redis-server did not start"
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save; only what the append-only file holds."""
        if self.process is not None:
            _kill(self.process)
            self.process = None

    def queued(self) -> int:
        """Messages waiting in the broker's queues (Celery's lists), read with redis-py."""
        return len(self._queued_messages())

    def queued_articles(self) -> int:
        """Articles whose processing waits in the broker: a message of one
        (``process_article``) or of several (``process_articles``) counts each."""
        count = 0
        for message in self._queued_messages():
            task = message.get("headers", {}).get("task", "")
            if task not in ("newswatch.process_article", "newswatch.process_articles"):
                continue
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
            count += len(args[0]) if isinstance(args[0], list) else 1
        return count

    def _queued_messages(self) -> list[dict[str, Any]]:
        import redis

        client: Any = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            names = [name for name in client.keys("*") if client.type(name) == b"list"]
            return [json.loads(item) for name in names for item in client.lrange(name, 0, -1)]
        finally:
            client.close()


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(directory).start()
    try:
        yield server
    finally:
        server.kill()


def _postgres_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


class OwnPostgres:
    """A throw-away PostgreSQL cluster: initdb + pg_ctl on a free port, run as a non-root
    user (PostgreSQL refuses root), trust auth on loopback only."""

    def __init__(self, directory: Path) -> None:
        self.bin = _postgres_bin()
        self.directory = directory
        self.data = directory / "pgdata"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def init(self) -> OwnPostgres:
        if self.bin is None:
            need_service("PostgreSQL binaries", False, "no /usr/lib/postgresql/*/bin/initdb")
            raise AssertionError("unreachable: need_service skips or fails")
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            shutil.chown(self.directory, self.user)
        result = self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        assert result.returncode == 0, f"initdb failed: {result.stderr[-2000:]}"
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        result = self._run(
            str(self.bin / "pg_ctl"),  # type: ignore[operator]
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        assert result.returncode == 0, f"pg_ctl start failed: {result.stderr[-2000:]}"

    def postmaster_pid(self) -> int | None:
        with suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def crash(self) -> None:
        """Take it away as a crash would: SIGQUIT to our postmaster (immediate shutdown,
        no checkpoint), then wait until every backend of it is gone."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)

    def stop(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None and Path(f"/proc/{pid}").exists():
            self.crash()


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """The cluster lives in a directory of its own under the system's temp directory, not
    under pytest's, which is private to root (and re-made so by every pytest session)."""
    directory = Path(tempfile.mkdtemp(prefix="newswatch-faults-pg-"))
    server = OwnPostgres(directory).init()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


class Listener:
    """A loopback TCP listener that must never be reached: counts every connection and
    closes it at once. Used behind every SSRF spelling and XXE URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self.hits: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits.append(str(peer))
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


# A sitecustomize for the worker processes under test (via PYTHONPATH): every outbound
# connection to an address off loopback, and every name lookup other than localhost, is
# refused and written down. It keeps a broken guard from sending anything off this machine,
# and the fault tests assert the file stays empty. It changes nothing on loopback.
_TRIPWIRE = """
import ipaddress, os, socket

_LOG = os.environ.get("NEWSWATCH_TEST_TRIPWIRE_LOG")
_NAMES = {"localhost", "localhost.", "ip6-localhost", "ip6-loopback"}
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _note(what):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(what + "\\n")


def _off_loopback(address):
    try:
        return not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except (ValueError, IndexError, TypeError):
        return False


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _off_loopback(address):
        _note(f"connect {address[0]} {address[1]}")
        raise ConnectionRefusedError(111, "tripwire: not a loopback address")
    return _real_connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _off_loopback(address):
        _note(f"connect {address[0]} {address[1]}")
        return 111
    return _real_connect_ex(self, address)


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if host is None:
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
    if name.lower() in _NAMES:
        return _real_getaddrinfo(host, port, family, type, proto, flags)
    raise socket.gaierror(socket.EAI_NONAME, "tripwire: no DNS in the fault tests")


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
"""


def install_tripwire(directory: Path, env: dict[str, str]) -> Path:
    """Put the tripwire on the worker's PYTHONPATH; returns the file it writes to."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(_TRIPWIRE)
    log = directory / "tripwire.log"
    log.touch()
    env["PYTHONPATH"] = os.pathsep.join(
        [str(directory), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env["NEWSWATCH_TEST_TRIPWIRE_LOG"] = str(log)
    return log
