"""Cheap prompt analysis shared by recall and the local store (stdlib only, hot path)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TRIVIAL = frozenset(
    """ok okay k yes y yep yeah no nope n sure thanks thank thx ty cool great nice good fine done go continue
    proceed next again retry do it please lgtm agreed right correct wrong stop wait hmm hi hello hey
    """.split()
)


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _TRIVIAL]


def is_trivial(prompt: str, min_words: int) -> bool:
    """True for prompts that carry nothing to search with: "ok", "continue", "/clear", "yes please"."""
    stripped = prompt.strip()
    if not stripped or stripped.startswith("/"):
        return True
    return len(content_words(stripped)) < max(min_words, 1)
