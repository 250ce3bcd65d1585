"""Redaction: secrets and <private> spans never reach the queue, the store, the logs or a remote."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mem0_hooks import redact as redact_mod
from mem0_hooks.redact import redact, scrub, strip_private
from tests.data import secrets_corpus as corpus
from tests.data.secrets_corpus import BENIGN_TURNS, SECRET_TURNS

REPO = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"\[REDACTED:([a-z0-9-]+)\]")


def markers(text: str) -> list[str]:
    return MARKER.findall(text)


def assert_markers_well_formed(text: str) -> None:
    """Every "[REDACTED:" opens exactly one marker: none nested, none cut."""
    assert text.count("[REDACTED:") == len(markers(text)), text


# --- the corpus ------------------------------------------------------------------------------------


def test_the_corpus_is_big_enough_to_mean_something() -> None:
    assert len(SECRET_TURNS) >= 60
    assert len(corpus.ALL_SECRETS) >= 60
    assert len(BENIGN_TURNS) >= 30


@pytest.mark.parametrize(("turn", "secrets"), SECRET_TURNS, ids=[f"secret{i}" for i in range(len(SECRET_TURNS))])
def test_no_secret_of_the_corpus_survives_scrub(turn: str, secrets: list[str]) -> None:
    out = scrub(turn)
    for secret in secrets:
        assert secret not in out, f"{secret!r} survived in:\n{out}"
    assert markers(out)
    assert_markers_well_formed(out)
    assert redact(out) == out


@pytest.mark.parametrize("turn", BENIGN_TURNS, ids=[f"benign{i}" for i in range(len(BENIGN_TURNS))])
def test_benign_turns_come_out_unchanged(turn: str) -> None:
    assert scrub(turn) == turn


def test_redaction_keeps_the_rest_of_the_turn() -> None:
    turn, _ = SECRET_TURNS[0]
    out = scrub(turn)
    for line in ("NODE_ENV=production", "PORT=3000", "LOG_LEVEL=debug", "@db.internal.example.com:5432/orders"):
        assert line in out


# --- what each kind becomes -------------------------------------------------------------------------

CASES = [
    # provider keys, by prefix
    (f"key {corpus.ANTHROPIC} here", "key [REDACTED:anthropic-key] here"),
    (f"{corpus.OPENAI_PROJECT}.", "[REDACTED:openai-key]."),
    (f"({corpus.MEM0})", "([REDACTED:mem0-key])"),
    (f"X-API-Key: {corpus.MEM0_SERVER}", "X-API-Key: [REDACTED:mem0-server-key]"),
    (f"id={corpus.AWS_ACCESS}", "id=[REDACTED:aws-access-key]"),
    (f"git push https://x-access-token:{corpus.GITHUB_APP}@github.com/a/b", None),
    (f"'{corpus.GITLAB}'", "'[REDACTED:gitlab-token]'"),
    (f"{corpus.SLACK_BOT} {corpus.STRIPE_LIVE}", "[REDACTED:slack-token] [REDACTED:stripe-key]"),
    (f"key={corpus.GOOGLE}", "key=[REDACTED:google-api-key]"),
    (
        f"{corpus.NPM} {corpus.PYPI} {corpus.HUGGINGFACE}",
        "[REDACTED:npm-token] [REDACTED:pypi-token] [REDACTED:huggingface-token]",
    ),
    (f"{corpus.SENDGRID}", "[REDACTED:sendgrid-key]"),
    (f"AccountName=a;AccountKey={corpus.AZURE_ACCOUNT_KEY};", "AccountName=a;AccountKey=[REDACTED:azure-key];"),
    # shapes and places
    (f"token {corpus.JWT_USER}", "token [REDACTED:jwt]"),
    (
        f"curl -H 'Authorization: Token {corpus.BEARER_OPAQUE}'",
        "curl -H 'Authorization: Token [REDACTED:bearer-token]'",
    ),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED:basic-auth]"),
    ("use bearer abcdef0123456789xyz", "use bearer [REDACTED:bearer-token]"),
    ("postgres://app:hunter2@db:5432/x", "postgres://app:[REDACTED:password]@db:5432/x"),
    ("redis://:s3cret@cache:6379/0", "redis://:[REDACTED:password]@cache:6379/0"),
    ("https://alice@example.com/path", "https://alice@example.com/path"),
    ("http://localhost:8080/?email=a@b.com", "http://localhost:8080/?email=a@b.com"),
    # names that say secret
    ("export DB_PASSWORD=correcthorse", "export DB_PASSWORD=[REDACTED:password]"),
    ('"client_secret": "abc"', '"client_secret": "[REDACTED:secret]"'),
    ("apiKey: 'abc'", "apiKey: '[REDACTED:api-key]'"),
    ("password: hunter2", "password: [REDACTED:password]"),
    ("  auth_token = tok123 # rotated monthly", "  auth_token = [REDACTED:token] # rotated monthly"),
    ("https://x.io/cb?code=1&access_token=abc&state=2", "https://x.io/cb?code=1&access_token=[REDACTED:token]&state=2"),
    ("Server=db;Pwd=abc;", "Server=db;Pwd=[REDACTED:password];"),
    # names that do not, and values that are not
    ("max_tokens: 4096", "max_tokens: 4096"),
    ("password_reset_url = https://example.com/reset", "password_reset_url = https://example.com/reset"),
    ("token: string;", "token: string;"),
    ("password = os.environ['DB_PASSWORD']", "password = os.environ['DB_PASSWORD']"),
    ("API_KEY=$OPENAI_API_KEY", "API_KEY=$OPENAI_API_KEY"),
    ("Token: the token expires", "Token: the token expires"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_kind_of_secret_becomes_its_marker(text: str, expected: str | None) -> None:
    out = redact(text)
    if expected is None:
        assert corpus.GITHUB_APP not in out and "[REDACTED:github-token]" in out
    else:
        assert out == expected


def test_a_private_key_block_cut_off_before_its_end_is_removed_to_the_end() -> None:
    text = "here:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAB3Nza"
    assert redact(text) == "here:\n[REDACTED:private-key]"


def test_a_complete_private_key_block_keeps_what_follows() -> None:
    text = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\n-----END EC PRIVATE KEY-----\nthen this"
    assert redact(text) == "[REDACTED:private-key]\nthen this"


def test_hex_digests_and_uuids_are_kept_unless_named() -> None:
    sha = corpus.COMMIT_SHA
    assert redact(f"commit {sha}") == f"commit {sha}"
    assert redact(f"WEBHOOK_SECRET={sha}") == "WEBHOOK_SECRET=[REDACTED:secret]"


def test_a_random_token_without_context_is_redacted() -> None:
    assert redact("value Xk9mP2qR7vT4wY8zB3nC6dF1gH5jK0lMaa") == "value [REDACTED:high-entropy]"


def test_in_a_url_only_the_random_path_segment_goes() -> None:
    doc = corpus.fake(corpus.B64URL, 44)
    assert redact(f"https://docs.google.com/document/d/{doc}/edit") == (
        "https://docs.google.com/document/d/[REDACTED:high-entropy]/edit"
    )


def test_a_token_used_as_the_url_user_is_not_read_as_user_and_password() -> None:
    # the marker's own ":" must not pass for the user:password separator
    out = redact(f"https://{corpus.GITHUB_PAT}@github.com/acme/app.git")
    assert out == "https://[REDACTED:github-token]@github.com/acme/app.git"


def test_a_secret_exposed_by_another_redaction_is_redacted_too() -> None:
    # glued to the webhook URL, the AWS key id only stands alone once the URL is a marker
    out = redact(f"{corpus.AWS_ACCESS}{corpus.SLACK_WEBHOOK}")
    assert out == "[REDACTED:aws-access-key][REDACTED:slack-webhook]"
    assert redact(out) == out


KINDS = sorted(
    {entry[0] for entry in redact_mod._PREFIXED}
    | {"private-key", "jwt", "slack-webhook", "discord-webhook", "telegram-bot-token", "password", "secret"}
    | {"token", "api-key", "aws-secret-key", "cookie", "bearer-token", "basic-auth", "high-entropy", "custom"}
)


@pytest.mark.parametrize("kind", KINDS)
def test_a_marker_is_never_redacted_again(kind: str) -> None:
    m = f"[REDACTED:{kind}]"
    text = f"{m} API_KEY={m} password: {m} https://u:{m}@h -H 'Authorization: Bearer {m}' curl -u a:{m} x"
    assert redact(text) == text


def test_an_unusual_unicode_character_does_not_shift_what_is_redacted() -> None:
    # "İ".lower() is two characters: positions found in a lowered copy must still fit the text
    assert redact("İİİ API_KEY=abc123 İ") == "İİİ API_KEY=[REDACTED:api-key] İ"


# --- user patterns ----------------------------------------------------------------------------------


def test_extra_patterns_redact_as_custom() -> None:
    assert redact("ticket ACME-12345 for bob", [r"ACME-\d+"]) == "ticket [REDACTED:custom] for bob"


def test_an_invalid_extra_pattern_is_skipped_not_raised() -> None:
    assert redact("ACME-1 (x", ["(unclosed", r"ACME-\d"]) == "[REDACTED:custom] (x"


def test_an_extra_pattern_matching_nothing_inserts_nothing() -> None:
    assert redact("abc", ["x*"]) == "abc"


# --- <private> ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a <private>secret</private> b", "a [PRIVATE] b"),
        ("a <PRIVATE>x</Private> b <private>y</private>", "a [PRIVATE] b [PRIVATE]"),
        ("a <private>line1\nline2</private>\nb", "a [PRIVATE]\nb"),
        ("<private>out <private>in</private> still out</private> after", "[PRIVATE] after"),
        ("keep <private>never closed\nmore", "keep [PRIVATE]"),
        ("stray </private> tag", "stray </private> tag"),
        ("< private >x< / private >", "[PRIVATE]"),
        ("no tags at all", "no tags at all"),
    ],
)
def test_strip_private(text: str, expected: str) -> None:
    assert strip_private(text) == expected


def test_scrub_strips_private_then_redacts() -> None:
    assert scrub("<private>mine</private>\npassword: hunter2") == "[PRIVATE]\npassword: [REDACTED:password]"


# --- properties --------------------------------------------------------------------------------------

FRAGMENTS = [
    " ",
    "\n",
    "\t",
    "=",
    ":",
    '"',
    "'",
    "`",
    "@",
    "/",
    "://",
    "?",
    "&",
    ";",
    ",",
    "(",
    ")",
    "[",
    "]",
    "*",
    "$",
    "#",
    "-",
    "--",
    ".",
    "=>",
    ":=",
    "İ",
    "export ",
    "password",
    "PASSWORD",
    "Password: ",
    "api_key",
    "token",
    "secret",
    "auth",
    "cookie: ",
    "Cookie: a=",
    "value: ",
    "- name: DB_PASSWORD\n",
    "Authorization: ",
    "Bearer ",
    "Basic ",
    "bearer ",
    "curl -u ",
    "mysql -p",
    "sshpass -p ",
    "redis-cli -a ",
    "machine x login y password ",
    "--password ",
    "--token=",
    "postgres://",
    "https://",
    "sk-ant-",
    "sk-",
    "sk-proj-",
    "AKIA",
    "ghp_",
    "m0-",
    "m0sk_",
    "xoxb-",
    "AIza",
    "SG.",
    "SK",
    "key-",
    "hf_",
    "eyJ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "Private-Lines: 2\n",
    "[REDACTED:",
    "[REDACTED:jwt]",
    "[PRIVATE]",
    "hooks.slack.com/services/",
    "AccountKey=",
    "h1:",
    "sha512-",
    "ssh-ed25519 AAAA",
    "_Z",
    "<private>",
    "</private>",
]
_B64ISH = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-="
random_text = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.sampled_from(corpus.ALL_SECRETS[:20]),
        st.text(max_size=12),
        st.text(alphabet=_B64ISH, min_size=1, max_size=70),
    ),
    max_size=24,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_text)
def test_redact_never_raises_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
    if "[REDACTED:" not in text:
        assert_markers_well_formed(once)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_redact_never_raises_on_arbitrary_unicode(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once


private_text = st.lists(
    st.one_of(
        st.sampled_from(["<private>", "</private>", "<PRIVATE>", "</ Private >", "< private>", "<", ">", "/", "\n"]),
        st.text(max_size=8),
    ),
    max_size=20,
).map("".join)
_OPEN = re.compile(r"<\s*private\s*>", re.IGNORECASE)
_SPAN = re.compile(r"<\s*private\s*>.*?<\s*/\s*private\s*>", re.IGNORECASE | re.DOTALL)


@settings(max_examples=400, deadline=None)
@given(private_text)
def test_strip_private_leaves_no_private_span(text: str) -> None:
    out = strip_private(text)
    assert not _SPAN.search(out)
    assert not _OPEN.search(out)  # stronger: every opening tag is consumed, closed or not
    assert strip_private(out) == out


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abc \n<>", max_size=20),
    st.text(min_size=1, max_size=20),
    st.text(alphabet="abc \n<>", max_size=20),
)
def test_what_was_inside_private_is_gone(before: str, inside: str, after: str) -> None:
    sentinel = "\x00SENTINEL\x00"
    out = strip_private(f"{before}<private>{sentinel}{inside}</private>{after}")
    assert sentinel not in out


# --- cost on the hot path ----------------------------------------------------------------------------


def test_importing_redact_pulls_in_nothing_beyond_what_a_hook_already_has() -> None:
    # every hook has json (and so re) loaded to read its stdin; redaction must add only itself
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import mem0_hooks.redact\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    # __future__ may already be loaded (an editable install's path hook imports it)
    assert set(json.loads(out)) - {"__future__"} == {"mem0_hooks", "mem0_hooks.redact"}


@pytest.mark.parametrize("turn", [BENIGN_TURNS[0], BENIGN_TURNS[4], BENIGN_TURNS[5], BENIGN_TURNS[26]])
def test_an_ordinary_turn_compiles_no_pattern(turn: str) -> None:
    # A hook is a fresh process: every re.compile is paid on every prompt, so the common path uses str methods.
    redact_mod._COMPILED.clear()
    scrub(turn)
    assert redact_mod._COMPILED == {}
