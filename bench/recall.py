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
    python bench/recall.py --set local.WINDOW=0     # ablation: override a ranking knob inside the hooks
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

try:
    from bench import remote_stores
except ImportError:  # run as a script: bench/ is on the path
    import remote_stores  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "locomo" / "locomo10-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TURN_SECONDS = 30
CLAUDE_VERSION = "2.1.330"
MODULES = {"local": "mem0_hooks.backends.local", "context": "mem0_hooks.context", "recall": "mem0_hooks.recall"}
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

    def __init__(self, python: str, repo: Path, home: Path, sets: list[str]) -> None:
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
        self.overrides = parse_sets(sets)
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


def ingest(
    hooks: Hooks, sample: dict[str, Any], project: Path, transcripts: Path
) -> tuple[dict[str, tuple[str, int]], int]:
    """Write and capture every session; returns {dia_id: (session_id, index among distinct turns)}, turns."""
    conv = sample["conversation"]
    places: dict[str, tuple[str, int]] = {}
    turns_total = 0
    for _number, start, raw_turns in sessions_of(sample):
        session_id = str(uuid.uuid4())
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
        turns_total += len(distinct)
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
    return places, turns_total


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


def run(args: argparse.Namespace, backend: str = "local") -> dict[str, Any]:
    data_path = Path(args.data)
    samples = json.loads(data_path.read_text(encoding="utf-8"))
    if args.limit_conversations:
        samples = samples[: args.limit_conversations]
    repo = Path(args.repo).resolve()
    root = Path(tempfile.mkdtemp(prefix="mem0-recall-"))
    store = remote_stores.open_store(backend, args)  # None: the local store
    try:
        home = root / "data"
        home.mkdir(mode=0o700)
        (root / "user-home").mkdir()
        sys.path.insert(0, str(repo))
        from mem0_hooks.config import default_yaml

        (home / "config.yaml").write_text(default_yaml(consent=True))
        hooks = Hooks(args.python, repo, home, args.set)
        if store is not None:
            hooks.env.update(store.hook_env())
            store.prepare()
        transcripts = root / "user-home" / ".claude" / "projects"
        hooks.cli("config", "show")  # validate once, so the -S hooks find the config cache

        started = time.perf_counter()
        plan = []
        for sample in samples:
            project = root / "projects" / sample["sample_id"]
            project.mkdir(parents=True)
            places, turns = ingest(hooks, sample, project, transcripts)
            plan.append((sample, project, places, turns))
        drain(hooks, home)
        ingest_seconds = time.perf_counter() - started

        # capture check: one memory per distinct turn, texts as captured
        stored_total = turns_total = 0
        missing = 0
        for sample, project, places, turns in plan:
            if store is None:
                held = captured_texts(home, project)
            else:
                held = store.stored(sorted({s for s, _ in places.values()}))
            stored = sum(len(v) for v in held.values())
            stored_total += stored
            turns_total += turns
            if store is not None and stored != turns:
                missing += turns - stored  # reported: a remote store may refuse or merge a turn
            elif stored != turns:
                raise SystemExit(f"error: {sample['sample_id']}: {turns} distinct turns sent, {stored} stored")
            sample["_captured"] = {d: held[s][i] for d, (s, i) in places.items() if s in held and i < len(held[s])}

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
        by_category: dict[int, list[float]] = {}
        asking_started, log_from, empty = time.perf_counter(), remote_stores.log_size(home), 0
        complete = 0
        chars: list[int] = []
        latency: list[float] = []
        bare: list[float] = []
        skipped = 0
        over_budget = 0
        for sample, project, _, _ in plan:
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
                out, elapsed = hooks.run(
                    "user_prompt_submit.py",
                    {
                        "session_id": session_id,
                        "cwd": str(project),
                        "permission_mode": "default",
                        "transcript_path": str(transcripts / project_dir_name(str(project)) / f"{session_id}.jsonl"),
                        "hook_event_name": "UserPromptSubmit",
                        "prompt": str(qa["question"]),
                    },
                    env=ask_env,
                )
                latency.append(elapsed)
                if len(latency) % 10 == 1:
                    bare.append(hooks.bare_start())
                context = ""
                if out.strip():
                    context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
                chars.append(len(context))
                empty += not context
                over_budget += len(context) > budget
                flat = normalise(context)
                found = sum(1 for e in evidence if normalise(captured[e]) in flat)
                by_category.setdefault(category, []).append(found / len(evidence))
                complete += found == len(evidence)
        if queue_depth(home):
            raise SystemExit("error: a question was captured (the queue is not empty): capture was not off")
        everything = [r for values in by_category.values() for r in values]
        return {
            "backend": backend,
            "store": store.describe() if store is not None else str(home / "memories.sqlite3"),
            "turns_not_stored": missing,
            "questions_seconds": round(time.perf_counter() - asking_started, 1),
            "empty_blocks": empty,
            "store_failures": remote_stores.store_failures(home, log_from),
            "data": str(data_path),
            "conversations": len(plan),
            "turns_captured": stored_total,
            "ingest_seconds": round(ingest_seconds, 1),
            "questions": len(everything),
            "skipped_without_evidence": skipped,
            "budget": budget,
            "min_relevance": min_relevance,
            "recall": round(statistics.mean(everything), 4) if everything else 0.0,
            "recall_by_category": {
                f"{c} {CATEGORIES[c]}": {"recall": round(statistics.mean(v), 4), "questions": len(v)}
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
        }
    finally:
        stop_warm_processes(root)
        if store is not None and not args.keep:
            try:
                store.cleanup()
            except remote_stores.StoreError as exc:
                print(f"warning: {store.describe()}: cleanup failed: {exc}", file=sys.stderr)
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


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
        f"LoCoMo evidence recall through the real hooks ({result['data']}), store: {result['store']}",
        f"  {result['conversations']} conversations, {result['turns_captured']} turns captured in "
        f"{result['ingest_seconds']}s; {result['questions']} questions (categories 1-4; "
        f"{result['skipped_without_evidence']} without valid evidence skipped)",
        f"  blocks of at most {result['budget']} characters, turns scoring at least {result['min_relevance']} "
        "of the best" + (f"; overrides {' '.join(result['overrides'])}" if result["overrides"] else ""),
        "",
        f"  recall (mean over questions)   {result['recall']:.4f}",
    ]
    for name, row in result["recall_by_category"].items():
        lines.append(f"    category {name:<18} {row['recall']:.4f}  ({row['questions']} questions)")
    lines += [
        f"  all evidence recalled          {result['all_evidence_recalled']:.4f}",
        f"  mean injected characters       {result['mean_injected_chars']:.0f} (max {result['max_injected_chars']}, "
        f"{result['over_budget']} over budget)",
        f"  UserPromptSubmit hook          median {result['ups_hook_ms']['median']} ms, "
        f"p90 {result['ups_hook_ms']['p90']} ms "
        f"(bare `python -S -c pass`: {result['bare_python_start_ms']} ms)",
    ]
    failures = result.get("store_failures") or {}
    if result.get("turns_not_stored") or failures.get("count"):
        lines.append(
            f"  store problems                 {result.get('turns_not_stored', 0)} turns not stored, "
            f"{failures.get('count', 0)} warnings/errors logged while asking {failures.get('examples', [])[:1]}"
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
    parser.add_argument("--budget", type=int, default=0, help="most characters per block (default: the config's, 6000)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODULE.NAME=VALUE",
        help="override a constant inside the hooks (ablations), e.g. local.WINDOW=0",
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
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    remote_stores.add_arguments(parser)
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        parser.error(f"no LoCoMo file at {args.data}")
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
