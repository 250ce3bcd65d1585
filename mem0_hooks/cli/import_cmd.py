"""``import``: past Claude Code sessions (or an ``export`` file) into the configured store.

The work is in :mod:`mem0_hooks.history`; this module parses ``--since``, shows the progress line on a
terminal and prints the summary. Exit 0 when everything readable was stored (skipped turns and bad
lines are counted, not failures), 1 when the import stopped (full disk, store failing) or a remote
store did not take everything.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from mem0_hooks.cli._common import FatalError, ProgressLine, current_project, load_config, print_json, time_left

IMPORT_NICENESS = 10


def parse_since(text: str) -> str:
    """``--since``: ``YYYY-MM-DD``, an ISO time (``2026-01-31T14:00``, with ``Z`` or an offset), or
    ``N`` days ago (``30d``); returns ``YYYY-MM-DDTHH:MM:SS`` in UTC, as the transcripts' times compare."""
    import datetime
    import re

    value = text.strip()
    utc = datetime.timezone.utc
    days = re.fullmatch(r"(\d+)\s*d(ays?)?", value)
    if days:
        moment = datetime.datetime.now(utc) - datetime.timedelta(days=int(days.group(1)))
    else:
        try:
            moment = datetime.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            raise FatalError(
                f"--since {text!r}: expected a date (2026-01-31), a time (2026-01-31T14:00Z) or days ago (30d)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=utc)  # a date or a time without zone: UTC, as transcripts write
    return moment.astimezone(utc).strftime("%Y-%m-%dT%H:%M:%S")


def run_import(
    *,
    source: str | None,
    projects_dir: str | None,
    project: str | None,
    since: str | None,
    dry_run: bool,
    as_json: bool,
    stream: TextIO | None = None,
) -> int:
    """``mem0-hooks import``: transcripts, or ``source`` (an export file, ``-`` for stdin)."""
    from mem0_hooks import history

    if source is not None and projects_dir is not None:
        raise FatalError("--from reads an export file, --projects-dir transcripts: give one of them")
    config = load_config()
    only = current_project(project) if project is not None else None
    _yield_to_hooks()
    start = parse_since(since) if since else None
    progress = None if as_json else ImportProgress(stream or sys.stderr, dry_run=dry_run)
    report = progress.update if progress else None
    try:
        if source is not None:
            tally = _import_file(config, source, only, start, dry_run, report)
        else:
            tally = history.import_transcripts(
                config, root=projects_dir, project=only, since=start, dry_run=dry_run, progress=report
            )
    except history.ImportRefused as exc:
        raise FatalError(f"nothing imported: {exc}") from None
    except KeyboardInterrupt:
        if progress:
            progress.done()  # (before the message, on a line of its own)
        print("interrupted: what was read so far is stored; run the same command again to finish", file=sys.stderr)
        return 130
    finally:
        if progress:
            progress.done()
    where = tally.destination or _where(config)
    if as_json:
        print_json({"dry_run": dry_run, "store": where, **tally.as_dict()})
    else:
        for line in summary(tally, where=where, dry_run=dry_run, project=only, since=start):
            print(line)
    if tally.stopped:
        print(f"error: stopped: {tally.stopped}", file=sys.stderr)
        return 1
    return 1 if tally.failed else 0


def _yield_to_hooks() -> None:
    """Run at a lower CPU priority: an import is a batch job, and a hook that runs meanwhile (a prompt
    in another session) must not wait for it. On an idle machine this changes nothing."""
    try:
        os.nice(IMPORT_NICENESS)
    except (AttributeError, OSError):
        pass


def _import_file(
    config: dict[str, Any], source: str, only: str | None, start: str | None, dry_run: bool, report: Any
) -> Any:
    from mem0_hooks import history

    if source == "-":
        return history.import_export_file(
            config, sys.stdin.buffer, name="stdin", project=only, since=start, dry_run=dry_run, progress=report
        )
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise FatalError(f"cannot read {source}: {exc.strerror or exc}") from None
    import stat

    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FatalError(f"{source} is not a file (`mem0-hooks export -o FILE` writes one)")
    with os.fdopen(fd, "rb") as fh:
        return history.import_export_file(
            config, fh, name=source, project=only, since=start, dry_run=dry_run, progress=report
        )


def _where(config: dict[str, Any]) -> str:
    from mem0_hooks import paths

    if config["backend"] == "local":
        return f"the local store ({paths.store_db()})"
    url = (config.get("mem0") or {}).get("base_url")
    return f"the {config['backend']} store" + (f" at {url}" if url else "")


def summary(tally: Any, *, where: str, dry_run: bool, project: str | None, since: str | None) -> list[str]:
    """The lines printed after an import."""
    if tally.missing_source:
        return [
            f"nothing to import: {tally.source} does not exist "
            "(Claude Code keeps its transcripts there; CLAUDE_CONFIG_DIR moves it)"
        ]
    read = tally.source if tally.from_export else f"{tally.files_read:,} of {tally.files:,} transcripts"
    speed = f"{_mb(tally.bytes_read)} in {tally.seconds:.1f} s"
    scope = f" of {project}" if project else ""
    after = f" from {since.replace('T00:00:00', '')} on" if since else ""
    verb = "would import" if dry_run else "imported"
    lines = [f"{verb} {tally.stored:,} turn(s){scope}{after} from {read} ({speed}) into {where}"]
    if dry_run:
        lines[0] += "; dry run: nothing was written"
    if tally.present:
        lines.append(f"  already there: {tally.present:,} (captured by the hooks or an earlier import)")
    if tally.failed:
        lines.append(
            f"  not delivered: {tally.failed:,} (kept in the queue or dead-lettered: `mem0-hooks status` says why)"
        )
    if tally.skipped:
        lines.append("  skipped: " + _reasons(tally.skipped))
    if tally.files_unchanged:
        lines.append(f"  not read: {tally.files_unchanged:,} transcript(s) unchanged since --since")
    if tally.bad_files:
        lines.append("  files skipped: " + _reasons(tally.bad_files))
    if tally.bad_lines:
        lines.append("  lines skipped: " + _reasons(tally.bad_lines))
    if tally.vectors_pending:
        lines.append(
            "  recall by meaning: their vectors are being made in the background "
            "(`mem0-hooks reindex` makes them now, with progress)"
        )
    if dry_run and tally.projects:
        lines.append("  by project (new, already there, sessions, from .. to):")
        ranked = sorted(tally.projects.items(), key=lambda kv: (-kv[1].stored, kv[0]))
        for name, p in ranked:
            span = f"{p.first[:10]} .. {p.last[:10]}" if p.first else ""
            sessions = f"{len(p.sessions):,} session{'' if len(p.sessions) == 1 else 's'}"
            lines.append(f"    {name}  {p.stored:,} new, {p.present:,} there, {sessions}, {span}")
    return lines


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {reason}" for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]))


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


class ImportProgress(ProgressLine):
    """Import's line: files, turns, MB, MB/s, time left."""

    def __init__(self, stream: TextIO, *, dry_run: bool = False, interval: float = 0.1) -> None:
        super().__init__(stream, interval=interval)
        self.dry_run = dry_run

    def update(self, tally: Any) -> None:
        if not self.due():
            return
        rate = tally.bytes_read / max(self.last - tally.started, 1e-6)
        left = max(tally.bytes_total - tally.bytes_read, 0)
        files = f"{tally.files_read:,}/{tally.files:,} files, " if tally.files > 1 else ""
        total = f"/{_mb(tally.bytes_total)}" if tally.bytes_total else ""
        sent = tally.stored + tally.sending
        sending = f" ({sent:,} delivered)" if tally.destination and "local store" not in tally.destination else ""
        self.show(
            f"{files}{tally.turns:,} turns{sending}, {tally.bytes_read / 1e6:,.1f}{total}, "
            f"{rate / 1e6:.1f} MB/s{time_left(left, rate)}"
        )
