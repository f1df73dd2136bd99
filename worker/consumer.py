"""The Celery consumer every newswatch worker runs (``worker_consumer`` in celery_app).

Celery's own, with one change to how it lets go of a broker connection it lost, so that a
worker waits for the broker to come back instead of dying.

Why: on a lost connection Celery (5.7) calls ``connection.collect()`` and then
``connection.close()``. With the Redis transport, ``collect()`` closes the channels and
then detaches the transport from its connection settings. Closing a channel can stop
half-way: the channel that consumes tasks first reads the reply of its outstanding BRPOP,
and that read raises on a dead server before the channel is marked closed; the pidbox
(remote control) channel then fails to delete its fanout binding, which ends the loop over
the other channels. ``close()`` then closes the task channel again; this time it gets as
far as requeueing its unacknowledged messages (a running task with late acks), needs a new
Redis client for that, and the detached transport has no host to build one from:
``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a connection
error, so Celery reports an "Unrecoverable error" and the worker stops. It happens only
when the connection breaks while tasks are running and the error is read on the pubsub
socket before the BRPOP one, hence a fault test that failed now and then.

Here every channel is closed first, while the transport still knows its broker, and
Celery's teardown then finds nothing half-closed.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

try:  # Celery 5.7: bounds reads on sockets already open, so a silent peer cannot hang us
    from celery.utils.threads import bound_open_broker_sockets
except ImportError:  # older Celery: reads are bounded by the transport's socket timeout only

    def bound_open_broker_sockets(connection: Any, timeout: float) -> None:
        return None


# As long as Celery waits for the same reads (COLLECT_SOCKET_TIMEOUT in its consumer).
CLOSE_TIMEOUT = 5.0
# A first close can stop at the dead BRPOP read, which it also clears; the second one
# gets past it. Any more would only repeat the same connection error.
CLOSE_ATTEMPTS = 2


def close_channels(connection: Any) -> None:
    """Close every channel of a broken broker connection, ignoring broker errors."""
    transport = getattr(connection, "_transport", None)
    channels = list(getattr(transport, "channels", None) or ())
    if not channels:
        return
    bound_open_broker_sockets(connection, CLOSE_TIMEOUT)
    errors = tuple(connection.connection_errors) + tuple(connection.channel_errors)
    for channel in channels:
        for _ in range(CLOSE_ATTEMPTS):
            if getattr(channel, "closed", True):
                break
            try:
                channel.close()
            except errors:
                continue


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: BaseException) -> None:
        if self.connection is not None:
            close_channels(self.connection)
        super().on_connection_error_after_connected(exc)
