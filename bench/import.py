#!/usr/bin/env python3
"""How fast ``mem0-hooks import`` stores a history, against the floor for Python on this machine.

1. Corpus. The dev sets' conversations (devmem: 16 coding projects; LoCoMo: 5 long chats) become Claude
   Code transcripts as Claude Code 2.1.330 writes them, in a temporary ``projects/`` directory: one
   project directory per sample (its working directory does not exist on this machine, as for a project
   since deleted), one ``<session>.jsonl`` per session. Around each exchange sit the lines a real session
   has: thinking, an assistant note before its tool calls ("Let me look at ..."), 1 to 4 tool calls
   (Read, Bash, Grep, Edit) with their results written twice, as Claude Code does (the ``tool_result``
   block and ``toolUseResult``), hook attachments holding injected context, stop-hook summaries and
   bookkeeping lines; and now and then a ``/clear`` command, a meta caveat, a compact summary, a
   sidechain line, a ``<system-reminder>``. Tool results are sized so that the corpus reaches
   ``--mb`` (default 150): most of its bytes are tool output, as in a real history. File times are
   the sessions' last lines.
2. Floor: one ``json.loads`` of every line of every transcript (each file read whole, split on
   newlines), plus one FTS5 bulk insert (the store's tokenizer, one transaction, a fresh file) of the
   turns the import kept. The json pass runs before and after the import; the faster run counts.
3. Import: ``mem0-hooks import`` as a user runs it (a subprocess, a fresh data dir with consent given),
   timed until it exits: then the turns are stored and searchable (the bench checks that a turn's
   words find it). ``ratio`` = import seconds / floor seconds. A second import measures a rerun (it
   must add nothing).
4. Hooks during the import (``--hooks``, on by default): the real UserPromptSubmit hook, run as Claude
   Code runs it against the same data dir, while the import runs and then on the finished store.

    python bench/import.py                 # ~150 MB, the figures in docs/import-export.md
    python bench/import.py --mb 20         # a quicker run
    python bench/import.py --json          # machine-readable
    python bench/import.py --keep DIR      # keep the corpus (and reuse it with --corpus DIR)

Standard library only; the data sets are read from the paths given, never copied into the repository.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_DATA = [SHARED / "devmem" / "devmem-dev.json", SHARED / "locomo" / "locomo10-dev.json"]
CLAUDE_VERSION = "2.1.330"
TOKENIZER = "porter unicode61 remove_diacritics 2"
TURN_SECONDS = 30
try:  # the LoCoMo session dates, read as bench/recall.py reads them
    from bench.recall import session_start
except ImportError:  # run as a script: bench/ is on the path
    from recall import session_start  # type: ignore[no-redef]


# -- the corpus ------------------------------------------------------------------------------------------
def conversations(paths: list[Path]) -> list[tuple[str, list[tuple[datetime.datetime, list[tuple[str, str]]]]]]:
    """``[(project, [(start, [(role, text)])])]`` from LoCoMo-format files (speaker_a is the user)."""
    out = []
    for path in paths:
        for sample in json.loads(path.read_text(encoding="utf-8")):
            conv = sample["conversation"]
            name = sample.get("project") or f"chat-{sample.get('sample_id', len(out))}"
            numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k) and conv[k])
            sessions = []
            for n in numbers:
                turns = []
                for turn in conv[f"session_{n}"]:
                    text = str(turn.get("text") or "").strip()
                    caption = str(turn.get("blip_caption") or "").strip()
                    if caption:
                        text = f"{text} [shares a photo of {caption}]"
                    if text:
                        turns.append(("user" if turn.get("speaker") == conv["speaker_a"] else "assistant", text))
                sessions.append((session_start(conv[f"session_{n}_date_time"]), turns))
            out.append((str(name), sessions))
    return out


class Writer:
    """Writes sessions as Claude Code does, with tool calls sized to reach a byte budget."""

    def __init__(self, root: Path, rng: random.Random, tool_bytes_per_exchange: int) -> None:
        self.root = root
        self.rng = rng
        self.budget = tool_bytes_per_exchange
        self.code = _code_text(rng, 3_000_000)
        self.kept = 0  # turns the hooks' rules keep
        self.bytes = 0
        self.tool_bytes = 0  # of which: tool calls and their results (they scale with the budget)

    def session(self, project: str, start: datetime.datetime, turns: list[tuple[str, str]], index: int) -> None:
        rng = self.rng
        session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        cwd = f"/home/dev/work/{project}"
        folder = self.root / re.sub(r"[^A-Za-z0-9]", "-", cwd)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{session_id}.jsonl"
        clock = [start]
        lines: list[dict[str, Any]] = []
        parent: list[str | None] = [None]

        def stamp(seconds: float) -> str:
            clock[0] += datetime.timedelta(seconds=seconds)
            return clock[0].strftime("%Y-%m-%dT%H:%M:%S.") + f"{clock[0].microsecond // 1000:03d}Z"

        def line(kind: str, seconds: float = 1.0, **fields: Any) -> dict[str, Any]:
            uid = str(uuid.UUID(int=rng.getrandbits(128)))
            entry = {
                "parentUuid": parent[0],
                "isSidechain": False,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session_id,
                "version": CLAUDE_VERSION,
                "gitBranch": "main",
                "entrypoint": "cli",
                "type": kind,
                "uuid": uid,
                "timestamp": stamp(seconds),
            }
            entry.update(fields)
            parent[0] = uid
            lines.append(entry)
            return entry

        def assistant(message_id: str, block: dict[str, Any], seconds: float = 2.0) -> dict[str, Any]:
            return line(
                "assistant",
                seconds,
                message={
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [block],
                    "stop_reason": None,
                    "usage": {"input_tokens": rng.randint(10, 30000), "output_tokens": rng.randint(5, 900)},
                },
                requestRef="req_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24],
            )

        lines.append(
            {"type": "file-history-snapshot", "messageId": session_id, "snapshot": {}, "isSnapshotUpdate": False}
        )
        if index % 7 == 3:  # a session that starts with /clear: a meta caveat and command markers
            line(
                "user",
                message={
                    "role": "user",
                    "content": "Caveat: The messages below were generated by the user while running local commands.",
                },
                isMeta=True,
            )
            line(
                "user",
                message={
                    "role": "user",
                    "content": "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n"
                    "<command-args></command-args>",
                },
            )
            line("user", message={"role": "user", "content": "<local-command-stdout></local-command-stdout>"})
        i = 0
        while i < len(turns):
            role, text = turns[i]
            if role == "user":
                content: Any = text
                if rng.random() < 0.05:  # older releases put hook context in the prompt's system reminder
                    recalled = rng.choice(turns)[1][:200]
                    content = (
                        f"{text}\n<system-reminder>\n<mem0-hooks-memories>recalled: {recalled}</mem0-hooks-memories>\n"
                        "</system-reminder>"
                    )
                line(
                    "user",
                    20.0,
                    message={"role": "user", "content": content},
                    promptId=str(uuid.UUID(int=rng.getrandbits(128))),
                    permissionMode="default",
                )
                self.kept += 1
                if rng.random() < 0.5:  # our own injected context, as an attachment
                    line(
                        "attachment",
                        0.1,
                        attachment={
                            "type": "hook_additional_context",
                            "hookName": "UserPromptSubmit",
                            "content": [f"<mem0-hooks-memories>\n{rng.choice(turns)[1]}\n</mem0-hooks-memories>"],
                        },
                    )
                i += 1
                reply = turns[i][1] if i < len(turns) and turns[i][0] == "assistant" else ""
                if reply:
                    i += 1
                self._work(assistant, line, project)
                if reply:
                    final = "msg_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
                    assistant(final, {"type": "text", "text": reply}, 4.0)
                    self.kept += 1
                line(
                    "system",
                    0.2,
                    subtype="stop_hook_summary",
                    hookCount=1,
                    hookInfos=[{"command": "python3 -S stop.py"}],
                    hookErrors=[],
                    preventedContinuation=False,
                    stopReason="",
                    hasOutput=False,
                    level="suggestion",
                )
            else:  # an assistant turn without a prompt before it
                message_id = "msg_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
                assistant(message_id, {"type": "text", "text": text})
                self.kept += 1
                i += 1
            if rng.random() < 0.02:  # a sidechain line (older releases wrote subagents inline)
                line(
                    "user",
                    message={"role": "user", "content": "Search the repository for the config loader"},
                    isSidechain=True,
                )
        if index % 11 == 5:  # compacted at the end: a boundary and a synthetic summary, neither a turn
            line("system", 1.0, subtype="compact_boundary", compactMetadata={"trigger": "auto", "preTokens": 150000})
            line(
                "user",
                1.0,
                message={
                    "role": "user",
                    "content": "This session is being continued from a previous conversation. Summary: ...",
                },
                isCompactSummary=True,
                isVisibleInTranscriptOnly=True,
            )
        with open(path, "w", encoding="utf-8") as fh:
            for entry in lines:
                text_line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
                size = len(text_line.encode("utf-8"))
                self.bytes += size
                if "toolUseResult" in entry or _is_tool_use(entry):
                    self.tool_bytes += size
                fh.write(text_line)
        last = clock[0].timestamp()
        os.utime(path, (last, last))

    def _work(self, assistant: Any, line: Any, project: str) -> None:
        """Thinking, a note, then tool calls and their results: the bulk of a real transcript."""
        rng = self.rng
        message_id = "msg_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        assistant(
            message_id,
            {
                "type": "thinking",
                "thinking": self._slice(rng.randint(200, 1500)),
                "signature": "sig" + uuid.UUID(int=rng.getrandbits(128)).hex,
            },
        )
        calls = rng.randint(1, 4)
        target = self.budget * rng.uniform(0.4, 1.6) / calls / 2  # each result is written twice
        stem = rng.choice(["cli", "report", "scan", "config", "db", "api", "hash"])
        file_name = f"src/{stem}.{rng.choice(['rs', 'py', 'ts', 'cs'])}"
        for call in range(calls):
            if call == 0:
                assistant(message_id, {"type": "text", "text": f"Let me look at {file_name} in {project} first."}, 1.0)
                self.kept += 1
            else:
                message_id = "msg_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
            tool_id = "toolu_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
            name = rng.choice(["Read", "Read", "Bash", "Grep", "Edit"])
            size = max(200, int(rng.lognormvariate(0, 0.6) * target))
            body = self._slice(size)
            if name == "Read":
                tool_input: dict[str, Any] = {"file_path": f"/home/dev/work/{project}/{file_name}"}
                result: dict[str, Any] = {
                    "type": "text",
                    "file": {
                        "filePath": tool_input["file_path"],
                        "content": body,
                        "numLines": body.count("\n"),
                        "startLine": 1,
                        "totalLines": body.count("\n"),
                    },
                }
            elif name == "Bash":
                tool_input = {"command": "cargo test --all-features 2>&1 | tail -200", "description": "Run the tests"}
                result = {"stdout": body, "stderr": "", "interrupted": False, "isImage": False}
            elif name == "Grep":
                tool_input = {"pattern": "fn load", "path": f"/home/dev/work/{project}", "output_mode": "content"}
                result = {"mode": "content", "content": body, "numLines": body.count("\n"), "numFiles": 3}
            else:
                tool_input = {
                    "file_path": f"/home/dev/work/{project}/{file_name}",
                    "old_string": body[:300],
                    "new_string": body[:300].replace("let ", "let mut "),
                }
                result = {
                    "filePath": tool_input["file_path"],
                    "oldString": tool_input["old_string"],
                    "newString": tool_input["new_string"],
                    "originalFile": body,
                    "structuredPatch": [
                        {"oldStart": 1, "oldLines": 3, "newStart": 1, "newLines": 3, "lines": body[:300].splitlines()}
                    ],
                }
            use = assistant(message_id, {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}, 1.0)
            line(
                "user",
                rng.uniform(0.5, 8.0),
                message={"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": body}]},
                toolUseResult=result,
                sourceToolAssistantUUID=use["uuid"],
            )

    def _slice(self, size: int) -> str:
        start = self.rng.randrange(0, max(1, len(self.code) - size - 1))
        start = self.code.rfind("\n", 0, start) + 1
        return self.code[start : start + size]


def _is_tool_use(entry: dict[str, Any]) -> bool:
    content = (entry.get("message") or {}).get("content")
    return isinstance(content, list) and bool(content) and content[0].get("type") == "tool_use"


def _code_text(rng: random.Random, size: int) -> str:
    """Source-like text with line numbers, as Read returns it."""
    words = (
        "let mut self config path file scan hash report value error result match some none ok err len iter map "
        "collect into from new default load save parse write read index count"
    ).split()
    lines = []
    total = 0
    n = 0
    while total < size:
        n += 1
        indent = "    " * rng.randint(0, 3)
        body = " ".join(rng.choice(words) for _ in range(rng.randint(2, 12)))
        text = f"{n:6d}\t{indent}{body}{rng.choice([';', ' {', '', ')', ','])}"
        lines.append(text)
        total += len(text) + 1
    return "\n".join(lines) + "\n"


def build_corpus(root: Path, *, megabytes: float, data: list[Path], seed: int = 7) -> dict[str, Any]:
    """Write the corpus under ``root`` (a ``projects/`` directory); returns its size and counts.

    Tool output scales with the per-exchange budget, the rest does not: a first pass with an estimate,
    and when it misses the size by more than 3%, a second with the budget corrected."""
    convs = conversations(data)
    exchanges = sum(1 for _, sessions in convs for _, turns in sessions for role, _ in turns if role == "user")
    target = megabytes * 1e6
    budget = max(int(target / max(exchanges, 1) * 0.8), 500)
    for _attempt in range(2):
        shutil.rmtree(root, ignore_errors=True)
        writer = Writer(root, random.Random(seed), budget)
        sessions = 0
        for project, convo in convs:
            for index, (start, turns) in enumerate(convo):
                writer.session(project, start, turns, index)
                sessions += 1
        other = writer.bytes - writer.tool_bytes
        if abs(writer.bytes - target) <= 0.03 * target or writer.tool_bytes == 0 or target <= other:
            break
        budget = max(int(budget * (target - other) / writer.tool_bytes), 500)
    return {"bytes": writer.bytes, "files": sessions, "projects": len(convs), "turns_kept": writer.kept}


# -- the floor --------------------------------------------------------------------------------------------
def transcript_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.jsonl") if p.is_file())


def json_pass(files: list[Path]) -> tuple[float, int]:
    """Seconds for one ``json.loads`` of every line; the lines read."""
    started = time.perf_counter()
    count = 0
    loads = json.loads
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        for raw in data.split(b"\n"):
            if raw:
                loads(raw)
                count += 1
    return time.perf_counter() - started, count


def fts_insert(texts: list[str], path: Path) -> float:
    """Seconds for one FTS5 bulk insert of ``texts`` (one transaction, the store's tokenizer)."""
    db = sqlite3.connect(path)
    db.execute(f"CREATE VIRTUAL TABLE f USING fts5 (text, tokenize = '{TOKENIZER}')")
    started = time.perf_counter()
    with db:
        db.executemany("INSERT INTO f (text) VALUES (?)", ((t,) for t in texts))
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


# -- running mem0-hooks --------------------------------------------------------------------------------------
class Install:
    """A fresh data dir, and the CLI and hooks of this checkout run against it."""

    def __init__(self, python: str, home: Path) -> None:
        self.python = python
        self.home = home
        home.mkdir(parents=True, mode=0o700)
        (home / "config.yaml").write_text("backend: local\nprivacy:\n  require_consent: true\n  consent_given: true\n")
        purelib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_", "XDG_", "PYTHON"))}
        self.env.update(HOME=str(home.parent / "user-home"), MEM0_HOOKS_HOME=str(home), PYTHONPATH=purelib)
        subprocess.run(
            [python, "-m", "compileall", "-q", str(REPO_ROOT / "mem0_hooks"), str(REPO_ROOT / "hooks")],
            capture_output=True,
            check=False,
        )

    def cli(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
        code = (
            f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from mem0_hooks.cli.main import main; "
            f"raise SystemExit(main({list(args)!r}))"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [self.python, "-c", code], capture_output=True, text=True, env={**self.env, **env}, timeout=3600
        )
        return done, time.perf_counter() - started

    def prompt(self, project: str, text: str, session: str) -> float:
        payload = {
            "session_id": session,
            "transcript_path": "/nonexistent.jsonl",
            "cwd": f"/home/dev/work/{project}",
            "hook_event_name": "UserPromptSubmit",
            "prompt": text,
        }
        started = time.perf_counter()
        subprocess.run(
            [self.python, "-S", str(REPO_ROOT / "hooks" / "user_prompt_submit.py")],
            input=json.dumps(payload).encode(),
            capture_output=True,
            env=self.env,
            cwd=str(self.home),
            timeout=60,
        )
        return time.perf_counter() - started


def end_background(home: Path, grace: float = 10.0) -> None:
    """End the processes serving ``home`` (the warm process the hooks started, a flusher making vectors),
    found by their ``MEM0_HOOKS_HOME``: left running, they would write to the directory after it is gone."""
    import signal

    marker = f"MEM0_HOOKS_HOME={home}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0") and int(environ.parent.name) != os.getpid():
                pids.append(int(environ.parent.name))
        except (OSError, ValueError):
            continue
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:  # a zombie (exited, not yet reaped by whoever adopted it) writes nothing more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


HOOK_PAUSE = 0.1  # between two prompts: a hook every ~0.1 s, far more often than a person types


def hook_latencies(
    install: Install, prompts: list[tuple[str, str]], stop: threading.Event | None, rounds: int
) -> list[float]:
    out = []
    for n in range(rounds):
        if stop is not None and stop.is_set():
            break
        project, text = prompts[n % len(prompts)]
        out.append(install.prompt(project, text, f"bench-{uuid.uuid4()}"))
        time.sleep(HOOK_PAUSE)
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))] if ordered else 0.0


# -- the run ---------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="mem0-import-bench-", dir=args.workdir))
    try:
        if args.corpus:
            projects = Path(args.corpus)
            corpus = {
                "bytes": sum(p.stat().st_size for p in transcript_files(projects)),
                "files": len(transcript_files(projects)),
            }
        else:
            projects = Path(args.keep) if args.keep else work / "projects"
            log(f"writing a {args.mb:g} MB corpus to {projects} ...")
            started = time.perf_counter()
            corpus = build_corpus(projects, megabytes=args.mb, data=[Path(p) for p in args.data])
            log(
                f"  {corpus['bytes'] / 1e6:.1f} MB, {corpus['files']} transcripts, {corpus['projects']} projects "
                f"in {time.perf_counter() - started:.0f} s"
            )
        files = transcript_files(projects)
        json_a, lines = json_pass(files)
        log(f"floor: json.loads of {lines:,} lines: {json_a:.2f} s")

        install = Install(args.python, work / "data")
        # The import starts the background flusher to make the vectors for recall by meaning; here it
        # would compete with the floor measured next, so they are made (and timed) afterwards, by reindex.
        words_only = {"MEM0_HOOKS_MEMORY_SEMANTIC": "false"}
        install.cli("config", "get", "backend", **words_only)  # an install validated the config once
        install.cli("config", "get", "backend")
        done, import_s = install.cli("import", "--projects-dir", str(projects), "--json", **words_only)
        if done.returncode != 0:
            raise SystemExit(f"error: mem0-hooks import failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        summary = json.loads(done.stdout)
        log(f"import: {summary['stored']:,} turns stored in {import_s:.2f} s (wall, a fresh process)")

        db = sqlite3.connect(install.home / "memories.sqlite3")
        texts = [row[0] for row in db.execute("SELECT text FROM memories ORDER BY rowid")]
        probe = db.execute("SELECT text FROM memories WHERE role = 'user' ORDER BY rowid LIMIT 1 OFFSET 100").fetchone()
        words = [w for w in re.findall(r"[A-Za-z]{6,}", probe[0] if probe else "")][:3]
        found = db.execute(
            "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
            (" ".join(f'"{w}"' for w in words) or '"x"',),
        ).fetchone()[0]
        db.close()
        fts_s = fts_insert(texts, work / "floor.sqlite3")
        json_b, _ = json_pass(files)
        json_s = min(json_a, json_b)
        floor_s = json_s + fts_s
        log(
            f"floor: json.loads {json_s:.2f} s (best of 2) + FTS5 insert of {len(texts):,} turns {fts_s:.2f} s "
            f"= {floor_s:.2f} s"
        )

        again, again_s = install.cli("import", "--projects-dir", str(projects), "--json", **words_only)
        rerun = json.loads(again.stdout) if again.returncode == 0 else {"stored": None}
        embedded, embed_s = install.cli("reindex")
        vectors_s = round(embed_s, 2) if embedded.returncode == 0 else None
        log(f"vectors (recall by meaning), made afterwards: {embedded.stdout.strip() or embedded.stderr.strip()}")
        idle: list[float] = []
        during: list[float] = []
        if args.hooks:
            idle, during = hooks_during_import(args, install, work, corpus)
        return {
            "machine": machine(),
            "corpus_mb": round(corpus["bytes"] / 1e6, 1),
            "transcripts": len(files),
            "lines": lines,
            "turns_stored": summary["stored"],
            "turns_already_there": summary["already_present"],
            "skipped": summary["skipped"],
            "import_seconds": round(import_s, 2),
            "import_mb_per_second": round(corpus["bytes"] / 1e6 / import_s, 1),
            "floor_json_seconds": round(json_s, 2),
            "floor_fts_seconds": round(fts_s, 2),
            "floor_seconds": round(floor_s, 2),
            "ratio": round(import_s / floor_s, 2),
            "searchable": found > 0,
            "rerun_seconds": round(again_s, 2),
            "rerun_stored": rerun["stored"],
            "vectors_seconds": vectors_s,
            "hook_ms_during_import": _stats(during),
            "hook_ms_idle": _stats(idle),
        }
    finally:
        if not args.keep_work:
            end_background(work / "data")
            shutil.rmtree(work, ignore_errors=True)


def hooks_during_import(
    args: argparse.Namespace, install: Install, work: Path, corpus: dict[str, Any]
) -> tuple[list[float], list[float]]:
    """The UserPromptSubmit hook on the store the import filled, idle, then while another history of the
    same size (the same conversations, other sessions) is imported into it."""
    prompts = _prompts([Path(p) for p in args.data])
    idle = hook_latencies(install, prompts, None, args.hook_rounds)
    second = work / "projects-2"
    log("writing a second corpus for the hooks-during-import run ...")
    build_corpus(second, megabytes=corpus["bytes"] / 1e6, data=[Path(p) for p in args.data], seed=8)
    during: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: during.extend(hook_latencies(install, prompts, stop, 100_000)))
    watcher.start()
    try:
        done, seconds = install.cli("import", "--projects-dir", str(second), "--json")
    finally:
        stop.set()
        watcher.join()
    log(f"import of the second corpus with hooks running: {seconds:.2f} s (exit {done.returncode})")
    shutil.rmtree(second, ignore_errors=True)
    return idle, during


def _prompts(data: list[Path]) -> list[tuple[str, str]]:
    out = []
    for path in data:
        for sample in json.loads(path.read_text(encoding="utf-8")):
            name = sample.get("project") or f"chat-{sample.get('sample_id')}"
            for qa in sample.get("qa", [])[:5]:
                if qa.get("question"):
                    out.append((str(name), str(qa["question"])))
    return out or [("chat", "what did we decide about the config loader?")]


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"runs": 0}
    ms = [v * 1000 for v in values]
    return {
        "runs": len(ms),
        "median": round(statistics.median(ms), 1),
        "p90": round(percentile(ms, 0.9), 1),
        "max": round(max(ms), 1),
    }


def machine() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    hooks = ""
    if result["hook_ms_during_import"].get("runs"):
        d, i = result["hook_ms_during_import"], result["hook_ms_idle"]
        hooks = (
            f"\nUserPromptSubmit hook (run as Claude Code runs it, every {HOOK_PAUSE:g} s) on the imported store: "
            f"median {i['median']} ms, p90 {i['p90']} ms, max {i['max']} ms ({i['runs']} runs); while a second history "
            f"of the same size was imported into it: median {d['median']} ms, p90 {d['p90']} ms, max {d['max']} ms "
            f"({d['runs']} runs)"
        )
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}; Python {m['python']}, SQLite {m['sqlite']}\n\n"
        "| corpus | transcripts | turns stored | import | floor (json.loads + FTS5 insert) | ratio | rerun |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {result['corpus_mb']} MB | {result['transcripts']:,} | {result['turns_stored']:,} | "
        f"{result['import_seconds']} s ({result['import_mb_per_second']} MB/s) | "
        f"{result['floor_seconds']} s ({result['floor_json_seconds']} + {result['floor_fts_seconds']}) | "
        f"{result['ratio']}x | {result['rerun_seconds']} s, {result['rerun_stored']} added |"
        f"{hooks}\n"
        f"vectors for recall by meaning, made in the background afterwards (timed here with mem0-hooks reindex): "
        f"{result['vectors_seconds']} s\n"
        f"searchable after the import: {'yes' if result['searchable'] else 'NO'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=150.0, help="corpus size in MB (default 150)")
    parser.add_argument("--data", nargs="+", default=[str(p) for p in DEFAULT_DATA], help="LoCoMo-format files")
    parser.add_argument("--corpus", help="use this projects/ directory instead of writing one")
    parser.add_argument("--keep", help="write the corpus here and keep it")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs mem0-hooks")
    parser.add_argument("--no-hooks", dest="hooks", action="store_false", help="do not time a hook meanwhile")
    parser.add_argument("--hook-rounds", type=int, default=30)
    parser.add_argument("--workdir", help="where the temporary directory goes")
    parser.add_argument("--keep-work", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["searchable"] and result["rerun_stored"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
