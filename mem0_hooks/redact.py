"""Secrets and ``<private>`` spans out of conversation text, before anything is written.

``scrub`` is what capture calls on every turn: it drops ``<private>...</private>`` spans, then
``redact`` replaces each secret it recognises with a marker naming what was removed
(``[REDACTED:github-token]``), so a memory can still say *that* a key was set, never the key.

``redact`` works in stages, each seeing the output of the one before:

1. PEM private-key blocks; a block cut off before its END line is removed to the end of the text.
2. Tokens with a vendor prefix (``sk-ant-``, ``ghp_``, ``AKIA``, ``m0sk_``...), found with ``str.find``.
3. Tokens known by their shape: JWTs, Slack/Discord webhook URLs, Telegram bot tokens.
4. Credentials known by their place: ``scheme://user:PASS@host``, ``Authorization:`` and bearer tokens,
   ``Cookie:`` headers, ``curl -u user:PASS``, ``mysql -pPASS``, ``--password PASS``, ``.netrc``.
5. Values whose name says secret: ``API_KEY=...``, ``password: ...``, ``"client_secret": "..."``,
   ``?token=...`` in a URL, ``;Password=...;`` in a connection string.
6. Whatever still looks random: 32+ characters of base64-ish text with upper case, lower case and
   digits, high entropy and few word-like pieces (so identifiers, paths and prose survive).
7. The user's own patterns (``privacy.redact_patterns``), each match becoming ``[REDACTED:custom]``.

Decisions, with the false positives and negatives they accept:

* Hexadecimal strings are never redacted for looking random: in a transcript they are git SHAs,
  digests, UUIDs and checksums. A hex secret is caught only by its prefix (``dop_v1_``, ``sbp_``...)
  or its name (``TWILIO_AUTH_TOKEN=...``, ``X-API-Key: ...``). Likewise lower-case-only tokens.
* Base64 blobs are redacted even when harmless (certificates, images, key pins; SSH public keys and
  go.sum/SRI hashes excepted): they cannot be told from a key, and a memory loses nothing by it.
  Inside a URL each path segment is judged alone, so ``/blob/<sha>/src`` stays and a document id goes.
  The test for randomness misses about 2.5% of uniformly random 32-character tokens (1.6% at 40,
  0.2% at 64): it is the last net, behind prefixes, shapes and names.
* An unquoted ``name: value`` in the middle of a line counts only if the value looks like a key
  (8+ characters with letters and digits): ``Token: the token expires`` is prose, not a secret.
  An unquoted value with more words after it is taken for code (``x = token is not None``) and
  kept, so ``password = two words`` in an INI file is not redacted.
* A value that names a secret kept elsewhere (``$DB_PASSWORD``, ``${{ secrets.X }}``, ``<your-key>``,
  ``os.environ["X"]``) or is code (``get_token()``, ``self.token = token``, ``token: string``) is kept.
* Example credentials in documentation (``https://user:pass@host``) are redacted like real ones.

``redact`` is idempotent (``redact(redact(x)) == redact(x)``; user patterns aside) and never raises.
It runs on every prompt in a fresh hook process, which pays for every ``re.compile``: the stages use
``str`` methods, and the few small patterns left (JWT and webhook shapes, ``<private>`` tags, word
pieces of a random-looking token) compile on first use, only when a cheap substring test says so.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc costs an import the hot path does not need
    import re
    from collections.abc import Sequence

__all__ = ["redact", "scrub", "strip_private"]

PRIVATE_MARKER = "[PRIVATE]"
_MARK = "[REDACTED:"


def _marker(kind: str) -> str:
    return f"{_MARK}{kind}]"


def scrub(text: str, extra_patterns: Sequence[str] = ()) -> str:
    """Remove ``<private>`` spans, then secrets: what capture applies to every turn."""
    return redact(strip_private(text), extra_patterns)


def redact(text: str, extra_patterns: Sequence[str] = ()) -> str:
    """Replace every secret found in ``text`` with ``[REDACTED:<kind>]``; invalid extra patterns are skipped."""
    if not text:
        return text
    # A redaction can expose another: "AKIA...https://hooks.slack.com/..." only shows its AWS key once the
    # webhook beside it is a marker. Stages only ever turn plain text into markers and never touch a
    # marker, so repeating them converges; text with nothing to redact pays for one pass only.
    for _ in range(_MAX_PASSES):
        redacted = _redact_once(text)
        if redacted == text:
            break
        text = redacted
    if extra_patterns:
        text = _redact_custom(text, extra_patterns)
    return text


_MAX_PASSES = 5


def _redact_once(text: str) -> str:
    text = _redact_private_keys(text)
    text = _redact_prefixed_tokens(text)
    text = _redact_shaped_tokens(text)
    text = _redact_url_credentials(text)
    text = _redact_auth_headers(text)
    text = _redact_command_lines(text)
    text = _redact_named_values(text)
    return _redact_high_entropy(text)


# --- <private> spans -------------------------------------------------------------------------------

_PRIVATE_TAG = r"<\s*(/?)\s*private\s*>"


def strip_private(text: str) -> str:
    """Replace each ``<private>...</private>`` span (nested, any case) with ``[PRIVATE]``; unclosed runs to the end."""
    if "<" not in text or "private" not in text.lower():
        return text
    out: list[str] = []
    depth = 0
    kept_from = 0
    for tag in _compiled(_PRIVATE_TAG, _RE_IGNORECASE).finditer(text):
        if not tag.group(1):
            if depth == 0:
                out.append(text[kept_from : tag.start()])
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                out.append(PRIVATE_MARKER)
                kept_from = tag.end()
        # a stray </private> outside any span hides nothing: it stays
    out.append(PRIVATE_MARKER if depth else text[kept_from:])
    return "".join(out)


# --- shared helpers ---------------------------------------------------------------------------------


_RE_IGNORECASE = 2  # re.IGNORECASE: re is imported on first use
_RE_DOTALL = 16  # re.DOTALL: re is imported on first use
_RE_MULTILINE = 8  # re.MULTILINE: re is imported on first use


def _memo(size):
    """lru_cache without importing functools (and collections) at import time: a bounded dict."""

    def wrap(fn):
        cache = {}

        def call(arg):
            try:
                return cache[arg]
            except KeyError:
                value = fn(arg)
                if len(cache) < size:
                    cache[arg] = value
                return value

        return call

    return wrap


_COMPILED: dict = {}


def _compiled(pattern: str, flags: int = 0) -> re.Pattern[str]:
    key = (pattern, flags)
    found = _COMPILED.get(key)
    if found is None:
        import re

        found = _COMPILED[key] = re.compile(pattern, flags)
    return found


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """``text.lower()`` with every index kept: a few characters (``İ``) lower to two, which would misalign finds."""
    lower = text.lower()
    return lower if len(lower) == len(text) else text.translate(_ASCII_LOWER)


def _substitute(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping (start, end, replacement) edits, given in order."""
    if not spans:
        return text
    out: list[str] = []
    at = 0
    for start, end, replacement in spans:
        out.append(text[at:start])
        out.append(replacement)
        at = end
    out.append(text[at:])
    return "".join(out)


_REFERENCE_LEADS = ("$", "%", "{{", "{%", "<", "arn:aws:", "op://", "vault:", "ref+")
_YAML_BLOCK = frozenset(("|", "|-", "|+", ">", ">-", ">+"))


def _is_reference(value: str) -> bool:
    """True when ``value`` names a secret kept elsewhere or is a placeholder: ``$DB_PASS``, ``<your-key>``..."""
    if not value or value.startswith(_REFERENCE_LEADS) or value in _YAML_BLOCK:
        return True
    if value[0] in "!*&" and value[1:].replace("_", "").replace("-", "").isalpha():
        return True  # a YAML tag (!vault), alias (*default) or anchor (&pw)
    if value[0] == "{" and value[-1] == "}" and value[1:-1].replace("_", "").isalnum():
        return True  # a format hole: "{token}"
    low = value.lower()
    return (
        low.startswith(("your-", "your_", "yourkey", "your "))
        or "..." in value
        or "\u2026" in value
        or low in ("redacted", "none", "null", "nil")
        or len(set(value)) == 1  # xxxxxxxx, ********
    )


# --- 1. PEM private keys ----------------------------------------------------------------------------

# The block parsers below (and those for headers and command lines) use str methods, not regexes: a
# pattern that size costs 0.5-2 ms to compile, paid again by every hook process that meets one.


def _redact_private_keys(text: str) -> str:
    """PEM ``-----BEGIN ... PRIVATE KEY-----`` blocks (to the end of the text if never closed), PuTTY private lines."""
    if "PRIVATE KEY" not in text and "Private-Lines:" not in text:
        return text
    spans: list[tuple[int, int, str]] = []
    begin = text.find("-----BEGIN")
    while begin >= 0:
        header_end = _pem_boundary_end(text, begin + 10)
        if header_end < 0:
            begin = text.find("-----BEGIN", begin + 10)
            continue
        end = len(text)
        footer = text.find("-----END", header_end)
        while footer >= 0:
            footer_end = _pem_boundary_end(text, footer + 8)
            if footer_end >= 0:
                end = footer_end
                break
            footer = text.find("-----END", footer + 8)
        spans.append((begin, end, _marker("private-key")))
        begin = text.find("-----BEGIN", end)
    text = _substitute(text, spans)
    return _redact_putty_private_lines(text) if "Private-Lines:" in text else text


def _pem_boundary_end(text: str, label_start: int) -> int:
    """End of a ``-----BEGIN/END <label>-----`` line whose label names a private key; -1 when it does not."""
    close = text.find("-----", label_start, label_start + 64)
    label = text[label_start:close]
    return close + 5 if close >= 0 and "PRIVATE KEY" in label and "\n" not in label else -1


def _redact_putty_private_lines(text: str) -> str:
    """A PuTTY .ppk file: the base64 lines after ``Private-Lines: N`` are the private key."""
    spans: list[tuple[int, int, str]] = []
    n = len(text)
    at = text.find("Private-Lines:")
    while at >= 0:
        line_end = text.find("\n", at)
        end = -1
        if line_end >= 0 and text[at + 14 : line_end].strip().isdigit():
            start = line_end + 1
            while start < n:
                stop = text.find("\n", start)
                stop = n if stop < 0 else stop
                line = text[start:stop].rstrip()
                if not line or not all(c in _B64 for c in line):
                    break
                end = start + len(line)
                start = stop + 1
        if end > 0:
            spans.append((at, end, _marker("private-key")))
        at = text.find("Private-Lines:", max(end, at + 14))
    return _substitute(text, spans)


# --- 2. tokens with a vendor prefix -----------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_ALNUM = frozenset(_LOWER + _UPPER + _DIGITS)
_B64URL = _ALNUM | frozenset("_-")
_B64URL_DOT = _B64URL | frozenset(".")
_B64 = _ALNUM | frozenset("+/=")
_UPPER_DIGITS = frozenset(_UPPER + _DIGITS)
_HEX = frozenset(_DIGITS + "abcdefABCDEF")
_HEX_LOWER = frozenset(_DIGITS + "abcdef")

# (kind, prefix, alphabet of the body, shortest body, longest body or 0, extra check, keep prefix)
# Order matters where prefixes overlap: "sk-ant-" before "sk-proj-" before "sk-".
_Prefixed = tuple[str, str, frozenset[str], int, int, str, bool]
_PREFIXED: tuple[_Prefixed, ...] = (
    ("anthropic-key", "sk-ant-", _B64URL, 20, 0, "", False),
    ("openrouter-key", "sk-or-v1-", _HEX_LOWER, 32, 0, "", False),
    ("openai-key", "sk-proj-", _B64URL, 20, 0, "", False),
    ("openai-key", "sk-svcacct-", _B64URL, 20, 0, "", False),
    ("openai-key", "sk-admin-", _B64URL, 20, 0, "", False),
    ("openai-key", "sk-None-", _B64URL, 20, 0, "", False),
    ("openai-key", "sk-", _ALNUM, 20, 0, "digit", False),
    ("mem0-server-key", "m0sk_", _B64URL, 16, 0, "", False),
    ("mem0-key", "m0-", _ALNUM, 20, 0, "", False),
    ("aws-access-key", "AKIA", _UPPER_DIGITS, 16, 16, "", False),
    ("aws-access-key", "ASIA", _UPPER_DIGITS, 16, 16, "", False),
    ("aws-access-key", "ABIA", _UPPER_DIGITS, 16, 16, "", False),
    ("aws-access-key", "ACCA", _UPPER_DIGITS, 16, 16, "", False),
    ("github-token", "ghp_", _ALNUM, 30, 0, "", False),
    ("github-token", "gho_", _ALNUM, 30, 0, "", False),
    ("github-token", "ghu_", _ALNUM, 30, 0, "", False),
    ("github-token", "ghs_", _ALNUM, 30, 0, "", False),
    ("github-token", "ghr_", _ALNUM, 30, 0, "", False),
    ("github-token", "github_pat_", _B64URL, 40, 0, "", False),
    ("gitlab-token", "glpat-", _B64URL_DOT, 20, 0, "", False),
    ("gitlab-token", "gldt-", _B64URL_DOT, 20, 0, "", False),
    ("gitlab-token", "glrt-", _B64URL_DOT, 20, 0, "", False),
    ("gitlab-token", "glptt-", _B64URL_DOT, 20, 0, "", False),
    ("gitlab-token", "glcbt-", _B64URL_DOT, 20, 0, "", False),
    ("slack-token", "xoxb-", _B64URL, 10, 0, "", False),
    ("slack-token", "xoxp-", _B64URL, 10, 0, "", False),
    ("slack-token", "xoxa-", _B64URL, 10, 0, "", False),
    ("slack-token", "xoxr-", _B64URL, 10, 0, "", False),
    ("slack-token", "xoxs-", _B64URL, 10, 0, "", False),
    ("slack-token", "xoxe-", _B64URL, 10, 0, "", False),
    ("slack-token", "xapp-", _B64URL, 10, 0, "", False),
    ("stripe-key", "sk_live_", _ALNUM, 20, 0, "", False),
    ("stripe-key", "rk_live_", _ALNUM, 20, 0, "", False),
    ("stripe-key", "sk_test_", _ALNUM, 20, 0, "", False),
    ("stripe-key", "rk_test_", _ALNUM, 20, 0, "", False),
    ("stripe-webhook-secret", "whsec_", _B64, 24, 0, "", False),
    ("google-api-key", "AIza", _B64URL, 35, 35, "", False),
    ("google-oauth-secret", "GOCSPX-", _B64URL, 20, 0, "", False),
    ("google-oauth-token", "ya29.", _B64URL_DOT, 20, 0, "", False),
    ("npm-token", "npm_", _ALNUM, 36, 36, "", False),
    ("pypi-token", "pypi-Ag", _B64URL, 50, 0, "", False),
    ("huggingface-token", "hf_", _ALNUM, 30, 40, "mixed", False),
    ("sendgrid-key", "SG.", _B64URL_DOT, 60, 0, "", False),
    ("twilio-key", "SK", _HEX, 32, 32, "digit", False),
    ("azure-key", "AccountKey=", _B64, 20, 0, "", True),
    ("azure-key", "SharedAccessKey=", _B64, 20, 0, "", True),
    ("digitalocean-token", "dop_v1_", _HEX_LOWER, 64, 64, "", False),
    ("digitalocean-token", "doo_v1_", _HEX_LOWER, 64, 64, "", False),
    ("digitalocean-token", "dor_v1_", _HEX_LOWER, 64, 64, "", False),
    ("shopify-token", "shpat_", _HEX, 32, 32, "", False),
    ("shopify-token", "shpss_", _HEX, 32, 32, "", False),
    ("shopify-token", "shpca_", _HEX, 32, 32, "", False),
    ("docker-token", "dckr_pat_", _B64URL, 20, 0, "", False),
    ("groq-key", "gsk_", _ALNUM, 40, 0, "", False),
    ("xai-key", "xai-", _ALNUM, 60, 0, "", False),
    ("replicate-token", "r8_", _ALNUM, 30, 0, "", False),
    ("perplexity-key", "pplx-", _ALNUM, 40, 0, "", False),
    ("langsmith-key", "lsv2_pt_", _B64URL, 40, 0, "", False),
    ("langsmith-key", "lsv2_sk_", _B64URL, 40, 0, "", False),
    ("linear-key", "lin_api_", _ALNUM, 30, 0, "", False),
    ("notion-token", "ntn_", _ALNUM, 40, 0, "", False),
    ("notion-token", "secret_", _ALNUM, 43, 43, "digit", False),
    ("supabase-token", "sbp_", _HEX_LOWER, 40, 40, "", False),
    ("postman-key", "PMAK-", _HEX | frozenset("-"), 50, 0, "", False),
    ("databricks-token", "dapi", _HEX, 32, 32, "digit", False),
    ("vault-token", "hvs.", _B64URL, 24, 0, "", False),
    ("vault-token", "hvb.", _B64URL, 24, 0, "", False),
    ("sentry-token", "sntrys_", _B64 | frozenset("_"), 50, 0, "", False),
    ("sentry-token", "sntryu_", _HEX_LOWER, 64, 64, "", False),
    ("age-secret-key", "AGE-SECRET-KEY-1", _UPPER_DIGITS, 58, 58, "", False),
    ("atlassian-token", "ATATT3", _B64URL | frozenset("="), 50, 0, "", False),
    ("tavily-key", "tvly-", _B64URL, 20, 0, "", False),
    ("mailgun-key", "key-", _HEX_LOWER, 32, 32, "", False),
)


def _prefix_groups() -> tuple[tuple[str, tuple[_Prefixed, ...]], ...]:
    groups: dict[str, list[_Prefixed]] = {}
    for entry in _PREFIXED:
        groups.setdefault(entry[1][:3], []).append(entry)
    return tuple((lead, tuple(entries)) for lead, entries in groups.items())


_PREFIX_GROUPS = _prefix_groups()  # one `in` test per three-letter lead instead of one find per prefix


def _redact_prefixed_tokens(text: str) -> str:
    for lead, entries in _PREFIX_GROUPS:
        if lead in text:
            for entry in entries:
                text = _redact_prefix(text, entry)
    return text


def _redact_prefix(text: str, entry: _Prefixed) -> str:
    """Every ``prefix + body`` token of one table entry, standing alone (not glued to letters either side)."""
    kind, prefix, alphabet, shortest, longest, check, keep_prefix = entry
    spans: list[tuple[int, int, str]] = []
    n = len(text)
    start = text.find(prefix)
    while start >= 0:
        body = start + len(prefix)
        end = body
        while end < n and text[end] in alphabet:
            end += 1
        after = text[end] if end < n else " "
        if "." in alphabet:
            while end > body and text[end - 1] == ".":
                end -= 1  # the full stop ending a sentence is not part of the token
        before = text[start - 1] if start else " "
        size = end - body
        if (
            not (before.isalnum() or before == "_")
            and not after.isalnum()
            and size >= shortest
            and (not longest or size <= longest)
            and _body_passes(text[body:end], check)
        ):
            spans.append((body if keep_prefix else start, end, _marker(kind)))
            start = text.find(prefix, end)
        else:
            start = text.find(prefix, start + 1)
    return _substitute(text, spans)


def _body_passes(body: str, check: str) -> bool:
    if check == "digit":
        return any(c.isdigit() for c in body)
    if check == "mixed":
        return any(c.isupper() for c in body) and any(c.islower() for c in body)
    return True


# --- 3. tokens known by their shape -----------------------------------------------------------------

_SHAPED: tuple[tuple[str, str, str], ...] = (
    # (literal that must be present, pattern, kind)
    ("eyJ", r"(?<![\w-])eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*(?:\.[\w-]+\.[\w-]+)?", "jwt"),
    ("hooks.slack.com", r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]+", "slack-webhook"),
    ("/api/webhooks/", r"https?://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+", "discord-webhook"),
    (":AA", r"(?<![\w:])\d{6,12}:AA[\w-]{30,40}(?![\w-])", "telegram-bot-token"),
)


def _redact_shaped_tokens(text: str) -> str:
    for literal, pattern, kind in _SHAPED:
        if literal in text:
            text = _compiled(pattern).sub(_marker(kind), text)
    return text


# --- 4. credentials known by their place ------------------------------------------------------------

_AUTHORITY_END = frozenset(" \t\r\n/\"'<>`")


def _redact_url_credentials(text: str) -> str:
    """``scheme://user:PASS@host``: keeps scheme, user and host; the password is up to the last ``@``."""
    if "://" not in text or "@" not in text:
        return text
    spans: list[tuple[int, int, str]] = []
    n = len(text)
    scheme_end = text.find("://")
    while scheme_end >= 0:
        start = end = scheme_end + 3
        while end < n and text[end] not in _AUTHORITY_END:
            end += 1
        at = text.rfind("@", start, end)
        user_from = start
        if at > start and _MARK in text[start:at]:
            user_from = text.rfind("]", start, at) + 1  # https://[REDACTED:github-token]@host: no password
        colon = text.find(":", user_from, at) if at > start else -1
        if colon >= 0 and colon + 1 < at:
            password = text[colon + 1 : at]
            # a raw "#" or "?" can be part of a pasted password; "host:8080?email=a@b" is a query instead
            query_like = "=" in password and any(c in text[start:colon] + password for c in "?#")
            if not password.startswith(_MARK) and not _is_reference(password) and not query_like:
                spans.append((colon + 1, at, _marker("password")))
        scheme_end = text.find("://", end)
    return _substitute(text, spans)


_CREDENTIAL_END = frozenset(" \t\r\n\"'<>,;")
_BEARER_CHARS = _ALNUM | frozenset("_.~+/=-")


def _redact_auth_headers(text: str) -> str:
    """``Authorization: <scheme> CRED``, ``bearer TOKEN`` anywhere, and ``Cookie:`` header values."""
    lower = _lower(text)
    spans: list[tuple[int, int, str]] = []
    for word, parse in (("authorization", _authorization_span), ("bearer", _bearer_span), ("cookie", _cookie_span)):
        at = lower.find(word)
        while at >= 0:
            if not _is_word_char(text[at - 1] if at else " "):
                span = parse(text, at + len(word))
                if span is not None:
                    spans.append(span)
            at = lower.find(word, at + len(word))
    return _substitute(text, _without_overlaps(spans))


def _authorization_span(text: str, i: int) -> tuple[int, int, str] | None:
    n = len(text)
    if i < n and _is_word_char(text[i]):
        return None  # authorization_code, authorizations
    i = _skip(text, i, "\"'", 1)
    i = _skip(text, i, " \t")
    if i >= n or text[i] not in ":=":
        return None
    i = _skip(text, _skip(text, i + 1, " \t"), "\"'", 1)
    scheme_end = i
    while scheme_end < n and (text[scheme_end].isalnum() or text[scheme_end] in "_-"):
        scheme_end += 1
    after_scheme = _skip(text, scheme_end, " \t")
    scheme = ""
    if scheme_end > i and after_scheme > scheme_end and after_scheme < n and text[after_scheme] not in _CREDENTIAL_END:
        scheme, i = text[i:scheme_end].lower(), after_scheme
    end = i
    while end < n and text[end] not in _CREDENTIAL_END:
        end += 1
    credential = text[i:end]
    if not credential or _MARK in credential or _is_reference(credential):
        return None
    if not scheme and not _looks_like_key(credential):
        return None  # "authorization: required"
    return i, end, _marker("basic-auth" if scheme == "basic" else "bearer-token")


def _bearer_span(text: str, i: int) -> tuple[int, int, str] | None:
    start = _skip(text, i, " \t")
    if start == i:
        return None
    end = start
    while end < len(text) and text[end] in _BEARER_CHARS:
        end += 1
    if not _looks_like_key(text[start:end], shortest=12):
        return None  # "bearer tokens expire", "Bearer authentication"
    return start, end, _marker("bearer-token")


def _cookie_span(text: str, i: int) -> tuple[int, int, str] | None:
    n = len(text)
    i = _skip(text, _skip(text, i, "\"'", 1), " \t")
    if i >= n or text[i] != ":":
        return None
    start = _skip(text, _skip(text, i + 1, " \t"), "\"'", 1)
    end = start
    while end < n and text[end] not in "\"'\r\n":
        end += 1
    jar = text[start:end].rstrip()
    if "=" not in jar or _MARK in jar or _is_reference(jar):
        return None  # "cookie: chocolate chip" is not a header
    return start, start + len(jar), _marker("cookie")


def _skip(text: str, i: int, chars: str, most: int = -1) -> int:
    """The index after at most ``most`` (all, when negative) characters of ``chars`` from ``i``."""
    n = len(text)
    while i < n and text[i] in chars and most != 0:
        i += 1
        most -= 1
    return i


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _without_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


_COMMAND_TRIGGERS = (
    "curl",
    "mysql",
    "mariadb",
    "sshpass",
    "redis-cli",
    "machine",
    "--pass",
    "--token",
    "--api",
    "--secret",
    "--client-secret",
    "--auth-token",
    "--access-token",
    "--admin-password",
    "--db-password",
)
_FLAGS = (
    "password",
    "passwd",
    "pass",
    "token",
    "api-key",
    "apikey",
    "api_key",
    "secret",
    "client-secret",
    "auth-token",
    "access-token",
    "admin-password",
    "db-password",
)
_MYSQL_TOOLS = frozenset(("mysql", "mysqldump", "mysqladmin", "mariadb", "mariadb-dump"))
_NETRC_LEADS = frozenset(("machine", "login", "password", "default"))
_VALUE_END = frozenset(" \t\r\n\"'`")


def _redact_command_lines(text: str) -> str:
    """``curl -u user:PASS``, ``mysql -pPASS``, ``sshpass -p PASS``, ``redis-cli -a PASS``, ``--token X``, .netrc."""
    lower = _lower(text)
    line_starts = set()
    for trigger in _COMMAND_TRIGGERS:
        at = lower.find(trigger)
        while at >= 0:
            line_starts.add(lower.rfind("\n", 0, at) + 1)
            at = lower.find(trigger, at + len(trigger))
    if not line_starts:
        return text
    in_netrc = "machine" in lower
    if in_netrc:  # .netrc spreads an entry over lines: "machine x" / "login y" / "password z"
        at = lower.find("password")
        while at >= 0:
            line_starts.add(lower.rfind("\n", 0, at) + 1)
            at = lower.find("password", at + 8)
    spans: list[tuple[int, int, str]] = []
    for start in sorted(line_starts):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        for value_start, value_end, kind in _command_line_secrets(text[start:end], lower[start:end], in_netrc):
            spans.append((start + value_start, start + value_end, _marker(kind)))
    return _substitute(text, _without_overlaps(spans))


def _command_line_secrets(line: str, lower: str, in_netrc: bool) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each credential passed on one command line."""
    found: list[tuple[int, int, str]] = []
    words = lower.split()

    def take(start: int, kind: str = "password", *, spelled_out: bool = False) -> None:
        end = start
        while end < len(line) and line[end] not in _VALUE_END:
            end += 1
        value = line[start:end]
        if not value or value.startswith(("-", _MARK)) or _is_reference(value):
            return
        if spelled_out and value.isalpha():
            return  # "--password via the CLI is insecure": prose, not a value
        found.append((start, end, kind))

    curl = lower.find("curl")
    if curl >= 0:
        for option, attached in (("-u", False), ("-u", True), ("--user", False)):
            user = _option_value(line, option, curl, attached=attached)
            if user >= 0:
                colon = user
                while colon < len(line) and line[colon] not in " \t:\"'@[":
                    colon += 1
                if line[colon : colon + 1] == ":":
                    take(colon + 1)
    if _MYSQL_TOOLS.intersection(words):
        take_at = _option_value(line, "-p", 0, attached=True)  # "-p PASS" (spaced) means "ask me"
        if take_at >= 0:
            take(take_at)
    for tool, option in (("sshpass", "-p"), ("redis-cli", "-a")):
        tool_at = lower.find(tool)
        if tool_at >= 0:
            value = _option_value(line, option, tool_at)
            if value < 0:
                value = _option_value(line, option, tool_at, attached=True)
            if value >= 0:
                take(value)
    if "--" in line:
        for flag in _FLAGS:
            value = _option_value(line, "--" + flag, 0)
            if value >= 0:
                take(value, _secret_kind(flag) or "secret", spelled_out=line[value - 1] in " \t")
    if in_netrc and words and words[0] in _NETRC_LEADS and "password" in words[:-1]:
        at = lower.find("password")
        while at >= 0 and not ((at == 0 or lower[at - 1] in " \t") and lower[at + 8 : at + 9] in (" ", "\t")):
            at = lower.find("password", at + 8)
        if at >= 0:
            take(_skip(line, at + 8, " \t"))
    return found


def _option_value(line: str, option: str, start: int, *, attached: bool = False) -> int:
    """Where the value of ``option`` (a separate word, at or after ``start``) begins in ``line``; -1 when absent.

    ``attached`` looks for ``-pVALUE``; otherwise for ``-p VALUE`` / ``--opt=VALUE``. An opening quote is skipped.
    """
    at = line.find(option, start)
    while at >= 0:
        after = at + len(option)
        if (at == 0 or line[at - 1] in " \t") and after < len(line):
            if attached and line[after] not in " \t=":
                return _skip(line, after, "\"'", 1)
            if not attached and line[after] in " \t=":
                return _skip(line, _skip(line, after, " \t=", 1 if line[after] == "=" else -1), "\"'", 1)
        at = line.find(option, after)
    return -1


# --- 5. values whose name says secret ---------------------------------------------------------------

_NAME_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sig", "cookie")
_KEY_QUALIFIERS = frozenset(
    "api access secret private account master signing encryption client license auth session shared "
    "service admin app deploy storage subscription webhook consumer integration personal".split()
)
_JOINED_KEYS = tuple(q + "key" for q in _KEY_QUALIFIERS)
_CODE_WORDS = frozenset(
    "none null nil true false undefined str string bytes int bool boolean number any object optional "
    "required secretstr await new self this os env process include omit same-origin".split()
)
_PLAIN_LITERALS = frozenset(
    "true false none null required optional include omit same-origin string str bearer basic".split()
)
_LINE_LEADS = ("export", "set", "env", "arg", "-", "declare -x", "setenv", "readonly", "local")
_WEAK_WORDS = frozenset(("auth", "sig", "signature", "cookie", "credential", "credentials", "creds"))


@_memo(1024)
def _secret_kind(name: str) -> str | None:
    """The marker kind for a variable/field/header called ``name``, or None when the name is not secret."""
    words = "".join(c if c.isalnum() else " " for c in _decamel(name).lower()).split()
    if not words:
        return None
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if last in ("password", "passwd", "passphrase") or last.endswith(("password", "passwd")):
        return "password"
    if last == "pwd" or (last == "pass" and before and before != "by"):
        return "password"
    if last == "token" or last.endswith("token"):
        return "token"
    if last == "secret" or last.endswith("secret"):
        return "aws-secret-key" if "aws" in words else "secret"
    if last == "key" and before in _KEY_QUALIFIERS:
        if before == "access" and "secret" in words:
            return "aws-secret-key"
        return {"api": "api-key", "private": "private-key"}.get(before, "secret")
    if last.endswith(_JOINED_KEYS):
        return "api-key" if last.endswith("apikey") else "private-key" if last == "privatekey" else "secret"
    if last == "data" and before == "key":  # kubeconfig client-key-data
        return "private-key"
    if last == "base" and before == "key":  # Rails secret_key_base
        return "secret"
    if last in ("auth", "credential", "credentials", "creds", "sig", "signature"):
        return "secret"
    if last == "cookie":
        return "cookie"
    return None


@_memo(1024)
def _is_weak_name(name: str) -> bool:
    """Names like ``auth``, ``sig`` or ``cookie`` are often not secrets: their values must look like keys too."""
    words = "".join(c if c.isalnum() else " " for c in _decamel(name).lower()).split()
    return bool(words) and words[-1] in _WEAK_WORDS


def _decamel(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and (name[i - 1].islower() or name[i - 1].isdigit()):
            out.append("_")
        out.append(c)
    return "".join(out)


_NAME_CHARS = _ALNUM | frozenset("_.$-")
_NAME_STARTS = frozenset(_LOWER + _UPPER + "_$")


def _redact_named_values(text: str) -> str:
    """``API_KEY=...``, ``password: ...``, ``"client_secret": "..."``, ``?token=...``, ``;Password=...;``."""
    spans: list[tuple[int, int, str]] = []
    done = 0
    for name_start, name_end in _secret_names(text, _lower(text)):
        if name_start < done:
            continue
        value_start = _after_separator(text, name_end)
        if value_start is None:
            continue
        name = text[name_start:name_end]
        kind = _secret_kind(name)
        if kind is None and name.lower() == "value":
            kind = _sibling_kind(text, name_start)
        if kind is None or name.lower() in ("authorization", "proxy-authorization"):
            continue
        span = _named_value_span(text, name_start, name, value_start)
        if span is not None:
            spans.append((span[0], span[1], _marker(kind)))
            done = span[1]
    return _substitute(text, spans)


def _secret_names(text: str, lower: str) -> list[tuple[int, int]]:
    """Spans of the identifiers containing a secret-ish word (``DB_PASSWORD``, ``x-api-key``), in order.

    Found with ``str.find`` rather than one regex over every ``name =`` in the text: most turns have
    none, and a hook cannot afford to compile a large pattern on every prompt.
    """
    n = len(text)
    found: set[tuple[int, int]] = set()
    for word in _NAME_WORDS:
        at = lower.find(word)
        while at >= 0:
            start, end = at, at + len(word)
            while start > 0 and text[start - 1] in _NAME_CHARS:
                start -= 1
            while end < n and text[end] in _NAME_CHARS:
                end += 1
            while start < end and text[start] not in _NAME_STARTS:
                start += 1  # a name starts with a letter, "_" or "$"
            if start < end:
                found.add((start, end))
            at = lower.find(word, end)
    found.update(_value_names(text, lower))
    return sorted(found)


def _value_names(text: str, lower: str) -> list[tuple[int, int]]:
    """``value`` keys, whose secret-ness comes from a ``name:`` beside them (Kubernetes env entries)."""
    if "value" not in lower or "name" not in lower:
        return []
    spans = []
    at = lower.find("value")
    while at >= 0:
        before = text[at - 1] if at else " "
        after = text[at + 5] if at + 5 < len(text) else " "
        if before not in _NAME_CHARS and after not in _NAME_CHARS:
            spans.append((at, at + 5))
        at = lower.find("value", at + 5)
    return spans


def _after_separator(text: str, name_end: int) -> int | None:
    """Where the value starts after ``name`` + optional quote or ``**`` + ``=``/``:``/``:=``/``=>``; else None."""
    n = len(text)
    i = name_end
    for _ in range(2):
        if i < n and text[i] in "\"'*":
            i += 1
    if i < n and text[i] == "]" and text[i - 1] in "\"'":  # config["SECRET_KEY"] = ...
        i += 1
    if i < n and text[i] == "?":  # TypeScript: token?: string
        i += 1
    while i < n and text[i] in " \t":
        i += 1
    if i >= n:
        return None
    two = text[i : i + 2]
    if two in (":=", "=>"):
        i += 2
    elif text[i] == "=" and two != "==":
        i += 1
    elif text[i] == ":" and two not in ("::", ":/"):
        i += 1
    else:
        return None
    while i < n and text[i] == "*":
        i += 1
    while i < n and text[i] in " \t":
        i += 1
    return i


def _sibling_kind(text: str, value_start: int) -> str | None:
    """The kind named by ``name: X`` just before ``value: ...`` (Kubernetes env, ECS task definitions)."""
    window_start = text.rfind("\n", 0, max(text.rfind("\n", 0, value_start), 0)) + 1
    lower = _lower(text[window_start:value_start])
    at = lower.rfind("name")
    while at >= 0:
        if at == 0 or not (_is_word_char(lower[at - 1]) or lower[at - 1] == "-"):
            start = _after_separator(lower, at + 4)
            if start is not None:
                start = _skip(lower, start, "\"'", 1)
                end = start
                while end < len(lower) and lower[end] in _NAME_CHARS:
                    end += 1
                return _secret_kind(text[window_start + start : window_start + end]) if end > start else None
        at = lower.rfind("name", 0, at)
    return None


def _named_value_span(text: str, name_start: int, name: str, start: int) -> tuple[int, int] | None:
    """Where the secret value after ``name =`` (starting at ``start``) lies, or None when it should be kept."""
    n = len(text)
    if start >= n:
        return None
    line_start = text.rfind("\n", 0, name_start) + 1
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = n
    weak_name = _is_weak_name(name)
    opener = text[start]
    if opener in "\"'`" or (opener in "rbfuRBFU" and start + 1 < n and text[start + 1] in "\"'"):
        # a quoted literal: the strongest sign of all
        prefix = 1 if opener in "\"'`" else 2
        close = _closing_quote(text, start + prefix, text[start + prefix - 1], line_end)
        if close < 0:
            return None  # never closed: the name sat inside a string, as in print("token=" + token)
        value = text[start + prefix : close]
        if (
            not value
            or (value[0] in "/~" and name.upper() == "PWD")
            or _MARK in value
            or _is_reference(value)
            or value.lower() in _PLAIN_LITERALS
            or (prefix == 2 and "{" in value)  # an f-string: the secret is a variable
            or (prefix == 2 and opener in "rR" and any(c in value for c in "\\[("))  # a raw string: a regex
            or (weak_name and not _looks_like_key(value))
            or _is_color_or_number(value)
        ):
            return None
        return start + prefix, close

    char_before = text[name_start - 1] if name_start else "\n"
    separator = text[name_start + len(name) : start]
    stops = " \t\r\n\"'`"
    if char_before in "?&":
        stops += "&#<>)]"  # a URL query parameter
    elif char_before == ";" or separator == "=" and _semicolon_after(text, start, line_end):
        stops += ";"  # a connection string: Server=x;Password=y;
    end = start
    while end < line_end and text[end] not in stops:
        end += 1
    while end > start and text[end - 1] in ".,;)]}":
        end -= 1
    value = text[start:end]
    if not value or _MARK in value or _is_reference(value):
        return None
    if value[0] in "/~" and name.upper() == "PWD":
        return None  # the shell's working directory, as `env` prints it
    if _is_color_or_number(value) or (weak_name and not _looks_like_key(value)):
        return None
    if (
        char_before in "?&;"
        or ";" in stops
        or (name.isupper() and separator == "=")  # .env, docker -e, A=1 cmd
        or _in_header_option(text[line_start:name_start])
    ):
        return start, end
    if "(" not in value and _among_pairs(text, line_start, name_start, end, line_end):
        return start, end
    rest = text[end:line_end].strip()
    if _looks_like_code(value, name, rest):
        return None
    if name.startswith(("self.", "this.", "cls.", "@")):  # an attribute set in code: only a key-like literal counts
        return (start, end) if _looks_like_key(value) else None
    lead = text[line_start:name_start].strip().strip("\"'*").strip().lower()
    at_line_start = (
        not lead
        or lead in _LINE_LEADS
        or lead.startswith("$env")
        or (lead in ("#", "//") and separator in ("=", ":"))  # a commented-out .env line
    )
    if at_line_start and (not rest or rest.startswith("#")):
        return start, end  # `password: hunter2`, `db_password = hunter2  # rotated`
    return (start, end) if _looks_like_key(value) else None


def _is_color_or_number(value: str) -> bool:
    """``#d0d0d0``, ``0x08074b50``, ``4096``: values a secret-sounding name often holds in code."""
    if value.isdigit():
        return len(value) < 6  # a port, a count, an enum value; six digits and more may be a PIN
    if value[0] == "#" and len(value) in (4, 7, 9):
        return all(c in _HEX for c in value[1:])
    return value[:2].lower() == "0x" and len(value) <= 18 and all(c in _HEX for c in value[2:])


def _closing_quote(text: str, start: int, quote: str, line_end: int) -> int:
    """Index of the quote closing a literal that opens before ``start``; -1 when it is not closed on its line."""
    i = start
    while True:
        i = text.find(quote, i, line_end)
        if i < 0:
            return -1
        backslashes = 0
        while i - 1 - backslashes >= start and text[i - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return i
        i += 1


def _semicolon_after(text: str, start: int, line_end: int) -> bool:
    stop = text.find(";", start, line_end)
    return stop > start and not any(c in " \t\"'" for c in text[start:stop])


def _among_pairs(text: str, line_start: int, name_start: int, value_end: int, line_end: int) -> bool:
    """True inside a run of space-separated ``k=v`` pairs (logfmt, libpq DSNs, ``A=1 B=2 cmd``)."""
    left = text[line_start:name_start].rstrip(" \t")
    if len(left) < name_start - line_start and left and _is_pair(left.rsplit(None, 1)[-1]):
        return True
    right = text[value_end:line_end]
    return right[:1] in (" ", "\t") and _is_pair(right.split(None, 1)[0] if right.strip() else "")


def _is_pair(word: str) -> bool:
    """``key=value`` with a plain key: not ``a==b``, ``f(x=1,`` or an HTML attribute."""
    key, equals, value = word.partition("=")
    return (
        bool(equals and key)
        and key.replace("_", "").replace("-", "").replace(".", "").isalnum()
        and not value.startswith("=")
        and not any(c in value for c in "<>(),\"'")
    )


def _in_header_option(before_name: str) -> bool:
    """True for ``-H "X-Api-Key: ..."`` / ``--header 'PRIVATE-TOKEN: ...'``."""
    stripped = before_name.rstrip()
    return stripped.endswith(('-H "', "-H '", '--header "', "--header '", '-H"', "-H'"))


def _looks_like_code(value: str, name: str, rest_of_line: str) -> bool:
    """True for a value that is an expression, not a literal: ``get_token()``, ``self.token``, ``str``."""
    if any(c in value for c in "()[]{}") or rest_of_line.lstrip().startswith(("(", "[", ".", ";", ",")):
        return True
    if value.lower() in _CODE_WORDS:
        return True
    parts = value.split(".")
    if len(parts) > 1 and all(p.isidentifier() for p in parts) and not any(c.isdigit() for c in value):
        return True
    if value.isidentifier():
        if "_" in value or value.lower() == name.rsplit(".", 1)[-1].lower().lstrip("_$") or _secret_kind(value):
            return True  # token = new_token, self.password = password, previous_token = token
        if value[0].isupper() and not any(c.isdigit() for c in value):
            return True  # a type: ``token: Token``
    return rest_of_line.rstrip().endswith((";", ",", "{", "(", ")"))


def _looks_like_key(value: str, shortest: int = 8) -> bool:
    """Letters and digits together, long enough; or a long run of mixed-case letters: a key, not a word of prose."""
    if len(value) < shortest or not any(c.isalpha() for c in value):
        return False
    if any(c.isdigit() for c in value):
        return True
    if len(value) < 20 or not all(c in _TOKEN_CHARS or c == "=" for c in value):
        return False  # "(typename, fields=None)", "hypothesis.database._EDMeta"
    return sum(c.isupper() for c in value) >= 3 and sum(c.islower() for c in value) >= 3


# --- 6. anything still random-looking ---------------------------------------------------------------

_TOKEN_CHARS = _ALNUM | frozenset("+/_-")
_RUN_CLASSES = str.maketrans(dict.fromkeys(_TOKEN_CHARS, "x"))
_NO_DIGITS = str.maketrans(dict.fromkeys(_DIGITS))
_PIECES = r"[0-9a-f]{7,}|[0-9A-F]{7,}|[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+"
_VOWELS = frozenset("aeiouyAEIOUY")
_PUBLIC_KEY_LEADS = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")
_DIGEST_LEADS = ("h1:", "sha1:", "sha256:", "sha384:", "sha512:", "md5:")
_SHORTEST_RANDOM = 32
_SHORTEST_RANDOM_SEGMENT = 20


def _redact_high_entropy(text: str) -> str:
    """Runs of 32+ base64-ish characters that look random (see ``_looks_random``)."""
    # A candidate never spans whitespace, so only words that long need looking at: most turns have none.
    words = [w for w in text.split() if len(w) >= _SHORTEST_RANDOM]
    if not words:
        return text
    spans: list[tuple[int, int, str]] = []
    at = 0
    for word in words:
        at = text.find(word, at)
        for start, end in _token_runs(word):
            token = word[start:end]
            if "://" in word[:start]:
                # in a URL path, judge each segment: /blob/<sha>/src/App.tsx stays, /d/<document id>/ goes
                segment_start = start
                for segment in token.split("/"):
                    if _looks_random(segment, shortest=_SHORTEST_RANDOM_SEGMENT):
                        spans.append((at + segment_start, at + segment_start + len(segment), _marker("high-entropy")))
                    segment_start += len(segment) + 1
            elif _looks_random(token) and not _is_public_material(text, at + start, token):
                spans.append((at + start, at + end, _marker("high-entropy")))
        at += len(word)
    return _substitute(text, spans)


def _token_runs(word: str) -> list[tuple[int, int]]:
    """Maximal runs of ``[A-Za-z0-9+/_-]`` (plus trailing ``=`` padding) at least 32 long and not glued to a letter."""
    # Mapped to "x" (run character), "=" (padding) or itself (anything else), a run is found with str methods.
    mapped = word.translate(_RUN_CLASSES)
    runs = []
    start = mapped.find("x")
    while start >= 0:
        body = mapped[start:].lstrip("x")
        end = len(mapped) - len(body.lstrip("="))
        glued = start and (word[start - 1].isalnum() or word[start - 1] == "_")  # e.g. after a non-ASCII letter
        if end - start >= _SHORTEST_RANDOM and not glued:
            runs.append((start, end))
        start = mapped.find("x", end)
    return runs


def _is_public_material(text: str, start: int, token: str) -> bool:
    """SSH public keys, go.sum hashes and SRI digests: long and random, but not secrets."""
    lead = text[max(0, start - 60) : start]
    if token.startswith("AAAA"):
        words = lead.split()
        # the key type is too short to be redacted itself, so this answer cannot change on a second pass
        if words and words[-1].startswith(_PUBLIC_KEY_LEADS) and len(words[-1]) < _SHORTEST_RANDOM:
            return True
    for digest in _DIGEST_LEADS:
        if lead.endswith(digest) and (len(lead) == len(digest) or lead[-len(digest) - 1] not in _TOKEN_CHARS):
            return True  # " h1:<base64>" in go.sum, "sha256:<hex>"
    return token.startswith(("sha1-", "sha256-", "sha384-", "sha512-"))


def _looks_random(token: str, shortest: int = _SHORTEST_RANDOM) -> bool:
    """True for base64-ish noise; false for hex, identifiers, paths and C++ symbols."""
    core = token.rstrip("=")
    size = len(core)
    if size < shortest or core.startswith("_Z"):
        return False
    has_upper, has_lower, has_digit = core.lower() != core, core.upper() != core, len(core.translate(_NO_DIGITS)) < size
    if not (has_upper and has_lower and has_digit):
        return False  # hex digests, UUIDs, snake_case and lower-case slugs never get this far
    if _entropy(core) < min(3.8 + (size - 32) * 0.02, 4.3):
        return False
    return _wordiness(core) <= 0.55


def _entropy(s: str) -> float:
    import math  # only reached for a long mixed-case token: most prompts never pay for it

    n = len(s)
    return -sum(k / n * math.log2(k / n) for k in (s.count(c) for c in set(s)))


def _wordiness(token: str) -> float:
    """Share of characters in pieces that read like words, numbers or hashes.

    Random base64 scores about 0.2 (0.55 at its 99th percentile for 32 characters); identifiers,
    paths and URL segments score 0.6 and up.
    """
    segments = token.replace("/", " ").replace("_", " ").replace("-", " ").replace("+", " ").replace("=", " ").split()
    # with two separators or more, short segments read as path parts (usr, X11, v1); random text rarely
    # puts two separators that close together
    path_like = len(segments) >= 3
    pieces = _compiled(_PIECES)
    covered = body = 0
    for segment in segments:
        body += len(segment)
        if path_like and len(segment) <= 4:
            covered += len(segment)
            continue
        for piece in pieces.findall(segment):
            size = len(piece)
            if piece.isdigit():
                covered += size if size >= 4 else 0
            elif size >= 7 and (piece.islower() or piece.isupper()) and any(c.isdigit() for c in piece):
                covered += size  # a hex run: a commit SHA inside a path
            elif size >= 3:
                vowels = sum(c in _VOWELS for c in piece) / size
                if (size >= 5 and vowels >= 0.15) or (size < 5 and 0.2 <= vowels <= 0.7):
                    covered += size
    return covered / body if body else 1.0


# --- 7. the user's own patterns ---------------------------------------------------------------------


def _redact_custom(text: str, patterns: Sequence[str]) -> str:
    import re

    custom = _marker("custom")

    def replace(m: re.Match[str]) -> str:
        return custom if m.group(0) else ""  # an empty match hides nothing: insert nothing

    for pattern in patterns:
        try:
            compiled = _compiled(pattern)
        except (re.error, TypeError, ValueError, OverflowError, RecursionError):
            continue  # the config layer reports bad patterns; capture must not fail on one
        text = compiled.sub(replace, text)
    return text
