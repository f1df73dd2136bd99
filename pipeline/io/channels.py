"""Notification channels: a registry from channel kind to the transport that sends to it.

Every transport returns a ``SendResult`` (status, error, Retry-After, duration) that
``pipeline.stages.delivery.classify_attempt`` turns into delivered / retry / dead; a
transport never raises for a failed send.

- "webhook": a Standard Webhooks signed POST through the HTTP seam (``HttpClient.post``):
  destination guard, timeouts, no redirects. One signature per secret, so both the old and
  the new secret verify during a rotation; ``webhook-id`` is the message's, stable across
  retries.
- "apprise": the target is an Apprise URL (``slack://…``, ``discord://…``, ``mailto://…``,
  ``tgram://…``, ``ntfy://…``, ``json://host/path`` …); the message's title and Markdown
  text go through the ``apprise`` package.

Security: Apprise does its own networking (requests, smtplib), bypassing our seam. So
before each send the host the URL points at, where the user chooses it (json/xml/form,
ntfy or gotify servers, the SMTP host of mailto, Matrix, Mastodon …), is resolved with the
seam's ``DestinationGuard``, and private, loopback, link-local and metadata addresses are
refused unless allowlisted (NEWSWATCH_HTTP_ALLOW_HOSTS). Services whose host is fixed by
the plugin (slack, discord, tgram, ntfy.sh …) have nothing to check. Apprise is told not to
follow redirects, and plugins that act on the local machine (desktop notifications,
syslog, USB lights) are refused. Residual risk: requests resolves the name again when it
connects, so a DNS answer that changes between our check and its connect (rebinding) is
not caught as it is for webhooks, whose guard runs on the address actually dialled.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.errors import BlockedDestinationError, FetchError
from pipeline.io.http import DestinationGuard, HttpClient, parse_retry_after
from pipeline.model import Channel
from pipeline.stages.alert import sign_headers

_ERROR_CHARS = 500

# Plugins that act on this machine rather than send anything anywhere.
_LOCAL_SCHEMES = frozenset(
    {"dbus", "kde", "qt", "glib", "gio", "gnome", "macosx", "windows", "syslog", "blink1"}
)


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification: the exact JSON body for machines, title and Markdown for people."""

    webhook_id: str
    body: str
    title: str
    text: str


@dataclass(frozen=True)
class SendResult:
    """The result of one attempt; ``permanent`` = no retry can fix it (a refused target)."""

    status_code: int | None
    error: str | None
    retry_after: float | None
    duration_ms: int
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Transport(ABC):
    kind: ClassVar[Channel]

    @abstractmethod
    def validate(self, target: str) -> str:
        """Return the target if it is usable for this kind, else raise ValueError."""

    @abstractmethod
    def send(
        self,
        target: str,
        secrets: Sequence[str],
        message: OutgoingMessage,
        http: HttpClient,
        timeout: float,
    ) -> SendResult:
        """Send ``message`` once; failures are returned, never raised."""


class WebhookTransport(Transport):
    kind = Channel.WEBHOOK

    def validate(self, target: str) -> str:
        try:
            DestinationGuard().check_url(target)
        except BlockedDestinationError as exc:
            raise ValueError(f"webhook target must be an http(s) URL: {exc}") from None
        return target

    def send(
        self,
        target: str,
        secrets: Sequence[str],
        message: OutgoingMessage,
        http: HttpClient,
        timeout: float,
    ) -> SendResult:
        started = time.monotonic()
        if not secrets:
            return _result(started, error="the webhook has no signing secret", permanent=True)
        headers = sign_headers(list(secrets), message.webhook_id, message.body)
        headers["user-agent"] = http.limits.user_agent
        try:
            response = http.post(target, message.body.encode(), headers, timeout=timeout)
        except FetchError as exc:
            return _result(started, error=str(exc), permanent=exc.permanent)
        code = response.status_code
        if 200 <= code < 300:
            return _result(started, status_code=code)
        error = f"receiver answered HTTP {code}"
        if 300 <= code < 400:
            location = response.headers.get("location", "")
            error += f" redirecting to {location!r}; redirects are not followed"
        return _result(
            started,
            status_code=code,
            error=error,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


class AppriseTransport(Transport):
    kind = Channel.APPRISE

    def validate(self, target: str) -> str:
        import apprise

        scheme = target.split("://", 1)[0].lower() if "://" in target else ""
        if scheme in _LOCAL_SCHEMES:
            raise ValueError(f"apprise target {scheme}:// notifies this machine; not allowed")
        if not apprise.Apprise(asset=_asset()).add(target):
            raise ValueError(
                f"apprise does not recognise the URL {_redact(target)!r} "
                "(see https://github.com/caronc/apprise/wiki for the URL of each service)"
            )
        return target

    def send(
        self,
        target: str,
        secrets: Sequence[str],
        message: OutgoingMessage,
        http: HttpClient,
        timeout: float,
    ) -> SendResult:
        import apprise

        started = time.monotonic()
        try:
            self.validate(target)
        except ValueError as exc:
            return _result(started, error=str(exc), permanent=True)
        asset = _asset()
        plugin = apprise.Apprise.instantiate(target, asset=asset)
        if plugin is None:
            return _result(started, error="apprise could not load the target", permanent=True)
        try:
            for host, port in destination_hosts(plugin):
                http.guard.resolve(host, port)
        except FetchError as exc:
            return _result(started, error=str(exc), permanent=exc.permanent)
        plugin.socket_connect_timeout = min(http.limits.connect_timeout, timeout)
        plugin.socket_read_timeout = timeout
        notifier = apprise.Apprise(asset=asset)
        notifier.add(plugin)
        error = _notify_with_deadline(notifier, message, timeout)
        return _result(started, error=error)


def destination_hosts(plugin: Any) -> list[tuple[str, int]]:
    """(host, port) pairs an Apprise plugin will connect to, where the user chooses them."""
    name = type(plugin).__name__
    default_port = 443 if getattr(plugin, "secure", False) else 80
    if name == "NotifyEmail":
        smtp_host = getattr(plugin, "smtp_host", None) or plugin.host
        return [(str(smtp_host), int(plugin.port or 25))]
    if name == "NotifyNtfy" and str(getattr(plugin, "mode", "")) == "cloud":
        return []  # ntfy://topic goes to ntfy.sh; the "host" is the topic
    if name == "NotifyMatrix" and str(getattr(plugin, "mode", "")) == "t2bot":
        return []
    if "host" not in getattr(plugin, "template_tokens", {}) or not plugin.host:
        return []  # the service's host is fixed; the URL's "host" part is a token
    port = plugin.port if isinstance(plugin.port, int) else default_port
    return [(str(plugin.host), port)]


def _asset() -> Any:
    import apprise

    # No redirects (they would skip the destination guard), nothing written to disk,
    # and sends run in the calling thread so the deadline below applies to them.
    return apprise.AppriseAsset(http_redirects=False, storage_mode="memory", async_mode=False)


class _ThreadLog(logging.Handler):
    """Collects Apprise's warnings from one thread: its only account of why a send failed."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.WARNING)
        self.thread_id = thread_id
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.messages.append(record.getMessage())


def _notify_with_deadline(notifier: Any, message: OutgoingMessage, timeout: float) -> str | None:
    """Run the send in a thread; a receiver that trickles bytes is cut at the deadline."""
    import apprise

    outcome: dict[str, Any] = {}

    def run() -> None:
        handler = _ThreadLog(threading.get_ident())
        logger = logging.getLogger("apprise")
        logger.addHandler(handler)
        try:
            outcome["ok"] = notifier.notify(
                body=message.text or message.title,
                title=message.title,
                body_format=apprise.NotifyFormat.MARKDOWN,
            )
        except Exception as exc:  # a plugin bug must not kill the worker
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            logger.removeHandler(handler)
            outcome["log"] = handler.messages

    worker = threading.Thread(target=run, name="apprise-send", daemon=True)
    worker.start()
    # Apprise's timeouts bound each socket operation, so a receiver that drips its answer
    # never trips them: the send as a whole gets the one deadline webhooks have. The thread
    # cannot be stopped from here; it ends when the receiver stops or its socket times out.
    worker.join(timeout)
    if worker.is_alive():
        return f"apprise send timed out: the whole exchange has a deadline of {timeout:g}s"
    if outcome.get("ok"):
        return None
    detail = outcome.get("error") or "; ".join(outcome.get("log") or []) or "no detail"
    return f"apprise send failed: {detail}"[:_ERROR_CHARS]


def _redact(target: str) -> str:
    """The scheme only: Apprise URLs carry tokens and passwords that must not reach logs."""
    return target.split("://", 1)[0] + "://…" if "://" in target else "…"


def _result(
    started: float,
    *,
    status_code: int | None = None,
    error: str | None = None,
    retry_after: float | None = None,
    permanent: bool = False,
) -> SendResult:
    return SendResult(
        status_code=status_code,
        error=error[:_ERROR_CHARS] if error else None,
        retry_after=retry_after,
        duration_ms=int((time.monotonic() - started) * 1000),
        permanent=permanent,
    )


TRANSPORTS: dict[Channel, type[Transport]] = {
    WebhookTransport.kind: WebhookTransport,
    AppriseTransport.kind: AppriseTransport,
}
KINDS: tuple[str, ...] = tuple(TRANSPORTS)


def get_transport(kind: str) -> Transport:
    try:
        return TRANSPORTS[Channel(kind)]()
    except (KeyError, ValueError):
        raise ValueError(f"unknown channel kind {kind!r}; use one of {', '.join(KINDS)}") from None


def validate_target(kind: str, target: str) -> str:
    """Return ``target`` if a channel of ``kind`` can send to it, else raise ValueError."""
    return get_transport(kind).validate(target.strip())
