"""The record of injections: what real hooks wrote down, bounded, private, safe with many writers, and
``mem0-hooks last`` reading it back."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mem0_hooks import injections
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.cli.main import main
from tests.support.hooks import injected_context, prompt_event, run_hook

REPO_ROOT = Path(__file__).resolve().parents[1]
OWN_WORK = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}  # the record is written before the hook exits


def _memory(n: int, score: float | None = 1.0) -> Memory:
    return Memory(id=f"id{n:030d}", text="x" * (10 + n), score=score)


def _seed(project: Path, *texts: str, session: str = "old") -> list[str]:
    store = LocalStore()
    items = [
        MemoryItem(
            id=f"m{n:031d}",
            text=text,
            role="user" if n % 2 == 0 else "assistant",
            created_at=f"2026-11-0{n % 9 + 1}T10:00:00Z",
            session_id=session,
            project=str(project),
            seq=n + 1,
        )
        for n, text in enumerate(texts)
    ]
    store.add(items)
    store.close()
    return [i.id for i in items]


def test_a_record_round_trips_newest_first_in_a_private_file(data_home: Path) -> None:
    injections.record(
        "UserPromptSubmit",
        session_id="s1",
        project="/p",
        shown=[_memory(1, 2.5), _memory(2, 1.25)],
        block_chars=900,
        prompt="how do we deploy the billing service to the cluster",
    )
    injections.record(
        "SessionStart", session_id="s2", project="/p", shown=[_memory(3, None)], block_chars=300, source="startup"
    )
    found = injections.read()
    assert [e["event"] for e in found] == ["SessionStart", "UserPromptSubmit"]
    assert found[1]["memories"] == [[f"id{1:030d}", 11, 2.5], [f"id{2:030d}", 12, 1.25]]
    assert found[1]["prompt"] == "how do we deploy the billing service to the cluster"
    assert found[1]["chars"] == 900 and found[0]["source"] == "startup" and "prompt" not in found[0]
    assert stat.S_IMODE(os.stat(injections.path()).st_mode) == 0o600
    assert injections.read(1, session="s1")[0]["session"] == "s1"
    assert injections.read(project="/other") == []


def test_first_words_are_cut_to_a_line() -> None:
    assert injections.first_words("  one\ntwo   three ") == "one two three"
    long = " ".join(f"w{n}" for n in range(40))
    assert injections.first_words(long).endswith("\u2026") and len(injections.first_words(long).split()) == 16
    assert len(injections.first_words("y" * 500)) == injections.PROMPT_CHARS


def test_the_record_is_bounded_and_keeps_the_newest(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(injections, "SEGMENT_BYTES", 2000)
    for n in range(57):
        injections.record("UserPromptSubmit", session_id=f"s{n}", project="/p", shown=[_memory(n)], block_chars=n)
    sizes = [os.path.getsize(name) for name in (injections.path(), injections.older_path())]
    assert sizes[0] < 2000 and 2000 <= sizes[1] < 2000 + 200  # the newer file is not full; the older just past it
    newest = injections.read(10)
    assert [e["session"] for e in newest] == [f"s{n}" for n in range(56, 46, -1)]
    assert stat.S_IMODE(os.stat(injections.older_path()).st_mode) == 0o600


WRITER = """
import sys
sys.path.insert(0, {root!r})
from mem0_hooks import injections
from mem0_hooks.backends.base import Memory
injections.SEGMENT_BYTES = {segment}
who = sys.argv[1]
for n in range({count}):
    shown = [Memory(id=f"{{who}}-{{n}}-{{k}}", text="t" * k, score=k / 3) for k in range(12)]
    injections.record("UserPromptSubmit", session_id=who, project="/p", shown=shown, block_chars=n, prompt="p " * 40)
"""


@pytest.mark.parametrize("segment", [100_000_000, 40_000])
def test_parallel_writers_never_tear_a_record(data_home: Path, segment: int) -> None:
    """Four processes append at once (as hooks of parallel sessions and the warm process do): every line
    is whole, nothing is lost while the file is not full, and rotation keeps it bounded when it is."""
    count = 150
    code = WRITER.format(root=str(REPO_ROOT), segment=segment, count=count)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"w{n}"]) for n in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    lines = []
    sizes = []
    for name in (injections.older_path(), injections.path()):
        if os.path.exists(name):
            lines += Path(name).read_bytes().splitlines()
            sizes.append(os.path.getsize(name))
    records = [json.loads(line) for line in lines]  # every line parses: none torn
    assert all(len(r["memories"]) == 12 for r in records)
    if segment > 100 * 4 * count:
        assert len(records) == 4 * count
    else:
        line = max(len(raw) + 1 for raw in lines)
        assert len(sizes) == 2 and sizes[1] < segment and sizes[0] < segment + 4 * line  # (late appends to the old)
        assert sum(sizes) >= segment  # the newest whole file at least
        assert {r["session"] for r in injections.read(8)} <= {"w0", "w1", "w2", "w3"}


def test_forget_and_expire(data_home: Path) -> None:
    for project in ("/a", "/b", "/a"):
        injections.record("UserPromptSubmit", session_id="s", project=project, shown=[_memory(1)], block_chars=1)
    assert injections.forget(project="/a") == 2
    assert [e["project"] for e in injections.read()] == ["/b"]
    assert injections.expire(time.time() + 1) == 1
    assert injections.read() == [] and not os.path.exists(injections.path())
    injections.record("UserPromptSubmit", session_id="s", project="/b", shown=[], block_chars=1)
    injections.forget()
    assert not os.path.exists(injections.path())


def test_a_real_prompt_hook_records_what_it_injected_and_why(data_home: Path, project: Path) -> None:
    ids = _seed(
        project,
        "Which port does the kestrel billing API listen on?",
        "The kestrel billing API listens on port 8443 behind the ingress.",
        "Unrelated: the docs site builds with mkdocs.",
    )
    secret = "sk-ant-api03-" + "Q" * 90
    prompt = f"what port is the kestrel billing API on? my key is {secret} <private>codename heron</private>"
    proc = run_hook("UserPromptSubmit", prompt_event("now", project, prompt), env=OWN_WORK)
    block = injected_context(proc, "UserPromptSubmit")
    assert "8443" in block
    [entry] = injections.read()
    assert entry["event"] == "UserPromptSubmit" and entry["session"] == "now" and entry["project"] == str(project)
    assert entry["chars"] == len(block)
    assert entry["prompt"].startswith("what port is the kestrel billing API on?")
    assert secret not in entry["prompt"] and "heron" not in entry["prompt"]
    assert "[REDACTED:" in entry["prompt"]
    shown = {m[0]: m for m in entry["memories"]}
    assert set(shown) <= set(ids) and ids[1] in shown
    assert shown[ids[1]][1] == len("The kestrel billing API listens on port 8443 behind the ingress.")
    assert all(isinstance(m[2], float) and m[2] > 0 for m in entry["memories"])
    assert "Unrelated" not in block or ids[2] in shown  # what the record says is what the block held
    assert stat.S_IMODE(os.stat(injections.path()).st_mode) == 0o600


def test_the_warm_process_records_after_it_answered(data_home: Path, project: Path) -> None:
    _seed(project, "The kestrel billing API listens on port 8443.", "Noted, port 8443 it is.")
    run_hook("UserPromptSubmit", prompt_event("s1", project, "which port does the kestrel billing API use?"))
    proc = run_hook("UserPromptSubmit", prompt_event("s2", project, "which port does the kestrel billing API use?"))
    assert "8443" in injected_context(proc, "UserPromptSubmit")
    deadline = time.monotonic() + 10
    while len(injections.read()) < 2:  # the warm process writes it once the hook has its answer
        assert time.monotonic() < deadline, injections.read()
        time.sleep(0.02)
    assert {e["session"] for e in injections.read()} == {"s1", "s2"}


def test_session_start_is_recorded_with_its_source(data_home: Path, project: Path) -> None:
    _seed(project, "Rename the config loader to settings_loader", "Done: renamed to settings_loader.")
    start = {"session_id": "fresh", "cwd": str(project), "hook_event_name": "SessionStart", "source": "startup"}
    assert "settings_loader" in injected_context(run_hook("SessionStart", start, env=OWN_WORK), "SessionStart")
    [entry] = injections.read()
    assert entry["event"] == "SessionStart" and entry["source"] == "startup" and "prompt" not in entry
    assert len(entry["memories"]) == 2 and all(m[2] is None for m in entry["memories"])


def test_record_injections_false_records_nothing(data_home: Path, project: Path) -> None:
    _seed(project, "The kestrel billing API listens on port 8443.", "Noted.")
    env = dict(OWN_WORK, MEM0_HOOKS_MEMORY_RECORD_INJECTIONS="false")
    proc = run_hook(
        "UserPromptSubmit", prompt_event("s", project, "which port does the kestrel billing API use?"), env=env
    )
    assert "8443" in injected_context(proc, "UserPromptSubmit")
    assert injections.read() == [] and not os.path.exists(injections.path())


def test_record_injections_is_validated(data_home: Path) -> None:
    (data_home / "config.yaml").write_text("memory:\n  record_injections: maybe\n")
    assert main(["config", "get", "memory.record_injections"]) == 1


def test_last_shows_the_memories_and_their_scores(
    data_home: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(project, "Which port does the kestrel billing API listen on?", "It listens on port 8443.")
    run_hook(
        "UserPromptSubmit", prompt_event("now", project, "what port does the kestrel billing API use?"), env=OWN_WORK
    )
    capsys.readouterr()
    assert main(["last", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "prompt" in out and str(project) in out and '"what port does the kestrel billing API use?"' in out
    assert "100%" in out and ids[1][:12] in out and "It listens on port 8443." in out
    assert main(["last", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["event"] == "UserPromptSubmit" and entry["prompt"].startswith("what port")
    by_id = {m["id"]: m for m in entry["memories"]}
    assert by_id[ids[1]]["text"] == "It listens on port 8443." and by_id[ids[1]]["score"] > 0
    LocalStore().delete(ids[1])
    assert main(["last"]) == 0
    assert "(forgotten)" in capsys.readouterr().out


def test_last_with_nothing_recorded_says_so(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["last"]) == 0
    assert "nothing recorded yet" in capsys.readouterr().err
    assert main(["last", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_last_strips_terminal_escapes(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    injections.append(
        {
            "at": time.time(),
            "event": "UserPromptSubmit",
            "session": "s\x1b[2J",
            "project": "/p",
            "prompt": "hi \x1b]0;owned\x07 there",
            "chars": 1,
            "memories": [["x", 1, 1.0]],
        }
    )
    injections.append({"at": time.time(), "garbage": True})
    with open(injections.path(), "a") as fh:
        fh.write("{torn\n")
    assert main(["last"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "hi ]0;owned there" in out


def test_forget_all_drops_the_record(data_home: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    injections.record("UserPromptSubmit", session_id="s", project=str(project), shown=[], block_chars=1, prompt="a b")
    injections.record("UserPromptSubmit", session_id="s", project="/elsewhere", shown=[], block_chars=1, prompt="c d")
    assert main(["forget", "--all", "--project", str(project), "--yes"]) == 0
    assert [e["project"] for e in injections.read()] == ["/elsewhere"]
    assert main(["forget", "--all", "--yes"]) == 0
    assert injections.read() == []
