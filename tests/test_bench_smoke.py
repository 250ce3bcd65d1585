"""``bench/hooks.py --quick`` runs end to end and prints the table docs/performance.md shows (seconds, not minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "hooks.py"


def run_bench(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--workdir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_quick_bench_prints_the_markdown_table(tmp_path: Path) -> None:
    proc = run_bench(tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "| case | median ms | p90 ms | bare ms | ratio | target | CPU ratio | max RSS MB |" in out
    assert "Machine: " in out and " cores" in out and "Python" in out
    assert "`-S`" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "ms |" not in line]
    for case in (
        "UserPromptSubmit, local store, real text, 0 memories",
        "UserPromptSubmit, local store, real text, 300 memories",
        "SessionStart, local store, synthetic, 300 memories",
        "Stop, 0.25 MB transcript",
        "without -S",
    ):
        assert any(case in row for row in rows), (case, out)
    # a hook that fails open would look fast: the bench flags it, and the quick run must be clean
    assert "⚠" not in out, out
    assert list(tmp_path.iterdir()) == []  # the work directory is removed


def test_quick_bench_json(tmp_path: Path) -> None:
    proc = run_bench("--json", "--only", "stop", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["machine"]["cores"] >= 1 and report["machine"]["python"]
    (stop,) = report["results"]
    assert stop["event"] == "Stop" and stop["rounds"] == 3
    assert stop["median_ms"] > 0 and stop["bare_median_ms"] > 0 and stop["ratio"] > 0
    assert 0 < stop["max_rss_mb"] < 200
    assert stop["problems"] == []


def test_import_bench_runs_the_floor_and_the_import(tmp_path: Path) -> None:
    """``bench/import.py`` on a small corpus: the figures are there, the rerun adds nothing, nothing is left."""
    bench = BENCH.parent / "import.py"
    devmem = BENCH.parents[2] / "shared" / "data" / "devmem" / "devmem-dev.json"
    if not devmem.exists():
        import pytest

        pytest.skip(f"the DevMem dev set is not beside the checkout ({devmem})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MEM0_"))}
    proc = subprocess.run(
        [sys.executable, str(bench), "--mb", "8", "--hook-rounds", "3", "--workdir", str(tmp_path), "--json"]
        + ["--data", str(devmem)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["searchable"] and report["rerun_stored"] == 0
    assert report["turns_stored"] > 1000 and 7 < report["corpus_mb"] < 12  # (tool output has a floor per call)
    assert report["import_seconds"] > 0 and report["floor_seconds"] > 0 and report["ratio"] > 0
    assert report["hook_ms_idle"]["runs"] == 3 and report["hook_ms_during_import"]["runs"] >= 1
    assert list(tmp_path.iterdir()) == []


def test_quick_mcp_bench(tmp_path: Path) -> None:
    """``bench/mcp.py --quick`` starts the server, times initialize and searches a store of real text."""
    bench = BENCH.parent / "mcp.py"
    spec = subprocess.run(
        [sys.executable, "-c", f"import runpy; m = runpy.run_path({str(bench)!r}); print(m['DEVMEM'], m['LOCOMO'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    if not all(Path(p).exists() for p in spec.stdout.split()):
        import pytest

        pytest.skip(f"the DevMem / LoCoMo dev sets are not beside the checkout ({spec.stdout.strip()})")
    proc = subprocess.run(
        [sys.executable, str(bench), "--quick", "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert figures["memories"] == 1000 and figures["errors"] == 0
    assert figures["initialize"]["n"] == 3 and figures["initialize"]["median_ms"] > 0
    assert figures["search_memory"]["n"] == 50 and figures["questions_without_results"] < 50


def test_quick_embed_bench(tmp_path: Path) -> None:
    """``bench/embed.py`` runs the flusher and a reindex on real turns and prints their rates."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MEM0_"))}
    proc = subprocess.run(
        [sys.executable, str(BENCH.parent / "embed.py"), "--flush", "200", "--reindex", "500", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["flusher"]["turns"] >= 190 and report["flusher"]["turns_per_second"] > 0
    assert report["reindex"]["turns"] == 500 and report["reindex"]["turns_per_second"] > 0
    assert 0 < report["model_and_one_project"]["peak_rss_mb"] < 400


def test_quick_viewer_bench(tmp_path: Path) -> None:
    """``bench/viewer.py --quick``: the viewer's pages over HTTP, the hook beside it, the record's cost."""
    data = BENCH.parents[1].parent / "shared" / "data"
    if not (data / "devmem" / "devmem-dev.json").exists():
        import pytest

        pytest.skip(f"the DevMem / LoCoMo dev sets are not beside the checkout ({data})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [sys.executable, str(BENCH.parent / "viewer.py"), "--quick", "--json", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    pages = {(p["store"], p["page"].split(":")[0]) for p in figures["pages"]}
    assert ("8 projects", "search") in pages and ("one project", "memories page 1") in pages
    assert all(p["median_ms"] > 0 for p in figures["pages"])
    assert {h["state"] for h in figures["hooks"]} == {
        "no viewer",
        "viewer idle",
        "viewer serving a page every 100 ms",
    }
    assert 0 < figures["record"]["cpu_mean_us"] < 100_000
    assert list(tmp_path.iterdir()) == []  # the work directory is removed
