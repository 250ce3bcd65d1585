"""HTML built so that text is escaped unless it is markup built here: a memory never becomes markup.

``el("td", memory.text)`` escapes the text; ``el("td", el("b", "x"))`` nests markup. Tag and attribute
names come from this package's code only; every value (text, attribute) is escaped where it is put.
Memory text that holds HTML, a ``<script>`` or our own framing tags (``<recalled-memories>``) is
shown as the characters it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import urlencode

VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})


class Markup(str):
    """HTML built by ``el`` (or a constant of this package): put as is. Any other ``str`` is escaped."""

    __slots__ = ()


def text(value: Any) -> Markup:
    """``value`` as HTML text: ``<``, ``>``, ``&`` and quotes escaped."""
    return value if isinstance(value, Markup) else Markup(escape(str(value), quote=True))


def join(children: Iterable[Any]) -> Markup:
    """Children side by side: markup as is, text escaped, None and False left out, lists flattened."""
    out: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, Markup):
            out.append(child)
        elif isinstance(child, (list, tuple)) or hasattr(child, "__next__"):
            out.append(join(child))
        else:
            out.append(escape(str(child), quote=True))
    return Markup("".join(out))


def el(tag: str, *children: Any, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>``. An attribute ``class_`` is ``class``, ``data_x`` is ``data-x``;
    True gives a bare attribute, None and False none."""
    parts = [f"<{tag}"]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{escape(str(value), quote=True)}"')
    parts.append(">")
    if tag in VOID:
        return Markup("".join(parts))
    return Markup("".join(parts) + join(children) + f"</{tag}>")


def url(where: str, /, **params: Any) -> str:
    """``where?a=1&b=x`` with the parameters that are not None (values encoded; ``""`` is a value: the
    project of user-wide notes)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{where}?{query}" if query else where
