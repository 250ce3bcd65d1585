"""One line per event in ``mem0-hooks.log`` (mode 0600); hooks never print their failures."""

from __future__ import annotations

import os
import sys
import time

from mem0_hooks import paths

_MAX_BYTES = 1_000_000


def log(message: str, *, level: str = "INFO") -> None:
    """Append one line to the log; never raises (a hook must not fail because its log cannot be written)."""
    try:
        path = paths.log_file()
        paths.ensure_private_dir(os.path.dirname(path))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        text = " ".join(str(message).split())
        line = f"{stamp} {level} pid={os.getpid()} {text}\n"
        try:
            if os.path.getsize(path) > _MAX_BYTES:
                os.replace(path, path + ".1")
        except OSError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except Exception:  # noqa: BLE001 - logging is best effort by design
        pass


def log_exception(where: str, exc: BaseException) -> None:
    """Log an unexpected exception as one line: where, type, message and the innermost frame."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    at = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    from mem0_hooks import __version__

    log(
        f"{where}: {type(exc).__name__}: {exc}{at} (mem0-hooks {__version__}, python {sys.version.split()[0]})",
        level="ERROR",
    )
