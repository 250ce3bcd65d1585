#!/usr/bin/env python3
"""What recall by meaning costs off the hot path: the flusher's rate (turns stored and embedded a
second), a whole store reindexed, and the memory of the processes that hold the model.

Real text: the turns of both development sets (``shared/data/devmem`` and ``shared/data/locomo``),
cycled to size, each cycle with new sessions.

    python bench/embed.py                      # 5,000 turns through the flusher; 100,000 reindexed
    python bench/embed.py --flush 2000 --reindex 20000 --json

1. Flusher: the turns are queued as the hooks queue them (``capture.make_item``, ``queue.enqueue``),
   then one flusher process (``python -m mem0_hooks.flush``, as the hooks start it) drains the queue
   into the local store and embeds what it stored; timed until it exits with every turn stored and
   embedded.
2. Reindex: a store of that many turns without vectors, then ``mem0-hooks reindex`` (the command a
   user runs), timed, with its progress line shown.
3. Memory: peak RSS of each of those processes, and of a process that has loaded the model (as the
   warm process does) and searched a project of the reindexed store.

Everything happens in a temporary data dir; nothing touches $HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

import hooks as hook_bench  # noqa: E402  (the real-text helpers: real_samples, real_sessions)


def real_turns(data: str, count: int) -> list[tuple[str, str, str, int]]:
    """(session, role, text, seq) of ``count`` real turns, cycled."""
    sessions = [s for sample in hook_bench.real_samples(data) for s in hook_bench.real_sessions(sample)]
    out: list[tuple[str, str, str, int]] = []
    cycle = 0
    while len(out) < count:
        for number, turns in enumerate(sessions):
            session = f"bench-{cycle}-{number}"
            for seq, (role, text) in enumerate(turns, start=1):
                out.append((session, role, text, seq))
                if len(out) >= count:
                    return out
        cycle += 1
    return out


def run_child(argv: list[str], env: dict[str, str], show: bool = False) -> tuple[float, float, str]:
    """(seconds, peak RSS MB of that process, stdout) of one child process (``wait4``: its own rusage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=None if show else subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} failed: {out}")
    return seconds, round(usage.ru_maxrss / 1024, 1), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flush", type=int, default=5000, help="turns through the flusher (default 5,000)")
    parser.add_argument("--reindex", type=int, default=100_000, help="turns reindexed (default 100,000)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the development sets")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="mem0-embed-bench-"))
    result: dict[str, Any] = {}
    try:
        home = root / "data"
        home.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEM0_")}
        env.update(MEM0_HOOKS_HOME=str(home), PYTHONPATH=str(REPO))
        os.environ.update(MEM0_HOOKS_HOME=str(home))
        from mem0_hooks import capture, queue
        from mem0_hooks.backends.base import MemoryItem
        from mem0_hooks.backends.local import LocalStore
        from mem0_hooks.config import default_yaml

        (home / "config.yaml").write_text(default_yaml(consent=True))
        config = json.loads(
            subprocess.run(
                [sys.executable, "-m", "mem0_hooks.cli.main", "config", "show", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        # the model's derived table is made once at install: do it now, outside the timings
        subprocess.run(
            [sys.executable, "-c", "from mem0_hooks import embedding; embedding.load()"], env=env, check=True
        )

        # 1. the flusher
        items = []
        for session, role, text, seq in real_turns(args.data, args.flush):
            item = capture.make_item(
                text=text, role=role, session_id=session, project="/bench/project", seq=seq, config=config
            )
            if item is not None:
                items.append(item)
        queue.enqueue(items, max_items=len(items) + 10, sync=False)
        seconds, rss, _ = run_child([sys.executable, "-m", "mem0_hooks.flush"], env)
        store = LocalStore(str(home / "memories.sqlite3"))
        stored, missing = store.count(), store.missing_vectors()
        store.close()
        if queue.depth() or missing:
            raise SystemExit(f"error: the flusher left {queue.depth()} queued and {missing} without vectors")
        result["flusher"] = {
            "turns": stored,
            "seconds": round(seconds, 2),
            "turns_per_second": round(stored / seconds),
            "peak_rss_mb": rss,
        }

        # 2. reindex a store of real turns without vectors
        shutil.rmtree(home / "queue", ignore_errors=True)
        (home / "memories.sqlite3").unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(home / "memories.sqlite3") + suffix).unlink(missing_ok=True)
        store = LocalStore(str(home / "memories.sqlite3"))
        batch = []
        projects = [f"/bench/project-{n}" for n in range(8)]
        for n, (session, role, text, seq) in enumerate(real_turns(args.data, args.reindex)):
            batch.append(
                MemoryItem(
                    id=f"r{n}",
                    text=text,
                    role=role,
                    created_at="2026-01-01T00:00:00Z",
                    session_id=session,
                    project=projects[hash(session) % len(projects)],
                    seq=seq,
                )
            )
            if len(batch) >= 5000:
                store.add(batch)
                batch = []
        store.add(batch)
        store.tidy()
        store.close()
        print(f"reindexing {args.reindex:,} turns:", file=sys.stderr)
        seconds, rss, out = run_child([sys.executable, "-m", "mem0_hooks.cli.main", "reindex"], env, show=True)
        print(f"  {out.strip()}", file=sys.stderr)
        result["reindex"] = {
            "turns": args.reindex,
            "seconds": round(seconds, 1),
            "turns_per_second": round(args.reindex / seconds),
            "peak_rss_mb": rss,
        }

        # 3. a process holding the model and one project's vectors, as the warm process does
        code = (
            "import resource, sys; from mem0_hooks import embedding; from mem0_hooks.backends.local import LocalStore\n"
            "embedding.load(); s = LocalStore()\n"
            f"s.search_turns('which port does the staging database use', project={projects[0]!r}, "
            "semantic_weight=1.0)\n"
            "print(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))"
        )
        _, _, out = run_child([sys.executable, "-c", code], env)
        result["model_and_one_project"] = {"memories": args.reindex, "peak_rss_mb": float(out.strip())}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        f, r, m = result["flusher"], result["reindex"], result["model_and_one_project"]
        print(
            f"flusher: {f['turns']:,} real turns stored and embedded in {f['seconds']} s "
            f"({f['turns_per_second']:,}/s; peak RSS {f['peak_rss_mb']} MB)"
        )
        print(
            f"reindex: {r['turns']:,} turns in {r['seconds']} s ({r['turns_per_second']:,}/s; "
            f"peak RSS {r['peak_rss_mb']} MB)"
        )
        print(
            f"a process with the model and one project of a {m['memories']:,}-memory store searched: "
            f"peak RSS {m['peak_rss_mb']} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
