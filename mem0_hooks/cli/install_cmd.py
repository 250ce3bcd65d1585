"""``install`` / ``uninstall`` (placeholder; the installer module fills this in)."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass


def handles(command: str | None) -> bool:
    return False


def dispatch(args: argparse.Namespace) -> int:
    return 2
