"""The one error a rule query can raise, always at compile time."""

from __future__ import annotations


class QueryError(ValueError):
    """An invalid alert-rule query; ``str(err)`` is a single line naming the position."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = " ".join(message.split())
        self.position = position
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.position is None:
            return f"invalid query: {self.message}"
        return f"invalid query at position {self.position}: {self.message}"

    def __reduce__(self) -> tuple[type[QueryError], tuple[str, int | None]]:
        # Keeps the error picklable (Celery results, multiprocessing).
        return (QueryError, (self.message, self.position))
