"""Memory stores behind one interface (``base.Backend``); ``open_backend`` picks one from the config.

Remote backends import httpx; they are imported only when configured, so a local-store hook never pays for it.
"""

from __future__ import annotations

from mem0_hooks.backends.base import Backend, Memory, MemoryItem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Backend", "Memory", "MemoryItem", "open_backend"]


def open_backend(config: dict[str, Any], *, for_recall: bool = False) -> Backend:
    """The store named by ``config["backend"]``; ``for_recall`` applies the hot-path deadline."""
    name = config["backend"]
    if name == "local":
        from mem0_hooks.backends.local import LocalStore

        return LocalStore()
    if name == "platform":
        from mem0_hooks.backends.platform import PlatformBackend

        return PlatformBackend(config, for_recall=for_recall)
    if name == "openmemory":
        from mem0_hooks.backends.openmemory import OpenMemoryBackend

        return OpenMemoryBackend(config, for_recall=for_recall)
    if name == "server":
        from mem0_hooks.backends.server import ServerBackend

        return ServerBackend(config, for_recall=for_recall)
    raise ValueError(f"unknown backend {name!r}")
