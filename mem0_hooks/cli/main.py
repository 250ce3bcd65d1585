"""``mem0-hooks``: all argument parsing lives here; each command is a function in its own module.

Errors a user can fix print one ``error: ...`` line and exit 1; anything unexpected also goes to the
log with a traceback summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mem0_hooks import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mem0-hooks", description="Long-term memory for Claude Code.")
    parser.add_argument("--version", action="version", version=f"mem0-hooks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("status", help="backend, memory count, queue, last flush, last error")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("search", help="search memories of this project (and user-wide ones)")
    p.add_argument("query")
    p.add_argument("-n", "--limit", type=int, default=10)
    p.add_argument("--project", help="project directory (default: the current one)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list", help="list memories of this project, newest first")
    p.add_argument("--project", help="project directory (default: the current one)")
    p.add_argument("--all", action="store_true", dest="all_projects", help="every project")
    p.add_argument("-n", "--limit", type=int)
    p.add_argument("--json", action="store_true", help="every memory as a JSON object")

    p = sub.add_parser("add", help="remember a note now")
    p.add_argument("text")
    p.add_argument("--user", action="store_true", help="user-wide: recalled in every project")
    p.add_argument("--project", help="project directory (default: the current one)")

    p = sub.add_parser("forget", help="forget one memory, or --all")
    p.add_argument("id", nargs="?")
    p.add_argument("--all", action="store_true", dest="everything")
    p.add_argument("--project", help="with --all: only this project's memories")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    p = sub.add_parser("last", help="what the last prompts were given from memory, and why (their scores)")
    p.add_argument("-n", "--limit", type=int, default=5, help="how many injections (default 5)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ui", help="a local web viewer: projects, sessions, memories, search, injections, queue")
    p.add_argument("--port", type=int, default=7319, help="port on 127.0.0.1 (default 7319; a free one if taken)")
    p.add_argument("--no-browser", action="store_true", help="print the address only")

    p = sub.add_parser("replay", help="deliver the queued items now, with progress")
    p.add_argument("--dead", action="store_true", help="also retry dead-lettered items")
    p.add_argument("--dry-run", action="store_true", help="say what would be delivered, send nothing")
    p.add_argument("--limit", type=int, help="deliver at most this many items")

    p = sub.add_parser(
        "import",
        help="store your past Claude Code sessions (or an export file) as memories",
        description="Read Claude Code's transcripts ($CLAUDE_CONFIG_DIR/projects, else ~/.claude/projects) and "
        "store every turn the hooks would have captured, by the same rules (redaction, excluded projects, "
        "consent, retention). Safe to run again: what is already stored is not stored twice.",
    )
    p.add_argument("--project", metavar="DIR", help="only this project's sessions")
    p.add_argument("--since", metavar="DATE", help="only turns from DATE on (2026-01-31, 2026-01-31T14:00Z, 30d)")
    p.add_argument("--dry-run", action="store_true", help="say what would be imported, per project; store nothing")
    p.add_argument("--from", dest="source", metavar="FILE", help="read a file `mem0-hooks export` wrote (- for stdin)")
    p.add_argument("--projects-dir", metavar="DIR", help="read transcripts from DIR instead of Claude Code's")
    p.add_argument("--json", action="store_true", help="the summary as JSON")

    p = sub.add_parser("export", help="write every memory (or one project's) as JSON Lines")
    p.add_argument("--project", metavar="DIR", help="only this project's memories")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (mode 0600) instead of stdout")

    p = sub.add_parser(
        "migrate",
        help="move the local store's memories into a remote store",
        description="Send every memory of the local store to the remote store set up in config.yaml "
        "(mem0.base_url, user_id, the API key), through a queue of its own, exactly once; run it again "
        "to resume after a stop. Then it says what to switch in the config.",
    )
    p.add_argument("--to", required=True, choices=("platform", "openmemory", "server"), metavar="BACKEND")

    p = sub.add_parser("reindex", help="embed now the memories without a vector (semantic recall), with progress")
    p.add_argument("--rebuild", action="store_true", help="drop every vector and embed all memories again")

    sub.add_parser("mcp", help="serve the memory tools to Claude Code (an MCP server on stdio)")

    p = sub.add_parser("doctor", help="check config, store, queue and Claude Code wiring")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("config", help="show or change config.yaml")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    q = csub.add_parser("show", help="the effective configuration")
    q.add_argument("--json", action="store_true")
    q = csub.add_parser("get", help="one key, e.g. memory.context_budget_chars")
    q.add_argument("key")
    q = csub.add_parser("set", help="set a key, e.g. `config set backend platform`")
    q.add_argument("key")
    q.add_argument("value")
    csub.add_parser("set-key", help="store the Mem0 API key (from MEM0_API_KEY, or asked without echo)")

    for name, verb in (("pause", "pause"), ("resume", "resume")):
        p = sub.add_parser(name, help=f"{verb} capture (recall keeps working)")
        p.add_argument(
            "--project",
            nargs="?",
            const="",
            default=None,
            metavar="DIR",
            help="only this project (default DIR: the current one)",
        )

    from mem0_hooks.cli import install_cmd

    install_cmd.add_parsers(sub)
    return parser


def dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    command = args.command
    if command == "status":
        from mem0_hooks.cli.status import status

        return status(as_json=args.json)
    if command == "search":
        from mem0_hooks.cli.memories import search

        return search(args.query, limit=args.limit, project=args.project, as_json=args.json)
    if command == "list":
        from mem0_hooks.cli.memories import list_memories

        return list_memories(project=args.project, all_projects=args.all_projects, limit=args.limit, as_json=args.json)
    if command == "add":
        from mem0_hooks.cli.memories import add

        return add(args.text, user_wide=args.user, project=args.project)
    if command == "forget":
        from mem0_hooks.cli.memories import forget

        return forget(args.id, everything=args.everything, project=args.project, yes=args.yes)
    if command == "last":
        from mem0_hooks.cli.last import last

        return last(limit=args.limit, as_json=args.json)
    if command == "ui":
        from mem0_hooks.cli.ui import ui

        return ui(port=args.port, open_browser=not args.no_browser)
    if command == "replay":
        from mem0_hooks.cli.replay import replay

        return replay(dead=args.dead, dry_run=args.dry_run, limit=args.limit)
    if command == "import":
        from mem0_hooks.cli.import_cmd import run_import

        return run_import(
            source=args.source,
            projects_dir=args.projects_dir,
            project=args.project,
            since=args.since,
            dry_run=args.dry_run,
            as_json=args.json,
        )
    if command == "export":
        from mem0_hooks.cli.export import export

        return export(project=args.project, output=args.output)
    if command == "migrate":
        from mem0_hooks.cli.migrate import migrate

        return migrate(to=args.to)
    if command == "reindex":
        from mem0_hooks.cli.reindex import reindex

        return reindex(rebuild=args.rebuild)
    if command == "mcp":
        from mem0_hooks.cli.mcp_cmd import mcp

        return mcp()
    if command == "doctor":
        from mem0_hooks.cli.doctor import doctor

        return doctor(as_json=args.json)
    if command == "config":
        from mem0_hooks.cli import config_cmd

        action = args.config_command
        if action == "show" or action is None:
            return config_cmd.show(as_json=getattr(args, "json", False))
        if action == "get":
            return config_cmd.get(args.key)
        if action == "set":
            return config_cmd.set_value(args.key, args.value)
        return config_cmd.set_key()
    if command in ("pause", "resume"):
        from mem0_hooks.cli import pause

        fn = pause.pause if command == "pause" else pause.resume
        return fn(project=args.project or None, this_project=args.project == "")
    from mem0_hooks.cli import install_cmd

    if install_cmd.handles(command):
        return install_cmd.dispatch(args)
    parser.print_help()
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    from mem0_hooks.cli._common import FatalError
    from mem0_hooks.errors import Mem0HooksError

    try:
        return dispatch(args, parser)
    except (FatalError, Mem0HooksError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001
        from mem0_hooks.log import log_exception

        log_exception("cli " + str(command_name(args)), exc)
        print(f"error: unexpected {type(exc).__name__}: {exc} (details in the log: mem0-hooks doctor)", file=sys.stderr)
        return 1


def command_name(args: argparse.Namespace) -> str:
    return getattr(args, "command", None) or "?"


if __name__ == "__main__":
    raise SystemExit(main())
