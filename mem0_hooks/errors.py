"""The one exception tree of mem0-hooks.

Mem0HooksError
├── ConfigError          config.yaml or an environment override is invalid
├── QueueError           the local queue could not be written or read
└── BackendError         a memory store refused or could not be reached
    ├── BackendUnavailable (also ConnectionError)  down, timed out, 5xx: worth retrying later
    └── BackendRejected                            4xx that will never succeed as sent
"""

from __future__ import annotations


class Mem0HooksError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(Mem0HooksError, ValueError):
    """The configuration is invalid; the message names the file and the key."""


class QueueError(Mem0HooksError, OSError):
    """The local queue could not be written or read."""


class BackendError(Mem0HooksError):
    """A memory store failed; carries the HTTP status, the server's message and what to do."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        server_message: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.server_message = server_message
        self.hint = hint
        self.retry_after = retry_after
        parts = [message]
        if status is not None:
            parts.append(f"(HTTP {status})")
        if server_message:
            parts.append(f"server said: {server_message}")
        text = " ".join(parts)
        if hint:
            text += f". {hint}"
        super().__init__(text)


class BackendUnavailable(BackendError, ConnectionError):
    """The store is down, timed out, rate-limited or answered 5xx: try again later."""

    retryable = True


class BackendRejected(BackendError):
    """The store refused the request (4xx) and will refuse it again: do not retry as is."""

    retryable = False
