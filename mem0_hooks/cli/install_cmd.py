"""``install`` / ``uninstall``: wire the hooks into Claude Code's settings, or take them out again.

The work is in :mod:`mem0_hooks.install`; this module only declares the arguments. Both commands run
without the package's dependencies (install.sh uses them from a bare ``python3`` for the preflight,
``--dry-run`` and ``--uninstall``), so nothing here imports pydantic, yaml or httpx.
"""

from __future__ import annotations

import argparse

COMMANDS = ("install", "uninstall")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from mem0_hooks.install import BACKENDS

    p = sub.add_parser(
        "install",
        help="wire the hooks into Claude Code (./install.sh runs this after making the venv)",
        description="Merge the mem0-hooks hooks into ~/.claude/settings.json (or a project's "
        ".claude/settings.local.json), write a default config.yaml unless there is one, store "
        "MEM0_API_KEY for a remote backend, and link ~/.local/bin/mem0-hooks. Safe to run again.",
    )
    p.add_argument("-y", "--yes", action="store_true", help="answer yes: consent to storing conversations")
    p.add_argument("--backend", choices=BACKENDS, help="for a new config.yaml (default: local)")
    p.add_argument("--url", help="server URL for a new config.yaml (openmemory / server backends)")
    p.add_argument("--user-id", help="user id for a new config.yaml (default: your login name)")
    p.add_argument("--project", metavar="DIR", help="wire DIR/.claude/settings.local.json instead of the user settings")
    p.add_argument("--dry-run", action="store_true", help="print what would change (a settings diff); write nothing")
    p.add_argument("--source", metavar="CHECKOUT", help="copy hooks/ from this checkout (install.sh passes it)")
    p.add_argument("--no-link", dest="link", action="store_false", help="do not link ~/.local/bin/mem0-hooks")
    p.add_argument(
        "--import-history",
        action="store_true",
        help="also import your past Claude Code sessions (`mem0-hooks import`); without it an interactive "
        "install asks once",
    )
    p.add_argument("--preflight", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--api-key", help=argparse.SUPPRESS)

    p = sub.add_parser(
        "uninstall",
        help="remove our hooks from Claude Code's settings (--purge: also delete all data)",
        description="Remove exactly the mem0-hooks hooks from the settings file; everything else in it "
        "stays. Memories, config and the venv stay too, unless --purge.",
    )
    p.add_argument("--project", metavar="DIR", help="DIR/.claude/settings.local.json instead of the user settings")
    p.add_argument("--purge", action="store_true", help="also delete the data dir (memories, config, venv), the link")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask before --purge deletes")
    p.add_argument("--dry-run", action="store_true", help="print what would change; write and delete nothing")


def handles(command: str | None) -> bool:
    return command in COMMANDS


def dispatch(args: argparse.Namespace) -> int:
    from mem0_hooks import install as installer
    from mem0_hooks.cli._common import FatalError

    try:
        if args.command == "install":
            if args.api_key is not None:
                raise FatalError(
                    "the API key is never taken on the command line: export MEM0_API_KEY=... and run the install again"
                )
            return installer.install(
                installer.InstallOptions(
                    yes=args.yes,
                    backend=args.backend,
                    url=args.url,
                    user_id=args.user_id,
                    project=args.project,
                    dry_run=args.dry_run,
                    source=args.source,
                    preflight=args.preflight,
                    link=args.link,
                    import_history=args.import_history,
                )
            )
        return installer.uninstall(project=args.project, purge=args.purge, yes=args.yes, dry_run=args.dry_run)
    except (installer.SettingsError, installer.InstallError) as exc:
        raise FatalError(str(exc)) from None
