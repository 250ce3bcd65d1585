"""Loading the configuration: validated once with pydantic, then served from a JSON cache.

The hot path (every hook) calls ``load()``, which costs a ``stat`` and a small JSON read while
``config.yaml`` and the ``MEM0_HOOKS_*`` environment are unchanged. Only when either changed does it
import yaml and pydantic (``config_model``) to validate again and rewrite the cache.

Environment variables override the file: ``MEM0_HOOKS_<KEY>`` for a top-level key
(``MEM0_HOOKS_BACKEND=platform``) and ``MEM0_HOOKS_<SECTION>_<KEY>`` for a key in a section
(``MEM0_HOOKS_MEMORY_CONTEXT_BUDGET_CHARS=3000``); lists are comma-separated. ``MEM0_API_KEY``
supplies the Mem0 API key and is never cached.

The original design's spelling of the file (``mem0.memory.*``, ``mem0.mcp.*``, booleans for
``fallback_mode``...) is translated to ours first (``config_aliases``). Consent given at install or by
installing the plugin is recorded in ``consent.json`` beside the file, not in it: a config.yaml that does
not set ``privacy.consent_given`` takes the recorded consent, so a file written by hand does not switch
capture off. A file that sets it decides, and what it says is recorded as the latest decision.

Before the plugin's dependencies are installed (pydantic, PyYAML), a data dir without config.yaml still
gets its configuration: the defaults, read from ``config_model.py`` with the standard library, so the
first hook after install captures.
"""

from __future__ import annotations

import os

from mem0_hooks import __version__, paths
from mem0_hooks import fastjson as json
from mem0_hooks.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # no ``typing`` at run time: ``load`` is on every hook's path
    from typing import Any

_IGNORED_ENV = {"MEM0_HOOKS_HOME"}
# The schema is part of the cache key: a cache written before an upgrade that added a key (or changed
# a default) must not be served to the new code. The version alone does not say so; the file does.
_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config_model.py")


def _env_stamp() -> list[list[str]]:
    return sorted([k, v] for k, v in os.environ.items() if k.startswith("MEM0_HOOKS_") and k not in _IGNORED_ENV)


def _file_stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


_held: dict[str, Any] | None = None
# The cache file last read, its key, and what it held: a long-lived process (the warm process) reads
# the file again only when it changed. Callers treat the returned dict as read-only, as they always have.
_last: tuple[tuple[str, int, int, int], dict[str, Any], dict[str, Any]] | None = None


def hold(config: dict[str, Any] | None) -> None:
    """Have ``load`` return ``config`` until ``hold(None)``: the warm process reads the config once
    per request, as a hook process does once in its life."""
    global _held
    _held = config


def load() -> dict[str, Any]:
    """The effective configuration as a plain dict (file + environment), validated."""
    if _held is not None:
        return _held
    path = paths.config_file()
    env = _env_stamp()
    key = {
        "version": __version__,
        "schema": _file_stamp(_SCHEMA),
        "file": _file_stamp(path),
        "consent": _file_stamp(paths.consent_file()),
        "env": env,
    }
    cache = paths.config_cache()
    if env:
        # One cache per environment: hooks run with different overrides (a test, a benchmark, a
        # project's own settings) would otherwise re-validate every time they take turns.
        import zlib

        cache = cache[: -len(".json")] + f"-{zlib.crc32(json.dumps(env).encode('utf-8', 'replace')):08x}.json"
    global _last
    try:
        st = os.stat(cache)
        identity = (cache, st.st_ino, st.st_mtime_ns, st.st_size)
        if _last is not None and _last[0] == identity and _last[1] == key:
            return _last[2]  # the cache file is as this process last read it
        with open(cache, encoding="utf-8") as fh:
            cached = json.load(fh)
        if cached.get("key") == key:
            _last = (identity, key, cached["config"])
            return cached["config"]  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    config = validate(path)
    key["consent"] = _file_stamp(paths.consent_file())  # validate may have recorded the file's decision
    _write_cache(cache, {"key": key, "config": config})
    return config


def _write_cache(cache: str, payload: dict[str, Any]) -> None:
    try:
        paths.write_private_json(cache, payload)
    except OSError:
        pass  # a read-only home still works, it just validates every time


def read_file(path: str) -> dict[str, Any]:
    """The raw mapping in ``config.yaml`` ({} when absent); ConfigError when it is not YAML or not a mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def env_overrides() -> dict[str, tuple[tuple[str, ...], str]]:
    """``{ENV_NAME: (key path, raw value)}`` for every MEM0_HOOKS_* variable that names a config key."""
    from mem0_hooks.config_model import Config

    names: dict[str, tuple[str, ...]] = {}
    for field, info in Config.model_fields.items():
        sub = getattr(info.annotation, "model_fields", None)
        if sub:
            for subfield in sub:
                names[f"MEM0_HOOKS_{field}_{subfield}".upper()] = (field, subfield)
        else:
            names[f"MEM0_HOOKS_{field}".upper()] = (field,)
    found = {}
    for env, value in os.environ.items():
        if env in names:
            found[env] = (names[env], value)
    return found


def _env_value(path: tuple[str, ...], raw: str) -> Any:
    from mem0_hooks.config_model import Config

    info = Config.model_fields[path[0]]
    if len(path) == 2:
        info = info.annotation.model_fields[path[1]]  # type: ignore[union-attr]
    annotation = str(info.annotation)
    if "list" in annotation:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if raw.strip().lower() in ("", "none", "null") and "None" in annotation:
        return None
    return raw


def validate(path: str | None = None) -> dict[str, Any]:
    """Validate the file plus environment overrides; ConfigError names the file or variable and the key.

    Every problem found is reported at once, one line per key.
    """
    path = path or paths.config_file()
    try:
        from pydantic import ValidationError

        from mem0_hooks.config_model import Config
    except ImportError:  # the plugin before its dependencies are installed
        return _validate_without_dependencies(path)
    data = read_file(path)
    translation = check(path, data)
    data = translation.data
    explicit = _explicit_consent(data)
    sources: dict[tuple[str, ...], str] = {}
    for env, (key, raw) in env_overrides().items():
        target = data
        for part in key[:-1]:
            target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
        target[key[-1]] = _env_value(key, raw)
        sources[key] = env
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_flatten(path, exc, sources, translation)) from None
    result = config.model_dump()
    _finish(result, explicit)
    return result


def check(path: str, data: dict[str, Any]) -> Any:
    """``data`` (config.yaml as read) translated to our spelling and validated, without the environment:
    the ``config_aliases.Translation``; ConfigError listing every problem, one line per key."""
    from pydantic import ValidationError

    from mem0_hooks.config_aliases import translate
    from mem0_hooks.config_model import Config

    translation = translate(path, data)
    lines = list(translation.errors)
    try:
        Config.model_validate(translation.data)
    except ValidationError as exc:
        lines += _flatten_lines(path, exc, None, translation)
    if lines:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_unique(lines)))
    return translation


def _finish(result: dict[str, Any], explicit: bool | None) -> None:
    """Fill in what the file leaves to the data dir: the user id, and consent (see the module docstring)."""
    if not result["user_id"]:
        result["user_id"] = _default_user_id()
    if result["privacy"]["consent_given"] is None:
        recorded = read_consent()
        result["privacy"]["consent_given"] = bool(recorded and recorded.get("consent_given") is True)
    elif explicit is not None and explicit is result["privacy"]["consent_given"]:
        recorded = read_consent()  # the file's decision (not an environment override's) is the latest one
        if recorded is None or recorded.get("consent_given") is not explicit:
            try:
                record_consent(explicit, source=f"privacy.consent_given in {paths.config_file()}")
            except OSError:
                pass  # the file still decides; recorded next time


def _explicit_consent(data: dict[str, Any]) -> bool | None:
    privacy = data.get("privacy")
    value = privacy.get("consent_given") if isinstance(privacy, dict) else None
    return value if isinstance(value, bool) else None


def _validate_without_dependencies(path: str) -> dict[str, Any]:
    """The configuration without pydantic and PyYAML: the defaults, when there is no file and no override."""
    if os.path.exists(path) or _env_stamp():
        raise ConfigError(f"{path}: cannot be read yet: its dependencies (pydantic, PyYAML) are not installed yet")
    result = stdlib_defaults()
    _finish(result, None)
    return result


def stdlib_defaults() -> dict[str, Any]:
    """``Config().model_dump()`` read from config_model.py with the standard library (``ast``): every field's
    default, section by section. tests/test_config.py holds the two equal."""
    import ast

    with open(_SCHEMA, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def default(value: ast.expr | None) -> Any:
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
            for keyword in value.keywords:
                if keyword.arg == "default_factory":
                    name = getattr(keyword.value, "id", "")
                    return fields(classes[name]) if name in classes else {"list": [], "dict": {}}[name]
                if keyword.arg == "default":
                    return ast.literal_eval(keyword.value)
            return ast.literal_eval(value.args[0])
        if value is None:
            raise ValueError("a field without a default")
        return ast.literal_eval(value)

    def fields(cls: ast.ClassDef) -> dict[str, Any]:
        return {
            node.target.id: default(node.value)
            for node in cls.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        }

    return fields(classes["Config"])


def _flatten(path: str, exc: Any, sources: dict[tuple[str, ...], str] | None = None, translation: Any = None) -> str:
    return "invalid configuration:\n  " + "\n  ".join(_unique(_flatten_lines(path, exc, sources, translation)))


def _flatten_lines(path: str, exc: Any, sources: dict[tuple[str, ...], str] | None, translation: Any) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        where = (sources or {}).get(loc[:2]) or (sources or {}).get(loc[:1])
        origin = f"environment variable {where}" if where else path
        key = translation.spelling(loc) if translation is not None and not where else ".".join(loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see docs/configuration.md)"
        elif loc[-1:] == ("fallback_mode",):
            message = "expected local or skip (or, as the original design wrote it, true or false)"
        lines.append(f"{origin}: {key}: {message}")
    return lines


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _default_user_id() -> str:
    import getpass

    try:
        return getpass.getuser() or "default"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "default"


def keeps_local_index(config: dict[str, Any]) -> bool:
    """Whether this machine keeps the embedded store: always with the local backend; with a remote one,
    unless ``mem0.local_index`` is off (the hybrid store: the local index beside the remote one)."""
    return config["backend"] == "local" or bool(config["mem0"].get("local_index", True))


def api_key(config: dict[str, Any]) -> str | None:
    """The Mem0 API key: ``MEM0_API_KEY``, else the 0600 ``api_key`` file, else ``mem0.api_key``."""
    key = os.environ.get("MEM0_API_KEY")
    if key:
        return key.strip()
    try:
        with open(paths.api_key_file(), encoding="utf-8") as fh:
            key = fh.read().strip()
        if key:
            return key
    except OSError:
        pass
    return config.get("mem0", {}).get("api_key") or None


def read_consent() -> dict[str, Any] | None:
    """The consent decision recorded in ``consent.json`` (``{"consent_given", "at", "source"}``), or None."""
    try:
        with open(paths.consent_file(), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("consent_given"), bool) else None


def record_consent(given: bool, *, source: str) -> None:
    """Record a consent decision in ``consent.json`` (0600, atomic); ``source`` says who made it."""
    import time

    paths.write_private_json(
        paths.consent_file(),
        {"consent_given": bool(given), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": source},
    )


def capture_allowed(config: dict[str, Any]) -> bool:
    """Whether conversation turns may be stored at all (auto_store and consent)."""
    privacy = config["privacy"]
    if privacy["require_consent"] and not privacy["consent_given"]:
        return False
    return bool(config["memory"]["auto_store"])


_GENERATED = "# mem0-hooks configuration. Every key is documented in docs/configuration.md."
# What install wrote as the first line before 0.3.0 (refresh_generated_defaults knows both).
_GENERATED_BEFORE = ("# mem0-hooks configuration. Every key is documented in the README ('Configuration').",)
# Commented out, so that a later release's defaults apply to a file an install wrote.
_RECALL_DEFAULTS = (
    "  # max_context_memories: 24  # most exchanges injected per prompt\n"
    "  # context_budget_chars: 4600  # most characters injected per prompt\n"
    "  # min_relevance: 0.215  # the local store injects only turns scoring this share of the best match\n"
)


def default_yaml(
    *, backend: str = "local", consent: bool | None = None, user_id: str = "", url: str | None = None
) -> str:
    """The commented config.yaml that install writes. Consent is not in it (install records it in
    consent.json); ``consent`` writes ``privacy.consent_given`` into the file, for a self-contained file."""
    lines = [
        _GENERATED,
        "# Environment variables override this file: MEM0_HOOKS_<SECTION>_<KEY>, e.g. MEM0_HOOKS_BACKEND.",
        f"backend: {backend}          # local | platform | openmemory | server",
    ]
    if user_id:
        lines.append(f"user_id: {json.dumps(user_id)}")
    consent_line = (
        "  # consent_given: recorded in consent.json; `mem0-hooks config set privacy.consent_given false` withdraws it"
        if consent is None
        else f"  consent_given: {'true' if consent else 'false'}"
    )
    lines += [
        "memory:",
        "  auto_store: true            # capture conversation turns",
        "  search_on_query: true       # inject recalled memories on every prompt",
        *_RECALL_DEFAULTS.splitlines(),
        "privacy:",
        "  require_consent: true       # capture nothing without consent",
        consent_line,
        "  auto_delete_after_days: null  # e.g. 90 to forget older memories",
        "  redact_patterns: []",
        "  exclude_projects: []        # globs, e.g. ['~/work/secret-*']",
    ]
    if url:
        lines += ["mem0:", f"  base_url: {json.dumps(url)}"]
    return "\n".join(lines) + "\n"


# The recall limits an install (or the plugin's first run) wrote into config.yaml before 0.2.0, when
# they were the defaults. Left in place, they would hold someone who never chose them to the old
# limits under the relevance cut that came with 0.2.0 (``memory.min_relevance``, local store only):
# less recalled than with either the old defaults or the new ones.
OLD_RECALL_LIMITS = {"max_context_memories": 12, "context_budget_chars": 4000}
_OLD_RECALL_LINES = "".join(f"  {key}: {value}\n" for key, value in OLD_RECALL_LIMITS.items())


def refresh_generated_defaults(path: str, *, dry_run: bool = False) -> bool:
    """Comment out the recall limits an earlier install wrote, so the current defaults apply; True when
    it did (or, with ``dry_run``, would). Raises OSError when the file cannot be rewritten.

    Only a file as it was generated: it still has the header comment (``config set`` rewrites a file
    without comments, so a value set through it is never taken for a default), the two lines exactly
    as written, and the local backend (the cut that makes the old limits a loss is the local store's).
    A symlinked config.yaml is changed where it lives.
    """
    real = os.path.realpath(path)
    try:
        with open(real, encoding="utf-8", newline="") as fh:  # newline="": a CRLF file is not ours, nor changed
            text = fh.read()
    except (OSError, ValueError):  # unreadable, or not UTF-8: not a file install wrote
        return False
    at = text.find("\n" + _OLD_RECALL_LINES)
    if at < 0 or not any(header in text for header in (_GENERATED, *_GENERATED_BEFORE)):
        return False
    import re

    if not re.search(r"^backend:\s*local\s*(#.*)?$", text, re.M):
        return False
    if dry_run:
        return True
    new = text[: at + 1] + _RECALL_DEFAULTS + text[at + 1 + len(_OLD_RECALL_LINES) :]
    tmp = f"{real}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new)
        os.replace(tmp, real)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True
