#!/usr/bin/env python3
"""How fast the memory tools' MCP server (``mem0-hooks mcp``) starts and searches.

1. Start. The server is started as ``mem0-hooks install`` registers it (``<python> -m mem0_hooks.cli.main
   mcp``, ``MEM0_HOOKS_HOME`` set, the project as its working directory) and sent ``initialize`` at once;
   the figure is the time from the start of the process to the answer on its stdout, next to a bare
   ``python -c pass`` started the same way. Target: 1 s.
2. Search. A local store of real text: the turns of the DevMem and LoCoMo development sets, cycled
   (each cycle a new set of sessions) to ``--size`` memories in one project, written as the flusher
   writes them and tidied as it leaves them. One server, started once, is asked each question of both
   sets as a ``search_memory`` call; the figure is the round trip of ``tools/call`` over the pipes.
   Target: 50 ms at 10,000 memories.

Only the standard library on the client side: it writes JSON-RPC lines and reads the answers, so what
is timed is the server, not a client library.

    python bench/mcp.py                    # 10,000 memories, 10 starts, every question (about a minute)
    python bench/mcp.py --size 100000      # a bigger store
    python bench/mcp.py --quick --json     # a smoke run, machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "data"
DEVMEM = SHARED / "devmem" / "devmem-dev.json"
LOCOMO = SHARED / "locomo" / "locomo10-dev.json"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


def conversations(paths: list[Path]) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Sessions (each a list of ``(role, text)``) and questions from LoCoMo-format files."""
    sessions: list[list[tuple[str, str]]] = []
    questions: list[str] = []
    for path in paths:
        for sample in json.loads(path.read_text(encoding="utf-8")):
            conv = sample["conversation"]
            a = conv.get("speaker_a")
            n = 1
            while f"session_{n}" in conv:
                turns = [
                    ("user" if t.get("speaker") == a else "assistant", str(t.get("text") or ""))
                    for t in conv[f"session_{n}"]
                ]
                sessions.append([t for t in turns if t[1].strip()])
                n += 1
            questions += [str(q["question"]) for q in sample.get("qa", []) if q.get("question")]
    return sessions, questions


def build_store(data: Path, project: str, sessions: list[list[tuple[str, str]]], size: int) -> int:
    """``size`` memories in ``project``: the sessions over and over, each cycle new sessions; returns the count."""
    sys.path.insert(0, str(REPO_ROOT))
    os.environ["MEM0_HOOKS_HOME"] = str(data)
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.capture import item_id

    store = LocalStore(str(data / "memories.sqlite3"))
    batch: list[MemoryItem] = []
    made = cycle = 0
    start = time.time() - 400 * 86400
    while made < size:
        for s, turns in enumerate(sessions):
            session = f"bench-{cycle}-{s}"
            for seq, (role, text) in enumerate(turns, start=1):
                if made >= size:
                    break
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + made * 60))
                batch.append(
                    MemoryItem(item_id(session, role, text), text, role, stamp, session, project, "project", seq)
                )
                made += 1
                if len(batch) >= 200:  # the flusher's batch for the local store
                    store.add(batch)
                    batch = []
        cycle += 1
    store.add(batch)
    store.tidy()
    count = store.count()
    store.close()
    return count


class Server:
    """``mem0-hooks mcp`` as a child speaking JSON-RPC lines on its pipes."""

    def __init__(self, python: str, data: Path, cwd: Path) -> None:
        env = dict(os.environ, MEM0_HOOKS_HOME=str(data), PYTHONPATH=str(REPO_ROOT))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [python, "-m", "mem0_hooks.cli.main", "mcp"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.ids = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def answer(self, rpc_id: int) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its stdout")
            message = json.loads(line)
            if message.get("id") == rpc_id:
                return message  # type: ignore[no-any-return]

    def initialize(self) -> float:
        """Seconds from the process start to the ``initialize`` answer."""
        self.send(INITIALIZE)
        self.answer(0)
        ready = time.perf_counter() - self.started
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return ready

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        self.ids += 1
        start = time.perf_counter()
        self.send(
            {"jsonrpc": "2.0", "id": self.ids, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        )
        message = self.answer(self.ids)
        return time.perf_counter() - start, message["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def bare_start(python: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True)
    return time.perf_counter() - start


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="memories in the store (default 10,000)")
    parser.add_argument("--starts", type=int, default=10, help="server starts to time (default 10)")
    parser.add_argument("--queries", type=int, default=0, help="questions to ask (default: all)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run the server with")
    parser.add_argument("--quick", action="store_true", help="1,000 memories, 3 starts, 50 questions")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.starts, args.queries = 1_000, 3, 50
    sessions, questions = conversations([DEVMEM, LOCOMO])
    if args.queries:
        questions = questions[: args.queries]

    with tempfile.TemporaryDirectory(prefix="mem0-hooks-bench-mcp-") as tmp:
        data, project = Path(tmp) / "data", Path(tmp) / "project"
        data.mkdir(mode=0o700)
        (project / ".git").mkdir(parents=True)
        (data / "config.yaml").write_text("privacy:\n  consent_given: true\n")
        built = time.perf_counter()
        count = build_store(data, str(project), sessions, args.size)
        built = time.perf_counter() - built

        bare = [bare_start(args.python) for _ in range(args.starts)]
        starts = []
        for _ in range(args.starts):
            server = Server(args.python, data, project)
            starts.append(server.initialize())
            server.close()

        server = Server(args.python, data, project)
        server.initialize()
        for question in questions[:5]:  # the first calls load the config, open the store, count words
            server.call("search_memory", {"query": question})
        times, empty, errors = [], 0, 0
        for question in questions:
            took, result = server.call("search_memory", {"query": question})
            times.append(took)
            if result.get("isError"):
                errors += 1
            elif not json.loads(result["content"][0]["text"])["memories"]:
                empty += 1
        server.close()

    figures = {
        "python": sys.version.split()[0],
        "memories": count,
        "store_built_s": round(built, 1),
        "initialize": summary(starts),
        "bare_python_start": summary(bare),
        "search_memory": summary(times),
        "questions": len(questions),
        "questions_without_results": empty,
        "errors": errors,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    init, search = figures["initialize"], figures["search_memory"]
    print(f"memories: {count:,} in one project (DevMem + LoCoMo dev turns, cycled); built in {built:.1f}s")
    print(
        f"initialize answered after start: median {init['median_ms']} ms, p90 {init['p90_ms']} ms, "
        f"max {init['max_ms']} ms over {init['n']} starts (target 1000 ms; bare python start "
        f"{figures['bare_python_start']['median_ms']} ms)"
    )
    print(
        f"search_memory round trip: median {search['median_ms']} ms, p90 {search['p90_ms']} ms, "
        f"max {search['max_ms']} ms over {search['n']} questions (target 50 ms); "
        f"{empty} without results, {errors} errors"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
