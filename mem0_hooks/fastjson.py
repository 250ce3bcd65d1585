"""JSON for the hot path without importing the ``json`` package (which imports ``re``, ``enum``...).

The codec is the C accelerator the ``json`` package itself uses (``_json``), driven the same way, so the
text read and written is exactly ``json.loads`` / ``json.dumps``'s. Where ``_json`` is missing or its
calling convention differs (another interpreter, a future Python), this falls back to ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

_WS = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """The attributes ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict = {}


def _unserialisable(obj: Any) -> Any:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


try:
    import _json

    _scan = _json.make_scanner(_Context())
    _encode_ascii = _json.encode_basestring_ascii
    _encode_utf8 = _json.encode_basestring
    _make_encoder = _json.make_encoder
    _make_encoder({}, _unserialisable, _encode_ascii, None, ": ", ", ", False, False, True)({"ok": [1]}, 0)
except Exception:  # noqa: BLE001 - any surprise: the json package does the work
    _scan = None


def loads(text: str | bytes) -> Any:
    """``json.loads``: ValueError (``json.JSONDecodeError``) on anything that is not one JSON document."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if _scan is None or not isinstance(text, str):
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        import json

        return json.loads(text)  # raises the json package's own "Expecting value" error
    except (RecursionError, SystemError) as exc:
        # Nesting past the C scanner's depth: RecursionError, or on some runs a SystemError
        # ("returned NULL without setting an exception"). Either way: not a document we take.
        raise ValueError(f"JSON nested too deeply to read: {type(exc).__name__}") from None
    if text[end:].strip(_WS):
        import json

        return json.loads(text)  # "Extra data"
    return value


def load(fh: IO[Any]) -> Any:
    return loads(fh.read())


def dumps(
    obj: Any, *, ensure_ascii: bool = True, separators: tuple[str, str] | None = None, sort_keys: bool = False
) -> str:
    """``json.dumps`` for these keyword arguments (the only ones this package uses on the hot path)."""
    item_sep, key_sep = separators or (", ", ": ")
    if _scan is None:
        import json

        return json.dumps(obj, ensure_ascii=ensure_ascii, separators=(item_sep, key_sep), sort_keys=sort_keys)
    if isinstance(obj, str):
        return (_encode_ascii if ensure_ascii else _encode_utf8)(obj)
    encoder = _make_encoder(
        {},
        _unserialisable,
        _encode_ascii if ensure_ascii else _encode_utf8,
        None,
        key_sep,
        item_sep,
        sort_keys,
        False,
        True,
    )
    return "".join(encoder(obj, 0))


def dump(obj: Any, fh: IO[Any], **options: Any) -> None:
    fh.write(dumps(obj, **options))
