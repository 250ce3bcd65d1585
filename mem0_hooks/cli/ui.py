"""``ui``: the local web viewer (``mem0_hooks.viewer``): projects, sessions, memories, search, what each
prompt was shown, the queue; on 127.0.0.1 only, behind a key printed with its address."""

from __future__ import annotations

from mem0_hooks.cli._common import load_config


def ui(*, port: int, open_browser: bool) -> int:
    if not 0 <= port <= 65535:
        from mem0_hooks.cli._common import FatalError

        raise FatalError(f"--port must be between 0 and 65535, got {port}")
    load_config()  # a broken config.yaml is an error here, not a page that says so
    from mem0_hooks.viewer.server import serve

    return serve(port=port, open_browser=open_browser)
