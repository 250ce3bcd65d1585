"""``export``: every memory of the configured store (or one project's) as JSON Lines.

To stdout, or to ``-o FILE``: written whole or not at all (a temp file renamed into place), readable by
you only (it holds conversation text). ``mem0-hooks import --from FILE`` reads it back.
"""

from __future__ import annotations

import os
import sys

from mem0_hooks.cli._common import FatalError, current_project, load_config


def export(*, project: str | None, output: str | None) -> int:
    from mem0_hooks.history import export_memories

    config = load_config()
    only = current_project(project) if project is not None else None
    scope = f" of {only}" if only else ""
    if output is None or output == "-":
        count = export_memories(config, sys.stdout.buffer, project=only)
        sys.stdout.buffer.flush()
        print(f"exported {count:,} memories{scope}", file=sys.stderr)
        return 0
    target = os.path.abspath(output)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            count = export_memories(config, fh, project=only)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise FatalError(f"cannot write {output}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    print(f"exported {count:,} memories{scope} to {output}")
    return 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
