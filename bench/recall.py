#!/usr/bin/env python3
"""Evidence recall of the real hooks on LoCoMo: does the context injected for a question hold the turns
that answer it, and how much context does it take?

Everything goes through the executables Claude Code runs, as Claude Code runs them (``python -S
hooks/<event>.py``, the hook's JSON on stdin, ``MEM0_HOOKS_HOME`` pointing at a temporary data dir
whose config.yaml has consent given):

1. Ingest. Each LoCoMo conversation is one project (a directory under the temporary root); each of its
   sessions is one Claude Code session with its own session id. The session is written as Claude Code
   writes a transcript (``user``/``assistant`` lines with ``uuid``, ``parentUuid``, ``sessionId``,
   ``cwd``, ``timestamp`` and ``message.content``): speaker_a is the user, speaker_b the assistant,
   timestamps are the session's date and time (read as UTC) plus 30 seconds per turn. A shared photo
   is part of what was said, so its caption is appended to the turn ("[shares a photo of ...]").
   Then the Stop hook fires once, at the end of the session, with the transcript and
   ``last_assistant_message``: the faithful-but-fast option. It captures every turn from the
   transcript with the turn's own timestamp; firing UserPromptSubmit for each user turn as well would
   only add copies of the prompts stamped with today's date (the hook stamps a prompt when it is
   submitted, which is right in real use and wrong for a replay of 2023 conversations), and the store
   would keep whichever copy arrived first.
2. Drain. ``mem0-hooks replay`` delivers the queue; the store must then hold one memory per distinct
   turn of each session, and the texts it holds (as captured, after redaction) are what the figures
   compare against.
3. Ask. Each category 1-4 question is the first prompt of a new session (new session id) in the
   conversation's project, sent to the real UserPromptSubmit hook with capture switched off
   (``MEM0_HOOKS_MEMORY_AUTO_STORE=false``), so no question becomes a memory that a later question
   could find. An evidence turn counts as recalled when its captured text (whitespace collapsed) is
   in the ``additionalContext`` the hook returns. A question's recall is the share of its evidence
   recalled; figures are means over questions. Evidence ids are normalised (``D8:6; D9:17`` is two
   ids, ``D:11:26`` is ``D11:26``, ``D30:05`` is ``D30:5``); a question with no valid evidence is
   skipped, and category 5 (adversarial, unanswerable) is left out.

    python bench/recall.py                          # the dev split, default config
    python bench/recall.py --limit-conversations 1  # a quick run
    python bench/recall.py --budget 2000 --json     # machine-readable
    python bench/recall.py --set turns.WINDOW=0     # ablation: override a ranking knob inside the hooks
    python bench/recall.py --config memory.max_context_memories=30   # a config key, for the questions
    python bench/recall.py --repo /path/to/other/checkout            # measure another tree's hooks

``--set MODULE.NAME=VALUE`` (repeatable; MODULE is ``local``, ``context`` or ``recall``) runs the hooks
through a launcher that sets the constant before the hook runs: that is how the ablation table in
the report was made. Hook latency is the wall time of each UserPromptSubmit run, next to a bare
``python -S -c pass`` started the same way; the modules are byte-compiled first and
``PYTHONDONTWRITEBYTECODE`` is dropped, as in an install (otherwise every hook would compile its
modules from source). Plain Python, standard library only; the data is read from the path given and
never copied into the repository.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "locomo" / "locomo10-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
DEVMEM_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "inference", 4: "single-hop"}
FIRST_CHARS = 1000  # "the best evidence first": a reader of this much of a block should have the answer
TURN_SECONDS = 30
CLAUDE_VERSION = "2.1.330"
MODULES = {
    "local": "mem0_hooks.backends.local",
    "lexical": "mem0_hooks.ranking.lexical",
    "turns": "mem0_hooks.ranking.turns",
    "speakers": "mem0_hooks.ranking.speakers",
    "semantic": "mem0_hooks.ranking.semantic",
    "fusion": "mem0_hooks.ranking.fusion",
    "context": "mem0_hooks.context",
    "recall": "mem0_hooks.recall",
}
try:
    from bench import remote_stores
except ImportError:  # run as a script: bench/ is on the path
    import remote_stores  # type: ignore[no-redef]

_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
}


# -- the data ---------------------------------------------------------------------------------------
def session_start(text: str) -> datetime.datetime:
    """``"1:56 pm on 8 May, 2023"`` -> 2023-05-08 13:56 UTC."""
    m = re.match(r"\s*(\d{1,2}):(\d{2})\s*([ap]m)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})", text, re.I)
    if not m:
        raise ValueError(f"unreadable session date {text!r}")
    hour, minute, half, day, month, year = m.groups()
    hour_24 = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
    return datetime.datetime(
        int(year), _MONTHS[month.lower()], int(day), hour_24, int(minute), tzinfo=datetime.timezone.utc
    )


def turn_text(turn: dict[str, Any]) -> str:
    """What the speaker said, with the caption of a shared photo (the photo is part of the turn)."""
    text = str(turn.get("text") or "")
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        caption = re.sub(r"^(a |an )?(photo|photograph|photography|picture|image) of ", "", caption, flags=re.I)
        text = f"{text} [shares a photo of {caption}]"
    return text.strip()


def evidence_ids(raw: Any) -> list[str]:
    """Normalised dia ids from one evidence entry: ``D8:6; D9:17`` -> two, ``D:11:26`` -> ``D11:26``."""
    out = []
    for part in re.split(r"[;,\s]+", str(raw)):
        m = re.fullmatch(r"D:?(\d+):0*(\d+)", part.strip())
        if m:
            out.append(f"D{int(m.group(1))}:{int(m.group(2))}")
    return out


def sessions_of(sample: dict[str, Any]) -> list[tuple[int, datetime.datetime, list[dict[str, Any]]]]:
    conv = sample["conversation"]
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k) and conv[k])
    return [(n, session_start(conv[f"session_{n}_date_time"]), conv[f"session_{n}"]) for n in numbers]


# -- running hooks as Claude Code does ---------------------------------------------------------------
class Hooks:
    """Runs ``python -S hooks/<event>.py`` with JSON on stdin, with optional ``--set`` overrides."""

    def __init__(self, python: str, repo: Path, home: Path, sets: list[str], in_process: bool = False) -> None:
        self.python = python
        self.repo = repo
        self.home = home
        purelib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # Under -S nothing adds site-packages, where an install keeps the dependencies the flusher and a
        # config re-validation need; a checkout gets them the way bench/hooks.py does, via PYTHONPATH.
        # PYTHONDONTWRITEBYTECODE would make every hook compile its modules from source, which an installed
        # package never does (pip writes the .pyc files): the latency figures would be mostly compile time.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MEM0_", "CLAUDE_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        self.env.update(HOME=str(home.parent / "user-home"), MEM0_HOOKS_HOME=str(home), PYTHONPATH=purelib)
        self.overrides = parse_sets(sets) if not in_process else []
        if self.overrides:
            # The overrides patch modules in the hook process: the hooks must do their own work, not
            # hand it to a warm process that never saw them.
            self.env["MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS"] = "false"
        subprocess.run(
            [python, "-m", "compileall", "-q", str(repo / "mem0_hooks"), str(repo / "hooks")],
            capture_output=True,
            env=self.env,
            check=False,
        )

    def command(self, event_file: str) -> list[str]:
        hook = str(self.repo / "hooks" / event_file)
        if not self.overrides:
            return [self.python, "-S", hook]
        lines = [
            "import sys, runpy",
            f"sys.path.insert(0, {str(self.repo / 'hooks')!r})",
            "import _bootstrap",
            "import importlib",
        ]
        for module, name, value in self.overrides:
            lines.append(f"setattr(importlib.import_module({MODULES[module]!r}), {name!r}, {value!r})")
        lines.append(f"sys.argv = [{hook!r}]")
        lines.append(f"runpy.run_path({hook!r}, run_name='__main__')")
        return [self.python, "-S", "-c", "\n".join(lines)]

    def run(self, event_file: str, payload: dict[str, Any], env: dict[str, str] | None = None) -> tuple[str, float]:
        started = time.perf_counter()
        done = subprocess.run(
            self.command(event_file),
            input=json.dumps(payload).encode(),
            capture_output=True,
            env=env or self.env,
            cwd=str(self.home.parent),
            timeout=60,
        )
        elapsed = time.perf_counter() - started
        return done.stdout.decode("utf-8", "replace"), elapsed

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        code = (
            f"import sys; sys.path.insert(0, {str(self.repo)!r}); from mem0_hooks.cli.main import main; "
            f"raise SystemExit(main({list(args)!r}))"
        )
        return subprocess.run(
            [self.python, "-c", code], capture_output=True, text=True, env=env or self.env, timeout=600
        )

    def bare_start(self) -> float:
        started = time.perf_counter()
        subprocess.run([self.python, "-S", "-c", "pass"], input=b"{}", capture_output=True)
        return time.perf_counter() - started


def parse_sets(sets: list[str]) -> list[tuple[str, str, Any]]:
    out = []
    for item in sets:
        target, _, raw = item.partition("=")
        module, _, name = target.partition(".")
        if module not in MODULES or not name or not raw:
            raise SystemExit(f"error: --set {item!r}: expected MODULE.NAME=VALUE with MODULE one of {sorted(MODULES)}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out.append((module, name, value))
    return out


def project_dir_name(cwd: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def write_transcript(path: Path, session_id: str, cwd: str, turns: list[tuple[str, str, str]]) -> str:
    """The session as Claude Code writes it; returns the last assistant message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parent = None
    last_reply = ""
    with open(path, "w", encoding="utf-8") as fh:
        for role, text, stamp in turns:
            uid = str(uuid.uuid4())
            entry: dict[str, Any] = {
                "parentUuid": parent,
                "isSidechain": False,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session_id,
                "version": CLAUDE_VERSION,
                "gitBranch": "",
                "entrypoint": "cli",
                "type": role,
                "uuid": uid,
                "timestamp": stamp,
            }
            if role == "user":
                entry["message"] = {"role": "user", "content": text}
                entry["promptId"] = str(uuid.uuid4())
            else:
                entry["message"] = {
                    "id": "msg_" + uuid.uuid4().hex[:24],
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                }
                entry["requestId"] = "req_" + uuid.uuid4().hex[:24]
                last_reply = text
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            parent = uid
    return last_reply


# -- the benchmark -----------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return " ".join(text.split())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))
    return ordered[index]


def queue_depth(home: Path) -> int:
    try:
        return sum(1 for p in (home / "queue" / "pending").iterdir() if p.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def drain(hooks: Hooks, home: Path) -> None:
    """``mem0-hooks replay`` until the queue is empty (it waits for a background flusher's lock)."""
    for _ in range(20):
        if queue_depth(home) == 0:
            return
        result = hooks.cli("replay")
        if result.returncode not in (0, 1):
            raise SystemExit(f"error: mem0-hooks replay failed: {result.stderr.strip() or result.stdout.strip()}")
    raise SystemExit(f"error: {queue_depth(home)} items still queued after replay")


def settle_vectors(hooks: Hooks) -> None:
    """Give every stored turn its vector before the questions (``mem0-hooks reindex``), as a store is
    between a user's sessions: the warm process embeds new turns between requests, so right after the
    ingest some may still be waiting, and how many would depend on timing (recall then moved by 0.01
    from run to run on devmem)."""
    done = hooks.cli("reindex")
    if done.returncode != 0:
        raise SystemExit(f"error: mem0-hooks reindex failed: {done.stderr.strip() or done.stdout.strip()}")


def ingest_session(
    hooks: Hooks,
    conv: dict[str, Any],
    start: datetime.datetime,
    raw_turns: list[dict[str, Any]],
    project: Path,
    transcripts: Path,
) -> tuple[dict[str, tuple[str, int]], int]:
    """Write and capture one session; returns {dia_id: (session_id, index among distinct turns)}, turns."""
    session_id = str(uuid.uuid4())
    places: dict[str, tuple[str, int]] = {}
    turns = []
    distinct: dict[tuple[str, str], int] = {}
    for index, turn in enumerate(raw_turns):
        role = "user" if turn.get("speaker") == conv["speaker_a"] else "assistant"
        stamp = (start + datetime.timedelta(seconds=TURN_SECONDS * index)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        text = turn_text(turn)
        if not text:
            continue
        turns.append((role, text, stamp))
        key = (role, normalise(text))
        if key not in distinct:
            distinct[key] = len(distinct)
        places[str(turn.get("dia_id"))] = (session_id, distinct[key])
    path = transcripts / project_dir_name(str(project)) / f"{session_id}.jsonl"
    last_reply = write_transcript(path, session_id, str(project), turns)
    hooks.run(
        "stop.py",
        {
            "session_id": session_id,
            "transcript_path": str(path),
            "cwd": str(project),
            "permission_mode": "default",
            "hook_event_name": "Stop",
            "stop_hook_active": False,
            "last_assistant_message": last_reply,
        },
    )
    return places, len(distinct)


def project_name(sample: dict[str, Any]) -> str:
    """A sample's project directory: devmem names its project, LoCoMo its conversation."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", str(sample.get("project") or sample["sample_id"]))


def ingest_all(
    hooks: Hooks, samples: list[dict[str, Any]], root: Path, transcripts: Path, crowded: bool
) -> list[tuple[dict[str, Any], Path]]:
    """Capture every session of every sample; sets each sample's ``_places`` ({dia_id: (session, index)}).

    Per project (default), each sample is a project directory of its own, its sessions in order. Crowded,
    every sample shares one directory, a long-lived busy repository: all sessions are replayed in date
    order, so the samples interleave.
    """
    sessions = []
    plan = []
    for order, sample in enumerate(samples):
        project = root / "projects" / ("crowded" if crowded else project_name(sample))
        project.mkdir(parents=True, exist_ok=True)
        sample["_places"] = {}
        sample["_turns"] = 0
        plan.append((sample, project))
        for number, start, raw_turns in sessions_of(sample):
            sessions.append((start.timestamp() if crowded else order, number, order, start, raw_turns))
    for _, _, order, start, raw_turns in sorted(sessions, key=lambda s: s[:3]):
        sample, project = plan[order]
        places, turns = ingest_session(hooks, sample["conversation"], start, raw_turns, project, transcripts)
        sample["_places"].update(places)
        sample["_turns"] += turns
    return plan


def captured_texts(home: Path, project: Path) -> dict[str, list[str]]:
    """{session_id: texts in capture order} as the store holds them."""
    db = sqlite3.connect(f"file:{home / 'memories.sqlite3'}?mode=ro", uri=True)
    try:
        out: dict[str, list[str]] = {}
        for session_id, text in db.execute(
            "SELECT session_id, text FROM memories WHERE project = ? ORDER BY session_id, seq", (str(project),)
        ):
            out.setdefault(session_id, []).append(text)
        return out
    finally:
        db.close()


def is_devmem(samples: list[dict[str, Any]]) -> bool:
    return all(s.get("conversation", {}).get("speaker_a") == "user" for s in samples)


def run(args: argparse.Namespace, backend: str = "local") -> dict[str, Any]:
    data_path = Path(args.data)
    samples = json.loads(data_path.read_text(encoding="utf-8"))
    if args.limit_conversations:
        samples = samples[: args.limit_conversations]
    repo = Path(args.repo).resolve()
    root = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="mem0-recall-"))
    saved = root / f"ingested-{backend}.json"
    reused = json.loads(saved.read_text()) if args.reuse else None
    store = remote_stores.open_store(backend, args, user=(reused or {}).get("user"))  # None: the local store
    try:
        home = root / "data"
        sys.path.insert(0, str(repo))
        from mem0_hooks.config import default_yaml

        if reused is None:
            home.mkdir(mode=0o700)
            (root / "user-home").mkdir()
            (home / "config.yaml").write_text(default_yaml(consent=True))
        hooks = Hooks(args.python, repo, home, args.set, args.in_process)
        if store is not None:
            hooks.env.update(store.hook_env())
            store.prepare()
        transcripts = root / "user-home" / ".claude" / "projects"
        hooks.cli("config", "show")  # validate once, so the -S hooks find the config cache

        if reused is None:
            started = time.perf_counter()
            plan = ingest_all(hooks, samples, root, transcripts, args.crowded)
            drain(hooks, home)
            settle_vectors(hooks)
            ingest_seconds = time.perf_counter() - started
            if args.keep:  # what --reuse needs to ask again without ingesting again
                saved.write_text(
                    json.dumps(
                        {
                            "user": store.user_id if store is not None else None,
                            "ingest_seconds": ingest_seconds,
                            "plan": [[str(project), sample["_places"], sample["_turns"]] for sample, project in plan],
                        }
                    )
                )
        else:
            # a store kept by older code may hold vectors of another model, which recall does not use
            # (words only) until they are made again: make them, as an upgraded install's flusher would
            settle_vectors(hooks)
            ingest_seconds = float(reused["ingest_seconds"])
            plan = []
            for sample, (project, places, turns) in zip(samples, reused["plan"], strict=True):
                sample["_places"] = {k: tuple(v) for k, v in places.items()}
                sample["_turns"] = turns
                plan.append((sample, Path(project)))

        # capture check: one memory per distinct turn, texts as captured
        stored_total = missing = 0
        for project in dict.fromkeys(project for _, project in plan):
            sent = sum(sample["_turns"] for sample, where in plan if where == project)
            if store is None:
                held = captured_texts(home, project)
            else:
                sessions = {s for sample, where in plan if where == project for s, _ in sample["_places"].values()}
                held = store.stored(sorted(sessions))
            stored = sum(len(v) for v in held.values())
            stored_total += stored
            if store is not None and stored != sent:
                missing += sent - stored  # reported: a remote store may refuse or merge a turn
            elif stored != sent:
                raise SystemExit(f"error: {project.name}: {sent} distinct turns sent, {stored} stored")
            for sample, where in plan:
                if where == project:
                    sample["_captured"] = {
                        d: held[s][i] for d, (s, i) in sample["_places"].items() if s in held and i < len(held[s])
                    }

        if args.other_machine:
            # A second data dir against the same remote store and user: no local index for the projects,
            # so every memory is one only the remote store has (another machine's).
            if store is None:
                raise SystemExit("error: --other-machine needs a remote --backend")
            other = root / "other-machine"
            if not other.exists():
                other.mkdir(mode=0o700)
                (other / "config.yaml").write_text(default_yaml(consent=True))
            hooks = Hooks(args.python, repo, other, args.set, args.in_process)
            hooks.env.update(store.hook_env())
            hooks.cli("config", "show")
            home = other
            if backend == "openmemory":  # what the flusher a session start starts does: the directory
                code = (
                    f"import sys; sys.path.insert(0, {str(repo)!r}); from mem0_hooks import config; "
                    "from mem0_hooks.backends import open_backend; "
                    "print(open_backend(config.load()).refresh_directory(force=True))"
                )
                done = subprocess.run([args.python, "-c", code], capture_output=True, text=True, env=hooks.env)
                print(f"openmemory directory: {done.stdout.strip() or done.stderr.strip()[-300:]}", file=sys.stderr)

        # questions: a new session each, capture off
        ask_env = dict(hooks.env, MEM0_HOOKS_MEMORY_AUTO_STORE="false")
        if args.budget:
            ask_env["MEM0_HOOKS_MEMORY_CONTEXT_BUDGET_CHARS"] = str(args.budget)
        for item in args.config:
            key, _, value = item.partition("=")
            if not value or "." not in key:
                raise SystemExit(
                    f"error: --config {item!r}: expected SECTION.KEY=VALUE, e.g. memory.max_context_memories=30"
                )
            ask_env["MEM0_HOOKS_" + key.replace(".", "_").upper()] = value
        hooks.cli("config", "show", env=ask_env)
        budget = int(hooks.cli("config", "get", "memory.context_budget_chars", env=ask_env).stdout.strip())
        min_relevance = float(hooks.cli("config", "get", "memory.min_relevance", env=ask_env).stdout.strip())
        ask_here = in_process(repo, ask_env, args.set) if args.in_process else None
        asking_started, log_from = time.perf_counter(), remote_stores.log_size(home)
        categories = DEVMEM_CATEGORIES if is_devmem(samples) else CATEGORIES

        def ask_all(dump: Any = None) -> dict[str, Any]:
            """Every category 1-4 question once: per-category recall, in the first characters, sizes, times.
            With ``dump`` (an open file), a JSON line per question: its block and where its evidence sits."""
            by_category: dict[int, list[float]] = {}
            first_by_category: dict[int, list[float]] = {}
            complete = skipped = over_budget = empty = 0
            chars: list[int] = []
            latency: list[float] = []
            bare: list[float] = []
            for sample, project in plan:
                captured = sample["_captured"]
                for qa in sample["qa"]:
                    category = qa.get("category")
                    if category not in CATEGORIES:
                        continue
                    evidence = list(dict.fromkeys(e for raw in qa.get("evidence") or [] for e in evidence_ids(raw)))
                    evidence = [e for e in evidence if e in captured]
                    if not evidence:
                        skipped += 1
                        continue
                    session_id = str(uuid.uuid4())
                    payload = {
                        "session_id": session_id,
                        "cwd": str(project),
                        "permission_mode": "default",
                        "transcript_path": str(transcripts / project_dir_name(str(project)) / f"{session_id}.jsonl"),
                        "hook_event_name": "UserPromptSubmit",
                        "prompt": str(qa["question"]),
                    }
                    if ask_here is not None:
                        out, elapsed = ask_here(payload)
                    else:
                        out, elapsed = hooks.run("user_prompt_submit.py", payload, env=ask_env)
                        if len(latency) % 10 == 0:
                            bare.append(hooks.bare_start())
                    latency.append(elapsed)
                    context = ""
                    if out.strip():
                        context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
                    chars.append(len(context))
                    empty += not context
                    over_budget += len(context) > budget
                    flat = normalise(context)
                    where = [flat.find(normalise(captured[e])) for e in evidence]
                    found = sum(1 for at in where if at >= 0)
                    early = sum(1 for at in where if 0 <= at < FIRST_CHARS)
                    if dump is not None:
                        row = {"question": qa["question"], "category": category, "evidence_at": where}
                        row.update(evidence=[captured[e] for e in evidence], block=context, cwd=str(project))
                        dump.write(json.dumps(row, ensure_ascii=False) + "\n")
                    by_category.setdefault(category, []).append(found / len(evidence))
                    first_by_category.setdefault(category, []).append(early / len(evidence))
                    complete += found == len(evidence)
            return {
                "by_category": by_category,
                "first_by_category": first_by_category,
                "complete": complete,
                "skipped": skipped,
                "over_budget": over_budget,
                "chars": chars,
                "latency": latency,
                "bare": bare,
                "empty": empty,
            }

        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as dump:
                asked = ask_all(dump)
        else:
            asked = ask_all()
        ablations = ablate(ask_all, ask_env) if args.ablate else []
        by_category, first_by_category = asked["by_category"], asked["first_by_category"]
        complete, skipped, over_budget = asked["complete"], asked["skipped"], asked["over_budget"]
        chars, latency, bare = asked["chars"], asked["latency"], asked["bare"]
        if queue_depth(home):
            raise SystemExit("error: a question was captured (the queue is not empty): capture was not off")
        everything = [r for values in by_category.values() for r in values]
        early_all = [r for values in first_by_category.values() for r in values]
        return {
            "data": str(data_path),
            "backend": backend + (" (other machine)" if args.other_machine else ""),
            "store": store.describe() if store is not None else str(home / "memories.sqlite3"),
            "turns_not_stored": missing,
            "questions_seconds": round(time.perf_counter() - asking_started, 1),
            "empty_blocks": asked["empty"],
            "store_failures": remote_stores.store_failures(home, log_from),
            "mode": "crowded" if args.crowded else "per project",
            "conversations": len(plan),
            "turns_captured": stored_total,
            "ingest_seconds": round(ingest_seconds, 1),
            "questions": len(everything),
            "skipped_without_evidence": skipped,
            "budget": budget,
            "min_relevance": min_relevance,
            "recall": round(statistics.mean(everything), 4) if everything else 0.0,
            "recall_first_chars": round(statistics.mean(early_all), 4) if early_all else 0.0,
            "recall_by_category": {
                f"{c} {categories[c]}": {
                    "recall": round(statistics.mean(v), 4),
                    "first_chars": round(statistics.mean(first_by_category[c]), 4),
                    "questions": len(v),
                }
                for c, v in sorted(by_category.items())
            },
            "all_evidence_recalled": round(complete / len(everything), 4) if everything else 0.0,
            "mean_injected_chars": round(statistics.mean(chars), 1) if chars else 0.0,
            "max_injected_chars": max(chars, default=0),
            "over_budget": over_budget,
            "ups_hook_ms": {
                "median": round(statistics.median(latency) * 1000, 1) if latency else 0.0,
                "p90": round(percentile(latency, 0.9) * 1000, 1),
            },
            "bare_python_start_ms": round(statistics.median(bare) * 1000, 1) if bare else 0.0,
            "overrides": args.set + [f"config {c}" for c in args.config],
            "ablations": ablations,
        }
    finally:
        if store is not None and not args.keep:
            try:
                store.cleanup()
            except remote_stores.StoreError as exc:
                print(f"warning: {store.describe()}: cleanup failed: {exc}", file=sys.stderr)
        stop_warm_processes(root)
        if args.keep:
            print(f"kept {root} (ask again with --reuse {root})", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# What each ranking rule buys (``--ablate``): the rule switched off, or its knob at its neutral value.
ABLATIONS: list[tuple[str, list[str]]] = [
    ("recall by meaning (memory.semantic_weight 0)", ["config:memory.semantic_weight=0"]),
    ("by meaning: no floor (turns.SEMANTIC_FLOOR 0)", ["turns.SEMANTIC_FLOOR=0.0"]),
    ("by meaning: candidates read (turns.SEMANTIC_CANDIDATES 0)", ["turns.SEMANTIC_CANDIDATES=0"]),
    ("by meaning: the closest read with neighbours (turns.SEMANTIC_WINDOWED 0)", ["turns.SEMANTIC_WINDOWED=0"]),
    ("neighbours read and shown (turns.WINDOW 0)", ["turns.WINDOW=0"]),
    ("neighbours' scores (turns.NEIGHBOUR_WEIGHTS 0, 0)", ["turns.NEIGHBOUR_WEIGHTS=(0.0, 0.0)"]),
    ("the session's score (turns.SESSION_WEIGHT 0)", ["turns.SESSION_WEIGHT=0.0"]),
    ('"when" prompts favour turns that say when (turns.TIME_BOOST 0)', ["turns.TIME_BOOST=0.0"]),
    ("named dates (turns.DATE_BOOST 0, DATE_BASE 0)", ["turns.DATE_BOOST=0.0", "turns.DATE_BASE=0.0"]),
    ('"now" prompts favour the newest turns (turns.NOW_BOOST 0)', ["turns.NOW_BOOST=0.0"]),
    ("who the prompt is about (turns.SPEAKER_BOOST 0)", ["turns.SPEAKER_BOOST=0.0"]),
    ("session openings (turns.OPENINGS 0)", ["turns.OPENINGS=0"]),
    ("first exchanges start and end with a match (context.LEAD_GROUPS 0)", ["context.LEAD_GROUPS=0"]),
    ("the first 1,000 characters in the ranking's order (context.LEAD_CHARS 0)", ["context.LEAD_CHARS=0"]),
    ("the lead ordered token by token too (turns.TOKEN_WEIGHT 0)", ["turns.TOKEN_WEIGHT=0.0"]),
    ("the relevance cut (memory.min_relevance 0)", ["config:memory.min_relevance=0"]),
]


def ablate(ask_all: Any, env: dict[str, str]) -> list[dict[str, Any]]:
    """Each ``ABLATIONS`` row: the questions asked again with that rule off (``--in-process`` only)."""
    import importlib

    rows = []
    for label, changes in ABLATIONS:
        saved: list[tuple[Any, str, Any]] = []
        saved_env: dict[str, str | None] = {}
        for change in changes:
            if change.startswith("config:"):
                key, _, value = change[len("config:") :].partition("=")
                name = "MEM0_HOOKS_" + key.replace(".", "_").upper()
                saved_env[name] = os.environ.get(name)
                os.environ[name] = value
                continue
            ((module, name, value),) = parse_sets([change])
            target = importlib.import_module(MODULES[module])
            saved.append((target, name, getattr(target, name)))
            setattr(target, name, value)
        try:
            asked = ask_all()
        finally:
            for target, name, value in saved:
                setattr(target, name, value)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        every = [r for values in asked["by_category"].values() for r in values]
        early = [r for values in asked["first_by_category"].values() for r in values]
        rows.append(
            {
                "without": label,
                "recall": round(statistics.mean(every), 4),
                "first_chars": round(statistics.mean(early), 4),
                "mean_chars": round(statistics.mean(asked["chars"]), 1),
            }
        )
        print(f"  without {label}: {rows[-1]}", file=sys.stderr)
    return rows


def in_process(repo: Path, env: dict[str, str], sets: list[str]) -> Any:
    """A function answering a UserPromptSubmit payload in this process as the warm process answers it
    (the embedding model loaded, the same handler and runner), with ``--set`` overrides applied: what
    ``--in-process`` measures. Returns (output, seconds)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("MEM0_")})  # (MEM0_API_KEY too)
    for key in [k for k in os.environ if k.startswith("MEM0_") and k not in env]:
        del os.environ[key]
    sys.path.insert(0, str(repo))
    import importlib

    from mem0_hooks import recall
    from mem0_hooks.events import runner
    from mem0_hooks.events.user_prompt_submit import user_prompt_submit

    recall.load_embeddings()
    for module, name, value in parse_sets(sets):
        setattr(importlib.import_module(MODULES[module]), name, value)

    def ask(payload: dict[str, Any]) -> tuple[str, float]:
        os.chdir(payload["cwd"])
        started = time.perf_counter()
        try:
            out = runner.respond("UserPromptSubmit", user_prompt_submit, json.dumps(payload).encode(), seconds=10)
        finally:
            runner.finish()
        return out, time.perf_counter() - started

    return ask


def stop_warm_processes(root: Path) -> None:
    """End the warm processes the hooks started for data dirs under ``root`` (they would idle 30 minutes)."""
    import signal

    for pid_file in root.glob("**/run/warm-*.pid"):
        try:
            os.kill(int(pid_file.read_text().split("\n", 1)[0]), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Evidence recall through the real hooks ({result['data']}, {result['mode']}), store: {result['store']}",
        f"  {result['conversations']} conversations, {result['turns_captured']} turns captured in "
        f"{result['ingest_seconds']}s; {result['questions']} questions (categories 1-4; "
        f"{result['skipped_without_evidence']} without valid evidence skipped)",
        f"  blocks of at most {result['budget']} characters, turns scoring at least {result['min_relevance']} "
        "of the best" + (f"; overrides {' '.join(result['overrides'])}" if result["overrides"] else ""),
        "",
        f"  recall (mean over questions)   {result['recall']:.4f}   in the first {FIRST_CHARS:,} characters: "
        f"{result['recall_first_chars']:.4f}",
    ]
    for name, row in result["recall_by_category"].items():
        lines.append(
            f"    category {name:<18} {row['recall']:.4f}   {row['first_chars']:.4f}  ({row['questions']} questions)"
        )
    lines += [
        f"  all evidence recalled          {result['all_evidence_recalled']:.4f}",
        f"  mean injected characters       {result['mean_injected_chars']:.0f} (max {result['max_injected_chars']}, "
        f"{result['over_budget']} over budget)",
        (
            f"  UserPromptSubmit hook          median {result['ups_hook_ms']['median']} ms, "
            f"p90 {result['ups_hook_ms']['p90']} ms "
            f"(bare `python -S -c pass`: {result['bare_python_start_ms']} ms)"
            if result["bare_python_start_ms"]
            else f"  answered in this process (--in-process): median {result['ups_hook_ms']['median']} ms a question"
        ),
    ]
    failures = result.get("store_failures") or {}
    if result.get("turns_not_stored") or failures.get("count"):
        lines.append(
            f"  store problems                 {result.get('turns_not_stored', 0)} turns not stored, "
            f"{failures.get('count', 0)} warnings/errors logged while asking {failures.get('examples', [])[:1]}"
        )
    if result.get("ablations"):
        lines += [
            "",
            "  without the rule                                                 recall   first 1k   mean chars",
        ]
        lines.append(
            f"  {'(all rules)':<64} {result['recall']:.4f}   {result['recall_first_chars']:.4f}   "
            f"{result['mean_injected_chars']:8.0f}"
        )
        for row in result["ablations"]:
            lines.append(
                f"  {row['without']:<64} {row['recall']:.4f}   {row['first_chars']:.4f}   {row['mean_chars']:8.0f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help="LoCoMo JSON (default: %(default)s)")
    parser.add_argument(
        "--limit-conversations", type=int, default=0, metavar="N", help="only the first N conversations"
    )
    parser.add_argument("--budget", type=int, default=0, help="most characters per block (default: the config's, 4600)")
    parser.add_argument(
        "--crowded",
        action="store_true",
        help="every sample in one project directory, sessions replayed in date order (a long-lived busy repo)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="answer the questions in this process as the warm process does (the turns are still captured "
        "through the real hooks): seconds instead of a minute, and --set overrides apply with recall by meaning",
    )
    parser.add_argument(
        "--ablate",
        action="store_true",
        help="with --in-process: ask every question again with each ranking rule off, and print what each buys",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--dump",
        metavar="FILE",
        default="",
        help="write a JSON line per question to FILE: the question, its evidence, the block injected and "
        "where in it (normalised characters, -1: missing) each piece of evidence starts; for reading misses",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODULE.NAME=VALUE",
        help="override a constant inside the hooks (ablations), e.g. turns.WINDOW=0",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="config override for the questions, as its MEM0_HOOKS_* variable (e.g. memory.max_context_memories=30)",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the hooks (default: this one)")
    parser.add_argument("--repo", default=str(REPO_ROOT), help="checkout whose hooks/ and mem0_hooks/ are measured")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (and a remote run's memories), for --reuse",
    )
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        default="",
        help="ask again in a directory an earlier --keep run of the same data and one --backend left, without "
        "ingesting again (its remote memories are deleted at the end unless --keep is given again)",
    )
    parser.add_argument(
        "--other-machine",
        action="store_true",
        help="a remote --backend: ask from a second data dir with no local index (another machine), so that "
        "recall is the remote store's alone, fused and packed by the hooks",
    )
    remote_stores.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.ablate and not args.in_process:
        parser.error("--ablate needs --in-process (the rules are switched off inside this process)")
    if not Path(args.data).is_file():
        parser.error(f"no LoCoMo-format file at {args.data}")
    if args.reuse and len(remote_stores.backends_of(args)) != 1:
        parser.error("--reuse takes one --backend (the one the kept run measured)")
    results = [run(args, backend) for backend in remote_stores.backends_of(args)]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        print("\n\n".join(report(r) for r in results))
        if len(results) > 1:
            print("\n" + remote_stores.side_by_side(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
