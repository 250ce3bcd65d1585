"""``mem0-hooks import`` and ``export``: past sessions in by the hooks' own rules, memories out and back.

What must hold: a turn imported is the memory the hooks would have stored (same id, text, time, session,
project, seq), so nothing the hooks captured is doubled and a rerun adds nothing; the privacy rules
apply; bad input is counted, never a crash or a partial memory; Claude Code's files are only read; a
full disk stops the import with a clear message and a rerun completes it; a run killed at any point
and started again ends with exactly the store of a clean run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mem0_hooks import capture, history, paths, project, queue
from mem0_hooks import config as config_mod
from mem0_hooks.cli import import_cmd
from mem0_hooks.cli.main import main
from tests.support.stores import REPO_ROOT, wait_for, write_config
from tests.support.transcripts import claude_session

EXCHANGES = [
    ("How do the webhook retries work in the payments service?", "Exponential backoff, capped at 90 seconds."),
    ("Which queue holds the failed deliveries?", "The dead-letter table payments_failed, kept 14 days."),
    ("Rename the retry helper to schedule_retry.", "Renamed it in three files; the tests pass."),
]
FIELDS = "id, text, role, created_at, session_id, project, scope, seq, metadata"


@pytest.fixture(autouse=True)
def _import_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CLAUDE_CONFIG_DIR from outside; and the in-process imports do not lower pytest's priority."""
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setattr(import_cmd, "IMPORT_NICENESS", 0)


@pytest.fixture
def projects(isolated_home: Path) -> Path:
    """Claude Code's projects directory: ``~/.claude/projects``."""
    path = isolated_home / ".claude" / "projects"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "payments"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # only this command's output
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def summary_of(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "import", "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def rows(path: str | None = None) -> list[tuple[Any, ...]]:
    """Every memory, in rowid order, with every field but ``added_at``."""
    path = path or paths.store_db()
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute(f"SELECT rowid, {FIELDS} FROM memories ORDER BY rowid")]
    finally:
        db.close()


def index_rows(path: str | None = None) -> list[tuple[Any, ...]]:
    """The full-text index as searches see it: each turn's text, its neighbours' text, its scope."""
    db = sqlite3.connect(f"file:{path or paths.store_db()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("SELECT rowid, text, context, scope FROM memories_fts ORDER BY rowid")]
    finally:
        db.close()


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root``: size, mtime, content hash (FIFOs and directories by type only)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and os.access(path, os.R_OK):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            else:
                digest = stat.filemode(st.st_mode)
            found[path] = (st.st_size, st.st_mtime_ns, digest)
    return found


def use_data_dir(monkeypatch: pytest.MonkeyPatch, path: Path, **config: Any) -> None:
    """Point MEM0_HOOKS_HOME at another data dir (consent given)."""
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(path))
    write_config(path, **config)


# -- what is imported -----------------------------------------------------------------------------------------
def test_import_stores_exactly_what_the_hooks_capture(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    transcript, kept = claude_session(projects, "s-payments", repo / "src", EXCHANGES)
    code, out, err = run(capsys, "import")
    assert code == 0, err
    assert out.startswith(f"imported {len(kept)} turn(s) from 1 of 1 transcripts"), out
    imported = rows()
    assert [(r[3], r[2], r[4]) for r in imported] == kept  # role, text, the line's own time
    assert {(r[5], r[6], r[7]) for r in imported} == {("s-payments", str(repo), "project")}  # project: the git root
    assert [r[8] for r in imported] == list(range(1, len(kept) + 1))

    # Recall by meaning: the background flusher gives the new turns their vectors.
    from mem0_hooks import vectors
    from mem0_hooks.backends.local import LocalStore

    if vectors.stamp():
        assert "their vectors are being made in the background" in out

        def embedded() -> bool:
            store = LocalStore()
            try:
                return store.missing_vectors() == 0
            finally:
                store.close()

        wait_for(embedded, timeout=60, what="the imported turns' vectors")

    # The hooks, given the same transcript at Stop, store the same memories.
    use_data_dir(monkeypatch, tmp_path / "hooks-data")
    from mem0_hooks.events.stop import capture_new_turns

    event = {"session_id": "s-payments", "transcript_path": str(transcript), "cwd": str(repo / "src")}
    assert capture_new_turns({**event, "last_assistant_message": EXCHANGES[-1][1]}) == len(kept)
    assert main(["replay"]) == 0
    assert rows() == imported


def test_turns_the_hooks_captured_are_not_stored_twice(
    data_home: Path, projects: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mem0_hooks.events.stop import capture_new_turns
    from mem0_hooks.events.user_prompt_submit import user_prompt_submit

    # A live session, captured by the hooks as it went: the first exchange only, so far.
    transcript, kept = claude_session(projects, "s-live", repo, EXCHANGES[:1])
    base = {"session_id": "s-live", "transcript_path": str(transcript), "cwd": str(repo)}
    user_prompt_submit({**base, "hook_event_name": "UserPromptSubmit", "prompt": EXCHANGES[0][0]})
    capture_new_turns({**base, "last_assistant_message": EXCHANGES[0][1]})
    assert main(["replay"]) == 0
    captured = rows()
    assert len(captured) == len(kept)

    # The session went on after that; the import stores only what the hooks had not.
    claude_session(projects, "s-live", repo, EXCHANGES)
    summary = summary_of(capsys)
    assert summary["already_present"] == len(kept)
    after = rows()
    assert after[: len(captured)] == captured
    assert [r[2] for r in after] == [text for _, text, _ in claude_session(projects, "s-live", repo, EXCHANGES)[1]]

    by_place = sorted(after, key=lambda r: (r[8], r[0]))  # how the store orders a session: seq, then rowid
    assert [r[2] for r in by_place] == [r[2] for r in after]  # the new turns sort after the hooks' ones

    again = summary_of(capsys)
    assert again["stored"] == 0 and again["already_present"] == len(after)
    assert rows() == after


def _items(*ids: str) -> list[dict[str, Any]]:
    return [{"id": name, "seq": place} for place, name in enumerate(ids, start=1)]


def test_new_turns_are_numbered_around_the_ones_already_stored() -> None:
    # the hooks started capturing late (a long session: they read only its tail), numbering from 1
    items = _items("a", "b", "c", "d", "e")
    history.fit_seqs(items, {"d": 1, "e": 2})
    assert [i["seq"] for i in items] == [-2, -1, 0, 4, 5]
    # turns the hooks missed between two they stored: after the one before them (then by rowid)
    items = _items("a", "b", "c", "d", "a")
    history.fit_seqs(items, {"a": 1, "d": 7})
    assert [i["seq"] for i in items] == [1, 1, 1, 4, 5]
    # an import that was killed halfway: the rest is numbered as a clean run numbers it
    items = _items("a", "b", "c", "d")
    history.fit_seqs(items, {"a": 1, "b": 2})
    assert [i["seq"] for i in items] == [1, 2, 3, 4]


def test_each_turn_keeps_its_session_project_and_time_and_projects_go_through_project_of(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    gone = tmp_path / "deleted-project" / "sub"  # a project directory that no longer exists
    _, kept_a = claude_session(projects, "s-a", repo, EXCHANGES[:1], start="2025-03-01T09:00:00")
    _, kept_b = claude_session(projects, "s-b", gone, EXCHANGES[1:2], start="2025-04-02T18:30:00")
    summary = summary_of(capsys)
    assert summary["stored"] == len(kept_a) + len(kept_b)
    by_session = {r[5]: (r[6], r[4]) for r in rows()}
    assert by_session["s-a"] == (str(repo), kept_a[-1][2])
    assert by_session["s-b"] == (str(gone), kept_b[-1][2])  # project_of of a missing dir: the path itself

    # Whatever names a project (another engineer may make it the git remote), import asks project_of.
    seen: list[str] = []

    def named(cwd: str | None) -> str:
        seen.append(str(cwd))
        return f"remote:{os.path.basename(str(cwd))}"

    monkeypatch.setattr(project, "project_of", named)
    use_data_dir(monkeypatch, tmp_path / "other-data")
    summary_of(capsys)
    assert {r[6] for r in rows()} == {f"remote:{repo.name}", "remote:sub"}
    assert sorted(set(seen)) == sorted({str(repo), str(gone)})  # asked once per directory


def test_secrets_and_private_spans_are_redacted(
    data_home: Path, projects: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-ant-api03-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2qR5tU8wX1zA4cD7fG0iL3o-AbCdEfAA"
    claude_session(projects, "s-secret", repo, [(f"Use the key {key} and <private>my salary</private>", "ok")])
    summary_of(capsys)
    stored = " ".join(r[2] for r in rows())
    assert key not in stored and "salary" not in stored
    assert "[REDACTED:" in stored and "[PRIVATE]" in stored


def test_privacy_rules_and_filters(
    data_home: Path, projects: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def make(name: str) -> Path:
        path = tmp_path / name
        (path / ".git").mkdir(parents=True)
        return path

    ignored, globbed, paused, kept = make("ignored"), make("secret-client"), make("paused"), make("kept")
    (ignored / ".mem0-hooks-ignore").write_text("")
    write_config(data_home, privacy={"exclude_projects": [str(tmp_path / "secret-*")], "auto_delete_after_days": 30})
    assert main(["pause", "--project", str(paused)]) == 0
    recent = time.strftime("%Y-%m-%dT%H:00:00", time.gmtime(time.time() - 3 * 86400))
    for number, where in enumerate((ignored, globbed, paused, kept)):
        claude_session(projects, f"s-{where.name}", where, EXCHANGES[:1], start=recent)
        claude_session(projects, f"old-{number}", kept, EXCHANGES[1:2], start="2020-01-01T00:00:00")
    capsys.readouterr()

    summary = summary_of(capsys)
    per_turn = 3  # prompt, note, reply
    assert summary["skipped"] == {
        "excluded project": 2 * per_turn,
        "capture paused": per_turn,
        history.RETENTION: 4 * per_turn,
    }
    assert {r[5] for r in rows()} == {"s-kept"}

    # --since and --project narrow it further; both are applied before anything is stored
    write_config(data_home)
    assert main(["resume", "--project", str(paused)]) == 0
    capsys.readouterr()
    dry = summary_of(capsys, "--dry-run", "--since", "2021-01-01", "--project", str(paused))
    assert dry["stored"] == per_turn and dry["skipped"] == {}
    assert set(dry["projects"]) == {str(paused)}
    assert dry["turns"] == per_turn  # other projects' turns are not counted at all
    everything = summary_of(capsys, "--since", "2021-01-01")
    assert everything["skipped"] == {"excluded project": per_turn}  # (the glob went with the config)
    assert everything["files_unchanged_since"] == 4  # the 2020 sessions: not even read
    assert everything["stored"] == 2 * per_turn  # the paused project (resumed) and the one already there
    assert everything["already_present"] == per_turn


def test_no_consent_or_a_global_pause_refuses_the_import(
    data_home: Path, projects: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claude_session(projects, "s-1", repo, EXCHANGES[:1])
    (data_home / "config.yaml").write_text("privacy:\n  consent_given: false\n")
    code, out, err = run(capsys, "import")
    assert code == 1 and out == ""
    assert err.startswith("error: nothing imported: no consent") and "consent_given true" in err
    assert not os.path.exists(paths.store_db())

    write_config(data_home)
    assert main(["pause"]) == 0
    code, _, err = run(capsys, "import")
    assert code == 1 and "paused" in err and "mem0-hooks resume" in err
    assert not os.path.exists(paths.store_db())


def test_claude_config_dir_and_a_missing_projects_dir(
    data_home: Path, tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "elsewhere"))
    code, out, _ = run(capsys, "import")
    assert code == 0
    assert out.startswith(f"nothing to import: {tmp_path / 'elsewhere' / 'projects'} does not exist")
    _, kept = claude_session(tmp_path / "elsewhere" / "projects", "s-1", repo, EXCHANGES[:1])
    assert summary_of(capsys)["stored"] == len(kept)


# -- bad input --------------------------------------------------------------------------------------------------
def test_bad_input_is_counted_never_a_crash_nor_a_partial_memory(
    data_home: Path, projects: Path, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    path, kept = claude_session(projects, "s-bad", repo, EXCHANGES[:2], noise=False)
    folder = path.parent
    good = path.read_bytes()
    lines = good.splitlines(keepends=True)
    broken_json = b'{"type": "user", "message": {"role": "user", "content": "half a line\n'
    bad_utf8 = b'{"type": "user", "cwd": "/x", "message": {"role": "user", "content": "caf\xe9 \xff"}}\n'
    reply = max(i for i, line in enumerate(lines) if kept[-1][1].encode() in line)
    truncated = lines[reply][: len(lines[reply]) // 2]  # the last reply, cut short: the file's last line
    path.write_bytes(b"".join(lines[:reply]) + broken_json + bad_utf8 + truncated)
    (folder / "a-directory.jsonl").mkdir()
    os.mkfifo(folder / "a-fifo.jsonl")
    locked = folder / "locked.jsonl"
    locked.write_bytes(good)
    real_open = os.open

    def refusing_open(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(name) == str(locked):  # (root reads a chmod 000 file anyway: refuse as the kernel would)
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    before = snapshot(projects)
    summary = summary_of(capsys)
    assert summary["bad_files"] == {"not a regular file": 2, "unreadable (permission denied)": 1}
    assert summary["bad_lines"] == {"invalid JSON": 1, "invalid UTF-8": 1, history.INCOMPLETE: 1}
    texts = [r[2] for r in rows()]
    assert texts == [text for _, text, _ in kept[:-1]]  # the truncated reply is not stored, not even in part
    assert snapshot(projects) == before  # Claude Code's files: read, never changed


def test_a_50_mb_line_is_skipped_without_holding_it_in_memory(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path
) -> None:
    path, kept = claude_session(projects, "s-huge", repo, EXCHANGES[:2], noise=False)
    lines = path.read_bytes().splitlines(keepends=True)
    huge = json.dumps({"type": "user", "cwd": str(repo), "message": {"role": "user", "content": "x" * 50_000_000}})
    path.write_bytes(lines[0] + huge.encode() + b"\n" + b"".join(lines[1:]))
    del huge
    # The peak of this process alone (VmHWM: ru_maxrss would count the forked test process too).
    code = (
        f"import re, sys, json; sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from mem0_hooks.cli.main import main\n"
        "code = main(['import', '--json'])\n"
        "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())\n"
        "print(json.dumps({'rss_mb': int(peak.group(1)) / 1024 if peak else 0}), file=sys.stderr)\n"
        "raise SystemExit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["bad_lines"] == {history.TOO_LONG: 1}
    assert [r[2] for r in rows()] == [text for _, text, _ in kept]
    rss = json.loads(proc.stderr.strip().splitlines()[-1])["rss_mb"]
    assert rss < 150, f"peak RSS {rss:.0f} MB: the 50 MB line was held whole"


@pytest.mark.parametrize("block", [7, 64, 4096])
def test_reading_in_blocks_gives_the_turns_of_reading_whole(tmp_path: Path, block: int, monkeypatch: Any) -> None:
    from mem0_hooks.transcript import parse_lines

    path, kept = claude_session(tmp_path, "s-blocks", tmp_path / "p", EXCHANGES)
    # an API message whose text blocks straddle two reads is still one turn
    split = {"type": "assistant", "cwd": "/p", "message": {"id": "msg_x", "role": "assistant"}}
    with path.open("a") as fh:
        for part in ("first half,", "second half"):
            fh.write(
                json.dumps({**split, "message": {**split["message"], "content": [{"type": "text", "text": part}]}})
            )
            fh.write("\n")
    monkeypatch.setattr(history, "READ_BYTES", block)
    tally = history.Tally()
    by_blocks = list(history.read_turns(str(path), tally))
    whole = parse_lines(path.read_bytes().split(b"\n"))
    assert by_blocks == whole
    assert by_blocks[-1].text == "first half,\nsecond half"
    assert tally.bytes_read == path.stat().st_size and tally.bad_lines == {}


# -- a full disk -------------------------------------------------------------------------------------------------
def _many_sessions(projects: Path, repo: Path, count: int = 12, words: int = 60) -> int:
    total = 0
    for n in range(count):
        exchanges = [
            (f"question {n}.{i} " + " ".join(f"topic{n}x{i}y{w}" for w in range(words)), f"answer {n}.{i} " * 20)
            for i in range(8)
        ]
        total += len(claude_session(projects, f"s-{n:03d}", repo, exchanges, noise=False)[1])
    return total


def test_a_full_store_stops_with_a_clear_message_and_a_rerun_completes(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from mem0_hooks.backends.local import LocalStore

    total = _many_sessions(projects, repo)
    use_data_dir(monkeypatch, tmp_path / "clean")
    assert summary_of(capsys)["stored"] == total
    clean = rows()
    use_data_dir(monkeypatch, data_home)

    opened = LocalStore._open
    limit: list[int] = []

    def small_disk(self: LocalStore) -> sqlite3.Connection:
        db = opened(self)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        limit.append(pages + 60)  # ~240 KB more: the store fills up partway through
        db.execute(f"PRAGMA max_page_count = {limit[-1]}")  # SQLite then fails as on a full disk
        return db

    monkeypatch.setattr(LocalStore, "_open", small_disk)
    monkeypatch.setattr(history, "BATCH_TURNS", 20)
    code, out, err = run(capsys, "import")
    assert code == 1
    assert "error: stopped: the disk is full" in err and "run the same command again" in err
    partial = rows()
    assert 0 < len(partial) < total
    assert out.startswith(f"imported {len(partial)} turn(s)")
    assert {r[1:] for r in partial} <= {r[1:] for r in clean}  # whole memories only, each as a clean run has it

    monkeypatch.setattr(LocalStore, "_open", opened)
    summary = summary_of(capsys)
    assert summary["stored"] == total - len(partial) and summary["already_present"] == len(partial)
    assert [r[1:] for r in rows()] == [r[1:] for r in clean]


def _can_mount_privately() -> bool:
    import shutil

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


_FULL_DISK_DRIVER = r"""
import json, os, sqlite3, subprocess, sys
home, repo = sys.argv[1:3]
def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)
config = open(os.path.join(home, "config.yaml"), "rb").read()
sh("mount", "-t", "tmpfs", "-o", "size=400k,mode=0700", "tmpfs", home)
open(os.path.join(home, "config.yaml"), "wb").write(config)
def cli(*args):
    code = "import sys; sys.path.insert(0, %r); from mem0_hooks import history; history.BATCH_TURNS = 20; "
    code += "from mem0_hooks.cli.main import main; raise SystemExit(main(%r))"
    return subprocess.run([sys.executable, "-c", code % (repo, list(args))], capture_output=True, text=True)
first = cli("import")
db = sqlite3.connect(os.path.join(home, "memories.sqlite3"))
partial = db.execute("SELECT count(*) FROM memories").fetchone()[0]
db.close()
sh("mount", "-o", "remount,size=64m", home)
second = cli("import", "--json")
db = sqlite3.connect(os.path.join(home, "memories.sqlite3"))
fields = "id, text, role, created_at, session_id, project, scope, seq"
final = [list(r) for r in db.execute("SELECT " + fields + " FROM memories ORDER BY rowid")]
print(json.dumps({"first": [first.returncode, first.stdout, first.stderr], "partial": partial,
                  "second": [second.returncode, second.stdout, second.stderr], "final": final}))
"""


def test_a_really_full_disk_stops_the_import_and_a_rerun_completes_it(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """A real ENOSPC: the data dir is a 400 KB tmpfs (in a private mount namespace), grown after the stop."""
    if not _can_mount_privately():
        pytest.skip("needs root and unshare -m for a private tmpfs")
    total = _many_sessions(projects, repo, count=20, words=80)
    use_data_dir(monkeypatch, tmp_path / "clean")
    assert summary_of(capsys)["stored"] == total
    clean = [list(r[1:9]) for r in rows()]
    use_data_dir(monkeypatch, data_home)
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            _FULL_DISK_DRIVER,
            str(data_home),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    code, out, err = seen["first"]
    assert code == 1, (out, err)
    assert "error: stopped: the disk is full" in err, err
    assert 0 < seen["partial"] < total
    code, out, err = seen["second"]
    assert code == 0, err
    assert json.loads(out)["stored"] == total - seen["partial"]
    assert seen["final"] == clean


# -- killed and started again -------------------------------------------------------------------------------------
def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_import", REPO_ROOT / "bench" / "import.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_KILLED = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
from mem0_hooks import history
from mem0_hooks.backends import local
from mem0_hooks.cli.main import main
history.BATCH_TURNS = 100  # many transactions, so the kill points fall between and inside them
point, nth = {point!r}, {nth!r}
seen = [0]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def wrap(owner, name, before):
    original = getattr(owner, name)
    def patched(*args, **kwargs):
        seen[0] += 1
        if before and seen[0] == nth:
            die()  # inside the call: mid-transaction for _index, mid-merge for the index tidy
        result = original(*args, **kwargs)
        if not before and seen[0] == nth:
            die()  # right after it returned: between two transactions
        return result
    setattr(owner, name, patched)

if point == "inside a transaction":
    wrap(local.LocalStore, "_index", True)
elif point == "between transactions":
    wrap(local.LocalStore, "add", False)
elif point == "while merging the index":
    original_merge = local.LocalStore._segments
    def segments(db):
        seen[0] += 1
        if seen[0] == nth:
            die()
        return original_merge(db)
    local.LocalStore._segments = staticmethod(segments)
elif point == "while reading":
    wrap(history, "parse_lines", True)
raise SystemExit(main(["import", "--projects-dir", {projects!r}]))
"""


def _stored_now() -> int:
    """How many memories the store holds right now (0 while it is being created)."""
    try:
        db = sqlite3.connect(f"file:{paths.store_db()}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT count(*) FROM memories").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_an_import_killed_at_any_point_and_started_again_ends_as_a_clean_run(
    data_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any, report: Any
) -> None:
    bench = _bench()
    projects = tmp_path / "projects"
    corpus = bench.build_corpus(projects, megabytes=6, data=[bench.DEFAULT_DATA[0]])
    use_data_dir(monkeypatch, tmp_path / "clean")
    assert main(["import", "--projects-dir", str(projects)]) == 0
    clean, clean_index = rows(), index_rows()
    assert len(clean) > 1000
    capsys.readouterr()

    points = [
        ("while reading", 3),  # nothing stored yet
        ("inside a transaction", 1),  # the first one
        ("inside a transaction", 7),
        ("between transactions", 4),
        ("while merging the index", 2),  # (the 1st look at the pieces comes before the merge)
        ("at a random moment", 0),
    ]
    for number, (point, nth) in enumerate(points):
        data = tmp_path / f"killed-{number}"
        use_data_dir(monkeypatch, data)
        env = {**os.environ, "MEM0_HOOKS_HOME": str(data)}
        if point == "at a random moment":
            code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from mem0_hooks.cli.main import main; "
            code += f"raise SystemExit(main(['import', '--projects-dir', {str(projects)!r}]))"
            proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
            wait_for(lambda: _stored_now() > len(clean) // 3, timeout=120, interval=0.005, what="a third stored")
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        else:
            script = _KILLED.format(root=str(REPO_ROOT), point=point, nth=nth, projects=str(projects))
            proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL)
            proc.wait(120)
        assert proc.returncode == -signal.SIGKILL, (point, proc.returncode)
        stored_when_killed = len(rows())
        assert main(["import", "--projects-dir", str(projects)]) == 0
        capsys.readouterr()
        assert rows() == clean, point
        assert index_rows() == clean_index, point
        db = sqlite3.connect(paths.store_db())
        db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
        db.close()
        report(
            f"IMPORT killed {point} (#{nth}): {stored_when_killed} of {len(clean)} stored; after the rerun: identical"
        )
    assert corpus["turns_kept"] >= len(clean)


# -- hooks meanwhile ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_hooks_flusher_keeps_storing_while_an_import_runs(
    data_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Words only: with recall by meaning on, each replay would also embed every turn imported so far
    # (as the flusher does), and the time measured here is the wait for the import's write lock.
    write_config(data_home, memory={"semantic": False})
    bench = _bench()
    projects = tmp_path / "projects"
    bench.build_corpus(projects, megabytes=8, data=bench.DEFAULT_DATA)
    code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from mem0_hooks.cli.main import main; "
    code += f"raise SystemExit(main(['import', '--projects-dir', {str(projects)!r}, '--json']))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    config = config_mod.load()
    ids, slowest = [], 0.0
    try:
        n = 0
        while proc.poll() is None or n < 3:
            n += 1
            item = capture.make_item(
                text=f"prompt {n} typed while importing",
                role="user",
                session_id="s-now",
                project="/p",
                seq=n,
                config=config,
            )
            assert item is not None
            queue.enqueue([item])
            started = time.monotonic()
            assert main(["replay"]) == 0  # the flusher's own path: one short transaction, next to the import's
            slowest = max(slowest, time.monotonic() - started)
            ids.append(item["id"])
    finally:
        out, _ = proc.communicate(timeout=300)
    capsys.readouterr()
    assert proc.returncode == 0
    stored = {r[1] for r in rows()}
    assert set(ids) <= stored
    assert len(stored) == json.loads(out)["stored"] + len(ids)
    assert slowest < 3.0, f"a delivery waited {slowest:.1f} s for the import's write lock"


# -- dry run, export, import --from --------------------------------------------------------------------------------
def test_dry_run_writes_nothing_and_lists_projects(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kept = claude_session(projects, "s-1", repo, EXCHANGES)
    other = tmp_path / "other"
    claude_session(projects, "s-2", other, EXCHANGES[:1], start="2026-01-05T08:00:00")
    code, out, err = run(capsys, "import", "--dry-run")
    assert code == 0, err
    assert out.startswith(f"would import {len(kept) + 3} turn(s)") and "dry run: nothing was written" in out
    assert f"    {repo}  {len(kept)} new, 0 there, 1 session, 2026-11-20 .. 2026-11-20" in out
    assert f"    {other}  3 new, 0 there, 1 session, 2026-01-05 .. 2026-01-05" in out
    assert not os.path.exists(paths.store_db()) and not os.path.exists(paths.queue_dir())

    assert main(["import", "--project", str(other)]) == 0
    capsys.readouterr()
    dry = summary_of(capsys, "--dry-run")
    assert (dry["stored"], dry["already_present"]) == (len(kept), 3)


def test_export_then_import_from_the_file_round_trips(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    claude_session(projects, "s-1", repo, EXCHANGES)
    claude_session(projects, "s-2", tmp_path / "other", EXCHANGES[:1])
    summary_of(capsys)
    assert main(["add", "--user", "I prefer tabs"]) == 0
    original = rows()
    out_file = tmp_path / "backup.jsonl"
    code, out, _ = run(capsys, "export", "-o", str(out_file))
    assert code == 0 and out == f"exported {len(original)} memories to {out_file}\n"
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    records = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert set(records[0]) == {*history.EXPORT_FIELDS, "added_at"}
    assert [r["id"] for r in records] == [r[1] for r in original]

    code, out, err = run(capsys, "export", "--project", str(repo))
    assert code == 0 and err == f"exported 9 memories of {repo}\n"
    assert {json.loads(line)["project"] for line in out.splitlines()} == {str(repo)}

    use_data_dir(monkeypatch, tmp_path / "another-machine")
    code, out, err = run(capsys, "import", "--from", str(out_file))
    assert code == 0, err
    assert out.startswith(f"imported {len(original)} turn(s) from {out_file}")
    assert [r[1:] for r in rows()] == [r[1:] for r in original]
    again = summary_of(capsys, "--from", str(out_file))
    assert (again["stored"], again["already_present"]) == (0, len(original))

    # a damaged backup: good lines imported, bad ones counted
    damaged = tmp_path / "damaged.jsonl"
    lines = out_file.read_bytes().splitlines(keepends=True)
    damaged.write_bytes(lines[0] + b"not json\n" + b'{"id": "x"}\n' + b"\xff\xfe\n" + lines[1][:20])
    use_data_dir(monkeypatch, tmp_path / "third")
    summary = summary_of(capsys, "--from", str(damaged))
    assert summary["stored"] == 1
    assert summary["bad_lines"] == {
        "invalid JSON": 1,
        history.INVALID_MEMORY: 1,
        "invalid UTF-8": 1,
        history.INCOMPLETE: 1,
    }
    code, _, err = run(capsys, "import", "--from", str(tmp_path))
    assert code == 1 and "is not a file" in err


def test_an_export_that_cannot_be_written_leaves_nothing_behind(
    data_home: Path, projects: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claude_session(projects, "s-1", repo, EXCHANGES[:1])
    summary_of(capsys)
    code, _, err = run(capsys, "export", "-o", str(tmp_path / "missing-dir" / "out.jsonl"))
    assert code == 1 and err.startswith("error: cannot write")
    assert not (tmp_path / "missing-dir").exists()


# -- remote stores: through the queue -------------------------------------------------------------------------------
def test_import_into_a_remote_store_goes_through_the_queue_once(
    data_home: Path, projects: Path, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from tests.support.fake_mem0 import FakeServer

    _, kept = claude_session(projects, "s-remote", repo, EXCHANGES)
    with FakeServer() as fake:
        write_config(data_home, backend="server", mem0={"base_url": fake.base_url, "infer": False})
        if fake.default_key:
            monkeypatch.setenv("MEM0_API_KEY", fake.default_key)
        summary = summary_of(capsys)
        assert summary["stored"] == len(kept) and summary["not_delivered"] == 0
        posts = fake.requests_to("/memories", method="POST")
        assert sorted(r.body["metadata"]["mem0_hooks_id"] for r in posts) == sorted(
            capture.item_id("s-remote", role, text) for role, text, _ in kept
        )
        assert queue.depth() == 0
        again = summary_of(capsys)
        assert (again["stored"], again["already_present"]) == (0, len(kept))
        assert len(fake.requests_to("/memories", method="POST")) == len(posts)  # nothing sent twice

        fake.down()
        claude_session(projects, "s-later", repo, EXCHANGES[:1])
        code, out, err = run(capsys, "import")
        assert code == 1 and "error: stopped: the server store is unavailable" in err
        assert queue.depth() == 3  # waiting for the store, not lost
        fake.up()
        assert summary_of(capsys)["stored"] == 3 and queue.depth() == 0


# -- the progress line ----------------------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal_only(projects: Path) -> None:
    tally = history.Tally()
    tally.files, tally.files_read, tally.bytes_total, tally.bytes_read = 40, 10, 80_000_000, 20_000_000
    tally.turns, tally.stored, tally.present = 1234, 1200, 34
    tally.started -= 2.0
    terminal = _Terminal()
    progress = import_cmd.ImportProgress(terminal)
    progress.update(tally)
    line = terminal.getvalue()
    assert line.startswith("\r  10/40 files, 1,234 turns, 20.0/80.0 MB, ")
    assert " MB/s, ~" in line and "s left" in line
    progress.done()
    assert terminal.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    import_cmd.ImportProgress(piped).update(tally)
    assert piped.getvalue() == ""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-01-31", "2026-01-31T00:00:00"),
        ("2026-01-31T14:00Z", "2026-01-31T14:00:00"),
        ("2026-01-31T16:00+02:00", "2026-01-31T14:00:00"),
    ],
)
def test_since_is_read_as_utc(given: str, expected: str) -> None:
    assert import_cmd.parse_since(given) == expected


def test_since_in_days_and_a_bad_since(capsys: pytest.CaptureFixture[str], data_home: Path) -> None:
    assert import_cmd.parse_since("30d")[:10] == time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    code, _, err = run(capsys, "import", "--since", "last tuesday")
    assert code == 1 and "--since 'last tuesday'" in err
