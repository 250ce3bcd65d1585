"""``migrate --to BACKEND``: move the local store's memories into a remote store, then say what to switch.

The work is in :mod:`mem0_hooks.migrate`. Run it again after a stop (or a kill): it sends only what
the store does not have yet. Exit 1 when anything was left undelivered.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mem0_hooks.cli._common import FatalError, ProgressLine, load_config, time_left


def migrate(*, to: str) -> int:
    from mem0_hooks import migrate as migration

    config = load_config()
    progress = MigrateProgress(sys.stderr)
    try:
        tally, total = migration.migrate(config, to, progress=progress.update)
    except migration.MigrateError as exc:
        raise FatalError(str(exc)) from None
    finally:
        progress.done()
    if tally.missing_source:
        print(f"nothing to move: there is no local store at {tally.source}")
        return 0
    where = f"{tally.destination} (user {config['user_id']})"
    print(
        f"moved {tally.stored:,} of {total:,} local memories to {where} in {time.monotonic() - tally.started:.1f} s"
        + (f"; {tally.present:,} were there already" if tally.present else "")
    )
    if tally.failed:
        print(
            f"  not delivered: {tally.failed:,}"
            + (f", of which {tally.dead:,} refused by the store (`mem0-hooks status` says why)" if tally.dead else "")
        )
    if tally.stopped:
        print(f"error: stopped: {tally.stopped}", file=sys.stderr)
        print(f"run `mem0-hooks migrate --to {to}` again to move the rest: nothing is sent twice", file=sys.stderr)
        return 1
    if tally.failed:
        return 1
    if config["backend"] == to:
        print(f"the config already uses the {to} store: nothing to switch")
    else:
        print(f"to use it, switch the config:  mem0-hooks config set backend {to}")
        print(
            "  turns captured until you switch go to the local store; run this command again after switching "
            "to move them too (only what is new is sent)"
        )
    print("  the local store is kept; `mem0-hooks forget --all` empties it once you no longer need it")
    return 0


class MigrateProgress(ProgressLine):
    """Migrate's line: memories done of all, sent, already there, rate, time left."""

    def update(self, tally: Any, total: int) -> None:
        if not self.due():
            return
        done = tally.stored + tally.present + tally.failed + tally.sending
        rate = done / max(self.last - tally.started, 1e-6)
        left = max(total - done, 0)
        self.show(
            f"{done:,}/{total:,} memories: {tally.stored:,} sent, {tally.present:,} already there, "
            f"{rate:.0f}/s{time_left(left, rate)}"
        )
