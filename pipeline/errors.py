"""The newswatch error hierarchy.

Every error says whether trying again could help (``permanent``). Only ``worker/`` turns
errors into Celery retries; the CLI turns them into one-line messages.

    NewswatchError
    ├── ConfigError            bad settings, YAML or CLI input (permanent)
    ├── NotFoundError          unknown feed, rule or alert id (permanent)
    ├── HostBusyError          the host's politeness limit is taken: try in retry_in seconds
    ├── StoreError             the database refused the statement (permanent)
    │   ├── StoreUnavailableError     unreachable, locked or busy (transient)
    │   └── ConflictError             a unique key or reference was violated (permanent)
    └── FetchError             an outbound HTTP request failed
        ├── BlockedDestinationError   URL scheme or resolved address refused (permanent)
        ├── ResponseTooLargeError     body over the size cap (permanent)
        ├── UndecodableResponseError  a Content-Encoding never asked for (permanent)
        ├── HTTPStatusError           non-2xx answer; permanent for 4xx except 408/425/429
        └── TransportError            DNS, connect, timeout, TLS (transient)
"""

from __future__ import annotations


class NewswatchError(Exception):
    permanent: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(NewswatchError):
    permanent = True


class NotFoundError(NewswatchError):
    permanent = True


class HostBusyError(NewswatchError):
    """No request slot on the host came free in time (per-host politeness); nothing was
    sent, so trying again after ``retry_in`` seconds is always safe."""

    permanent = False

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class StoreError(NewswatchError):
    permanent = True


class StoreUnavailableError(StoreError):
    permanent = False


class ConflictError(StoreError):
    permanent = True


class FetchError(NewswatchError):
    permanent = False


class BlockedDestinationError(FetchError):
    permanent = True


class ResponseTooLargeError(FetchError):
    permanent = True


class UndecodableResponseError(FetchError):
    permanent = True


class TransportError(FetchError):
    permanent = False


class HTTPStatusError(FetchError):
    def __init__(self, message: str, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.permanent = 400 <= status_code < 500 and status_code not in (408, 425, 429)
