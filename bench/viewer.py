#!/usr/bin/env python3
"""How fast the viewer's pages answer at 100,000 memories, whether it slows the hooks, and what the
record of injections costs a prompt.

1. Pages. A local store of real text (the turns of both development sets, devmem and LoCoMo, cycled
   to size, with vectors: ``bench/hooks.py``'s ``generate_real_stores``) in 8 projects, plus a second
   store where one project holds every memory (the worst case for a project's pages); a full record
   of injections (4,000 records of 30 memories each, real ids); 50 queued and 20 dead-lettered items.
   ``mem0-hooks ui`` runs as a person starts it, and each page is asked for over HTTP (keep-alive,
   the cookie set), after two warm-up requests: first, middle and last pages of a project's sessions
   and memories, a session, search with real questions (``recall.search``, semantic on), the record
   (first and a far page, and one session's), the queue. Target: every page within 200 ms.
2. The hooks beside the viewer. The real UserPromptSubmit executable (as Claude Code runs it, served
   by the warm process) in blocks: without the viewer, with the viewer running idle, and with the
   viewer serving a page every 100 ms (a person clicking around); each hook run interleaved with a bare
   ``python -c pass`` start, as ``bench/hooks.py`` does. The viewer is another process that only
   reads the store (WAL): it should add nothing.
3. The record. ``injections.record`` for a block of 30 memories, timed in a loop (file rotation
   included), next to the hook's median. ``bench/hooks.py`` measures the same as an A/B in the same
   rounds ("record off" rows): that is the figure for the 0.05x target.

    python bench/viewer.py                  # the full run (about 4 minutes)
    python bench/viewer.py --quick          # a smoke run: 3,000 memories, a few requests
    python bench/viewer.py --json

Run it with the interpreter mem0-hooks is installed in (``.venv/bin/python bench/viewer.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import hooks as hook_bench  # noqa: E402 - bench/hooks.py: the store generator and the hook launcher

PAGE_TARGET_MS = 200.0
FULL = {"size": 100_000, "requests": 20, "hook_rounds": 12, "blocks": 3, "records": 4000, "record_calls": 8000}
QUICK = {"size": 3_000, "requests": 4, "hook_rounds": 3, "blocks": 1, "records": 300, "record_calls": 200}
ALONE = "one project"


def _config_yaml() -> str:
    return (
        "backend: local\nuser_id: bench\nmemory:\n  auto_store: true\n  search_on_query: true\n"
        "privacy:\n  require_consent: true\n  consent_given: true\n"
    )


class ViewerBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="mem0-hooks-viewer-bench-", dir=args.workdir))
        self.python = sys.executable
        self.results: dict[str, Any] = {"pages": [], "hooks": [], "record": {}, "notes": []}
        self.records_kept: dict[Path, int] = {}

    def log(self, message: str) -> None:
        if not self.args.json or self.args.verbose:
            print(f"[bench] {message}", file=sys.stderr, flush=True)

    def env(self, home: Path, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_", "XDG_"))}
        env.update(MEM0_HOOKS_HOME=str(home), HOME=str(self.root / "home"), CI="true", **more)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env

    # -- set-up ----------------------------------------------------------------------------------------
    def make_stores(self) -> tuple[dict[str, Path], dict[str, str]]:
        """{"8 projects": store, "one project": store}, and the project roots."""
        roots = {}
        for name in hook_bench.PROJECTS:
            path = self.root / "projects" / name
            (path / ".git").mkdir(parents=True)
            roots[name] = str(path)
        stores = {}
        size = self.args.size
        for label, project_roots in (("8 projects", roots), (ALONE, {"payments-api": roots["payments-api"]})):
            out = self.root / "stores" / label.replace(" ", "-")
            out.mkdir(parents=True)
            started = time.perf_counter()
            spec = {
                "kind": "real-stores",
                "work_db": str(out / "work.sqlite3"),
                "sizes": [size],
                "out": str(out / "%d.sqlite3"),
                "project_roots": project_roots,
                "first_project": "payments-api",  # the project measured (and whose questions are searched)
                "data_dir": self.args.data,
            }
            gen_home = self.root / "gen"
            gen_home.mkdir(exist_ok=True)
            subprocess.run(
                [self.python, str(REPO_ROOT / "bench" / "hooks.py"), "_generate", json.dumps(spec)],
                check=True,
                env=self.env(gen_home),
            )
            (out / "work.sqlite3").unlink()
            stores[label] = out / f"{size}.sqlite3"
            self.log(f"stored {size:,} real turns ({label}) in {time.perf_counter() - started:.0f}s")
        return stores, roots

    def make_home(self, name: str, store: Path) -> Path:
        home = self.root / name
        home.mkdir(mode=0o700)
        (home / "config.yaml").write_text(_config_yaml())
        shutil.copyfile(store, home / "memories.sqlite3")
        os.chmod(home / "memories.sqlite3", 0o600)
        return home

    def fill_record_and_queue(self, home: Path) -> None:
        """A full record of injections (real ids) and a queue with pending and dead items, written by
        the package itself in a subprocess on ``home``."""
        code = f"""
import random, sqlite3, time
from mem0_hooks import injections, queue, capture, config
from mem0_hooks.backends.base import Memory
rng = random.Random(3)
db = sqlite3.connect({str(home / "memories.sqlite3")!r})
rows = db.execute("SELECT id, text, project, session_id FROM memories ORDER BY random() LIMIT 20000").fetchall()
now = time.time() - {self.args.records} * 60
for n in range({self.args.records}):
    picked = rng.sample(rows, 30)
    shown = [Memory(id=r[0], text=r[1], score=rng.uniform(0.5, 12)) for r in picked]
    shown.sort(key=lambda m: -m.score)
    injections.append({{"at": now + n * 60, "event": "UserPromptSubmit", "session": picked[0][3],
        "project": picked[0][2], "prompt": " ".join(picked[1][1].split()[:16]), "chars": 5800,
        "memories": [[m.id, len(m.text), round(m.score, 4)] for m in shown]}})
cfg = config.load()
items = [capture.make_item(text=r[1], role="user", session_id="q", project=r[2], seq=i, config=cfg)
         for i, r in enumerate(rows[:70])]
queue.enqueue([i for i in items if i][:70], sync=False)
for name in queue.names()[:20]:
    queue.dead_letter(name, queue.read(name), "HTTP 400 from the store: bench dead letter")
print(len(injections.read()))
"""
        out = subprocess.run([self.python, "-c", code], check=True, capture_output=True, text=True, env=self.env(home))
        self.records_kept[home] = int(out.stdout.strip())  # what the two files hold of those written
        self.log(f"record of {self.records_kept[home]} injections kept, 50 pending and 20 dead-lettered items")

    # -- the viewer ------------------------------------------------------------------------------------
    def start_viewer(self, home: Path) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [self.python, "-c", "from mem0_hooks.cli.main import main; raise SystemExit(main())", "ui", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env(home),
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("mem0-hooks viewer: "):
            proc.kill()
            raise SystemExit(f"the viewer did not start: {line!r}")
        return proc, line.split()[-1]

    @staticmethod
    def stop_viewer(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

    def page_cases(self, home: Path, roots: dict[str, str], label: str) -> list[tuple[str, str]]:
        """(what, path) for each page measured, from the store itself."""
        import sqlite3
        from urllib.parse import urlencode

        db = sqlite3.connect(home / "memories.sqlite3")
        project = roots["payments-api"]
        memories = db.execute("SELECT count(*) FROM memories WHERE project = ?", (project,)).fetchone()[0]
        sessions = db.execute(
            "SELECT count(DISTINCT session_id) FROM memories WHERE project = ?", (project,)
        ).fetchone()[0]
        session = db.execute(
            "SELECT session_id FROM memories WHERE project = ? ORDER BY created_at DESC LIMIT 1", (project,)
        ).fetchone()[0]
        db.close()
        from mem0_hooks.viewer.app import PAGE_SIZE, RECORDS_PAGE, SESSIONS_PAGE

        last_sessions = max((sessions + SESSIONS_PAGE - 1) // SESSIONS_PAGE, 1)
        last_memories = max((memories + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        mid_sessions, mid_memories = max(last_sessions // 2, 1), max(last_memories // 2, 1)
        cases = [
            ("projects", "/"),
            ("project, sessions page 1", "/project?" + urlencode({"path": project})),
            (
                f"project, sessions page {mid_sessions}",
                "/project?" + urlencode({"path": project, "page": mid_sessions}),
            ),
            (
                f"project, sessions page {last_sessions} (last)",
                "/project?" + urlencode({"path": project, "page": last_sessions}),
            ),
            ("a session", "/session?" + urlencode({"id": session})),
            ("memories page 1", "/memories?" + urlencode({"project": project})),
            (f"memories page {mid_memories}", "/memories?" + urlencode({"project": project, "page": mid_memories})),
            (
                f"memories page {last_memories} (last)",
                "/memories?" + urlencode({"project": project, "page": last_memories}),
            ),
        ]
        if label != ALONE:
            prompts = hook_bench.real_prompts(self.args.data, "payments-api", sorted(roots), 5)
            cases += [(f"search: {q[:40]}", "/search?" + urlencode({"q": q, "project": project})) for q in prompts]
            last_records = max((self.records_kept[home] + RECORDS_PAGE - 1) // RECORDS_PAGE, 1)
            cases += [
                ("injections page 1", "/injections"),
                (f"injections page {last_records} (last)", f"/injections?page={last_records}"),
                ("injections of one session", "/injections?" + urlencode({"session": session})),
                ("queue (50 pending, 20 dead)", "/queue"),
            ]
        return cases

    def measure_pages(self, label: str, home: Path, roots: dict[str, str]) -> None:
        import httpx

        proc, address = self.start_viewer(home)
        try:
            origin = address.split("/?")[0]
            with httpx.Client(timeout=60) as web:
                first = web.get(address, follow_redirects=True)
                assert first.status_code == 200, first.text[:300]
                cases = self.page_cases(home, roots, label)
                search = next((path for what, path in cases if what.startswith("search")), None)
                if search is not None:
                    started = time.perf_counter()
                    web.get(origin + search)
                    self.results["notes"].append(
                        f"the first search loads the embedding model into the viewer: "
                        f"{(time.perf_counter() - started) * 1000:.0f} ms, once per run"
                    )
                for what, path in cases:
                    times = []
                    size = 0
                    for n in range(2 + self.args.requests):
                        started = time.perf_counter()
                        answer = web.get(origin + path)
                        elapsed = (time.perf_counter() - started) * 1000
                        if (
                            answer.status_code != 200
                            or "Something went wrong" in answer.text
                            or 'class="banner bad"' in answer.text
                        ):
                            raise SystemExit(f"{what}: {answer.status_code} {answer.text[:500]}")
                        if n >= 2:
                            times.append(elapsed)
                        size = len(answer.content)
                    result = {
                        "store": label,
                        "page": what,
                        "median_ms": round(statistics.median(times), 1),
                        "p95_ms": round(hook_bench.percentile(times, 95), 1),
                        "max_ms": round(max(times), 1),
                        "kb": round(size / 1024, 1),
                    }
                    result["meets_target"] = result["max_ms"] <= PAGE_TARGET_MS
                    self.results["pages"].append(result)
                    self.log(
                        f"  {label}, {what}: {result['median_ms']} ms (p95 {result['p95_ms']}, max {result['max_ms']})"
                    )
        finally:
            self.stop_viewer(proc)

    # -- the hooks beside the viewer -------------------------------------------------------------------
    def measure_hooks(self, home: Path, roots: dict[str, str]) -> None:
        launcher = hook_bench.Launcher(self.python, self.root)
        project = roots["payments-api"]
        prompts = hook_bench.real_prompts(self.args.data, "payments-api", sorted(roots), 256)
        env = self.env(home, CLAUDE_PROJECT_DIR=project)
        env.pop("CI", None)
        hook = f"{hook_bench.q(self.python)} -S {hook_bench.q(REPO_ROOT / 'hooks' / 'user_prompt_submit.py')}"
        bare = f"{hook_bench.q(self.python)} -c pass"
        samples: dict[str, dict[str, list[float]]] = {}
        counter = [0]

        def run_round(state: str) -> None:
            counter[0] += 1
            payload = {
                "session_id": f"bench-viewer-{counter[0] // 4}",  # a few prompts per session, as in use
                "transcript_path": str(home / "t.jsonl"),
                "cwd": project,
                "hook_event_name": "UserPromptSubmit",
                "prompt": prompts[counter[0] % len(prompts)],
            }
            stdin = json.dumps(payload).encode()
            got = samples.setdefault(state, {"ms": [], "cpu_ms": [], "bare_ms": [], "bare_cpu_ms": []})
            order = [("hook", hook), ("bare", bare)] if counter[0] % 2 else [("bare", bare), ("hook", hook)]
            for name, command in order:
                warm = hook_bench.warm_cpu_seconds(home)
                sample = launcher.run(command, stdin, env, project)
                cpu = sample.cpu_seconds + max((hook_bench.warm_cpu_seconds(home) or 0) - (warm or 0), 0.0)
                key = "" if name == "hook" else "bare_"
                got[key + "ms"].append(sample.seconds * 1000)
                got[key + "cpu_ms"].append(cpu * 1000)
            hook_bench.Bench.clear_queue(home)

        for _ in range(3):  # warm-up: start the warm process, load the model
            run_round("warm-up")
        samples.pop("warm-up", None)
        for _ in range(self.args.blocks):
            for state in ("no viewer", "viewer idle", "viewer serving a page every 100 ms"):
                proc = clicker = None
                stop = threading.Event()
                if state != "no viewer":
                    proc, address = self.start_viewer(home)
                    if "serving" in state:
                        clicker = threading.Thread(target=self._click_around, args=(address, roots, stop), daemon=True)
                        clicker.start()
                    time.sleep(0.5)
                try:
                    for _ in range(self.args.hook_rounds):
                        run_round(state)
                finally:
                    stop.set()
                    if clicker is not None:
                        clicker.join(10)
                    if proc is not None:
                        self.stop_viewer(proc)
        launcher.close()
        hook_bench.stop_warm(home)
        for state, got in samples.items():
            result = {
                "state": state,
                "rounds": len(got["ms"]),
                "median_ms": round(statistics.median(got["ms"]), 2),
                "cpu_median_ms": round(statistics.median(got["cpu_ms"]), 2),
                "bare_median_ms": round(statistics.median(got["bare_ms"]), 2),
                "ratio": round(statistics.median(got["ms"]) / statistics.median(got["bare_ms"]), 3),
                "cpu_ratio": round(statistics.median(got["cpu_ms"]) / statistics.median(got["bare_cpu_ms"]), 3),
            }
            self.results["hooks"].append(result)
            self.log(
                f"  UserPromptSubmit, {state}: {result['median_ms']} ms x{result['ratio']}, cpu x{result['cpu_ratio']}"
            )

    def _click_around(self, address: str, roots: dict[str, str], stop: threading.Event) -> None:
        from urllib.parse import urlencode

        import httpx

        origin = address.split("/?")[0]
        paths = [
            "/",
            "/project?" + urlencode({"path": roots["payments-api"]}),
            "/injections",
            "/queue",
            "/memories?" + urlencode({"project": roots["payments-api"], "page": 3}),
        ]
        with httpx.Client(timeout=30) as web:
            web.get(address, follow_redirects=True)
            n = 0
            while not stop.wait(0.1):
                web.get(origin + paths[n % len(paths)])
                n += 1

    # -- the record ------------------------------------------------------------------------------------
    def measure_record(self, home: Path) -> None:
        code = f"""
import json, random, sqlite3, statistics, time
from mem0_hooks import injections
from mem0_hooks.backends.base import Memory
db = sqlite3.connect({str(home / "memories.sqlite3")!r})
rows = db.execute("SELECT id, text FROM memories LIMIT 3000").fetchall()
rng = random.Random(5)
wall, cpu = [], []
for n in range({self.args.record_calls}):
    shown = [Memory(id=r[0], text=r[1], score=rng.uniform(0.5, 12)) for r in rng.sample(rows, 30)]
    c0, w0 = time.thread_time(), time.perf_counter()
    injections.record("UserPromptSubmit", session_id="s-%d" % (n // 5), project="/p/payments-api", shown=shown,
                      block_chars=5800, prompt="how do the stripe webhook retries use the idempotency key we agreed")
    wall.append(time.perf_counter() - w0)
    cpu.append(time.thread_time() - c0)
import os
lines = open(injections.path(), "rb").read().count(b"\\n")
print(json.dumps({{"cpu_median_us": statistics.median(cpu) * 1e6, "cpu_mean_us": statistics.mean(cpu) * 1e6,
    "cpu_max_us": max(cpu) * 1e6, "wall_median_us": statistics.median(wall) * 1e6,
    "wall_p99_us": sorted(wall)[int(len(wall) * .99)] * 1e6,
    "bytes": os.path.getsize(injections.path()) / max(1, lines)}}))
"""
        record_home = self.root / "record"
        record_home.mkdir(mode=0o700)
        out = subprocess.run(
            [self.python, "-c", code], check=True, capture_output=True, text=True, env=self.env(record_home)
        )
        figures = json.loads(out.stdout)
        hook = next((h for h in self.results["hooks"] if h["state"] == "no viewer"), None)
        figures = {k: round(v, 1) for k, v in figures.items()}
        if hook:
            figures["share_of_hook_cpu"] = round(figures["cpu_mean_us"] / 1000 / hook["cpu_median_ms"], 4)
        self.results["record"] = figures
        self.log(
            f"  injections.record, 30 memories: {figures['cpu_mean_us']} us CPU (mean), {figures['bytes']:.0f} bytes"
        )

    # -- the run ---------------------------------------------------------------------------------------
    def run(self) -> None:
        data = Path(self.args.data)
        if not (data / "devmem" / "devmem-dev.json").is_file():
            raise SystemExit(f"no development sets under {data} (--data DIR)")
        self.log(f"work dir {self.root}")
        stores, roots = self.make_stores()
        homes = {}
        for label, store in stores.items():
            home = self.make_home(label.replace(" ", "-"), store)
            self.fill_record_and_queue(home)
            homes[label] = home
        for label, home in homes.items():
            self.log(f"pages, {self.args.size:,} memories, {label}:")
            self.measure_pages(label, home, roots)
        self.log("UserPromptSubmit beside the viewer:")
        self.measure_hooks(homes["8 projects"], roots)
        self.measure_record(homes["8 projects"])

    def markdown(self) -> str:
        cpu = ""
        try:
            cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        lines = [
            f"### The viewer at {self.args.size:,} memories",
            "",
            f"Machine: {cpu}, {os.cpu_count()} cores; Python {sys.version.split()[0]}. Real text (devmem + LoCoMo dev "
            f"turns cycled, with vectors); {self.args.requests} requests per page after 2 warm-up ones, over HTTP "
            "to `mem0-hooks ui` (keep-alive); the project measured is `payments-api`.",
            "",
            "| store | page | median ms | p95 ms | max ms | KB |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in self.results["pages"]:
            mark = "" if r["meets_target"] else " ✗"
            lines.append(
                f"| {r['store']} | {r['page']} | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']}{mark} | {r['kb']} |"
            )
        worst = max((r["max_ms"] for r in self.results["pages"]), default=0.0)
        lines += ["", f"Slowest answer of any page: {worst} ms (target: {PAGE_TARGET_MS:.0f} ms).", ""]
        lines += [
            "| UserPromptSubmit (real hook, warm process) | rounds | median ms | bare ms | ratio | CPU ms "
            "| CPU ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for h in self.results["hooks"]:
            lines.append(
                f"| {h['state']} | {h['rounds']} | {h['median_ms']} | {h['bare_median_ms']} | {h['ratio']}x "
                f"| {h['cpu_median_ms']} | {h['cpu_ratio']}x |"
            )
        rec = self.results["record"]
        if rec:
            share = (
                f" The mean CPU time is {rec['share_of_hook_cpu']:.2%} of the hook's median CPU time (no viewer)."
                if "share_of_hook_cpu" in rec
                else ""
            )
            lines += [
                "",
                f"Writing one record (30 memories, {rec['bytes']:.0f} bytes a line; {self.args.record_calls:,} "
                f"records, the file rotated as it filled): CPU {rec['cpu_median_us']} µs median, "
                f"{rec['cpu_mean_us']} µs mean, "
                f"{rec['cpu_max_us']} µs at most; wall {rec['wall_median_us']} µs median, p99 {rec['wall_p99_us']} µs "
                f"(the wall time's tail is the machine's other work).{share}",
            ]
        for note in self.results["notes"]:
            lines.append(f"- note: {note}")
        return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a small store, a few requests")
    parser.add_argument("--size", type=int, help="memories in the store (default 100,000)")
    parser.add_argument("--requests", type=int, help="timed requests per page (default 20)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--data",
        default=str(REPO_ROOT.parent / "shared" / "data"),
        help="folder with devmem/devmem-dev.json and locomo/locomo10-dev.json (default: %(default)s)",
    )
    parser.add_argument("--workdir", help="where to make the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = ViewerBench(args)
    try:
        bench.run()
    finally:
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    print(json.dumps(bench.results, indent=2) if args.json else bench.markdown())
    slow = [r for r in bench.results["pages"] if not r["meets_target"]]
    return 1 if slow and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
