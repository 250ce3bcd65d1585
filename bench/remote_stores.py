"""Remote stores for ``bench/recall.py``: run the same benchmark through a real mem0 REST server or a
real OpenMemory instead of the embedded store, and put the figures side by side.

What a remote run changes, and nothing else (ingestion, questions and scoring stay those of recall.py):

* The data dir's hooks are pointed at the store through the environment (``MEM0_HOOKS_BACKEND``,
  ``MEM0_HOOKS_MEM0_BASE_URL``, ``MEM0_API_KEY``...), with ``mem0.infer`` off, so that each turn is
  stored whole, as the local store keeps it, and an evidence turn can be matched by its text.
* Every run has a user id of its own (``<user>-<run id>``): runs never see each other's memories, nor a
  person's real ones, and what a run stored is deleted at the end (``--keep`` keeps it).
* Every remote store is hybrid (the local index beside it, ``mem0.local_index``), and the config is the
  default one: a question the store fails to answer in time gets the local half
  (``claude_code.fallback_mode: local``; ``--config claude_code.fallback_mode=skip`` gets nothing
  instead). The breaker's cooldown is 0, so one failed search costs that question only, not the
  questions of the next minute. Failures are counted from the data dir's log (one line each).
* ``--other-machine`` asks from a second data dir with no local index (another machine): recall is then
  what only the remote store has, ranked, cut and packed by the hooks.
* What the store holds is read back from it (per session: the server lists at most 1,000 memories per
  call, so one listing per ``run_id``; OpenMemory pages its REST listing), in each turn's ``seq`` order,
  as recall.py reads the local store.

Stdlib only (``urllib``), like recall.py: the bench must not depend on the tree it measures.

    python bench/recall.py --backend local,server,openmemory         # the three side by side
    python bench/recall.py --backend server --server-url http://127.0.0.1:8888 --server-key KEY
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

BACKENDS = ("local", "server", "openmemory")
DEFAULTS = {
    "server": {"url": "http://127.0.0.1:8888", "key": "peer-admin-key-0123456789"},
    "openmemory": {"url": "http://127.0.0.1:8765", "key": ""},
}
DEFAULT_USER = "recall-bench"
APP = "claude-code"  # the hooks' default mem0.app: OpenMemory files the run's memories under it
HTTP_TIMEOUT = 120.0


class StoreError(RuntimeError):
    """The remote store is unreachable or answered something the bench cannot use."""


def add_arguments(parser: Any) -> None:
    """The ``--backend`` option and the url/key/user options of each remote store."""
    parser.add_argument(
        "--backend",
        default="local",
        help="store(s) to measure, comma-separated, side by side: " + ", ".join(BACKENDS) + " (default: local)",
    )
    for name, default in DEFAULTS.items():
        parser.add_argument(f"--{name}-url", default=default["url"], help=f"{name} URL (default: %(default)s)")
        parser.add_argument(
            f"--{name}-key", default=default["key"], help=f"{name} API key (default: the peers script's)"
        )
    parser.add_argument(
        "--remote-user",
        default=DEFAULT_USER,
        help="prefix of the user id a remote run stores under; a run id is appended (default: %(default)s)",
    )


def backends_of(args: Any) -> list[str]:
    chosen = [b.strip() for b in str(args.backend).split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown or not chosen:
        raise SystemExit(f"error: --backend {args.backend!r}: expected a comma-separated list of {', '.join(BACKENDS)}")
    return list(dict.fromkeys(chosen))


def open_store(backend: str, args: Any, user: str | None = None) -> RemoteStore | None:
    """The remote store for ``backend`` (None for the local store), under a new user id unless ``user``
    (a kept run's, for ``--reuse``)."""
    if backend == "local":
        return None
    url = getattr(args, f"{backend}_url").rstrip("/")
    key = getattr(args, f"{backend}_key")
    user = user or f"{args.remote_user}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return (ServerStore if backend == "server" else OpenMemoryStore)(url, key, user)


class RemoteStore:
    """One bench run's share of a remote store: its user id, its config for the hooks, its memories."""

    backend = ""

    def __init__(self, url: str, key: str, user_id: str) -> None:
        self.url, self.key, self.user_id = url, key, user_id

    def hook_env(self) -> dict[str, str]:
        """What the hooks' environment needs to capture into and recall from this store."""
        env = {
            "MEM0_HOOKS_BACKEND": self.backend,
            "MEM0_HOOKS_USER_ID": self.user_id,
            "MEM0_HOOKS_MEM0_BASE_URL": self.url,
            "MEM0_HOOKS_MEM0_INFER": "false",
            "MEM0_HOOKS_MEM0_BREAKER_COOLDOWN_SECONDS": "0",
        }
        if self.key:
            env["MEM0_API_KEY"] = self.key
        return env

    # -- HTTP ------------------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return {}

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json, text/event-stream", **self.headers()}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:
                raw = reply.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise StoreError(f"{self.backend} {method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"{self.backend} at {self.url} is unreachable ({exc}); is it running?") from None
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise StoreError(f"{self.backend} {method} {path}: not JSON: {raw[:200]!r}") from None

    # -- the run's lifecycle -----------------------------------------------------------------------
    def prepare(self) -> None:
        """Check the store answers (and create the run's user where the store needs that)."""

    def stored(self, session_ids: list[str]) -> dict[str, list[str]]:
        """{session_id: texts in capture (seq) order} as the store holds them, for these sessions."""
        raise NotImplementedError

    def cleanup(self) -> int:
        """Delete what this run stored; returns how many memories were deleted (when known)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.backend} at {self.url}, user {self.user_id}"


def _ordered(rows: list[tuple[str, int, str]]) -> dict[str, list[str]]:
    """[(session, seq, text)] -> {session: texts by seq}."""
    out: dict[str, list[str]] = {}
    for session_id, _seq, text in sorted(rows, key=lambda r: (r[0], r[1])):
        out.setdefault(session_id, []).append(text)
    return out


def _seq(metadata: Any) -> int:
    try:
        return int((metadata or {}).get("seq") or 0)
    except (TypeError, ValueError, AttributeError):
        return 0


class ServerStore(RemoteStore):
    """mem0's self-hosted REST server (``server/main.py``): X-API-Key auth, routes without ``/v1``."""

    backend = "server"

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key} if self.key else {}

    def prepare(self) -> None:
        probe = {"query": "bench probe", "filters": {"user_id": self.user_id}, "top_k": 1}
        answer = self.call("POST", "/search", probe)
        if not isinstance(answer, dict) or "results" not in answer:
            raise StoreError(f"server at {self.url}: POST /search answered {answer!r:.200}")

    def stored(self, session_ids: list[str]) -> dict[str, list[str]]:
        rows = []
        for session_id in session_ids:
            params = {"user_id": self.user_id, "run_id": session_id, "top_k": 1000}
            answer = self.call("GET", "/memories", params=params)
            for m in (answer or {}).get("results") or []:
                rows.append((session_id, _seq(m.get("metadata")), str(m.get("memory") or "")))
        return _ordered(rows)

    def cleanup(self) -> int:
        # One call (admin key): every memory of the run's user.
        self.call("DELETE", "/memories", params={"user_id": self.user_id})
        return -1


class OpenMemoryStore(RemoteStore):
    """OpenMemory's API: REST for capture and listing, MCP (``search_memory``) for recall; no auth."""

    backend = "openmemory"

    def prepare(self) -> None:
        # REST refuses a user OpenMemory does not know; an MCP tool call creates the user (and the app).
        path = f"/mcp/{urllib.parse.quote(APP, safe='')}/http/{urllib.parse.quote(self.user_id, safe='')}"
        rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_memories", "arguments": {}}}
        answer = self.call("POST", path, rpc)
        if not isinstance(answer, dict) or "result" not in answer:
            raise StoreError(f"openmemory at {self.url}: MCP list_memories answered {answer!r:.200}")

    def _all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(1, 10_000):
            answer = self.call("GET", "/api/v1/memories/", params={"user_id": self.user_id, "page": page, "size": 100})
            batch = (answer or {}).get("items") or []
            items.extend(batch)
            if page >= int((answer or {}).get("pages") or 0) or not batch:
                break
        return items

    def stored(self, session_ids: list[str]) -> dict[str, list[str]]:
        wanted = set(session_ids)
        rows = []
        for m in self._all():
            md = m.get("metadata_") or {}
            session_id = str(md.get("run_id") or "")
            if session_id in wanted:
                rows.append((session_id, _seq(md), str(m.get("content") or "")))
        return _ordered(rows)

    def cleanup(self) -> int:
        ids = [str(m["id"]) for m in self._all() if m.get("id")]
        for start in range(0, len(ids), 200):
            self.call("DELETE", "/api/v1/memories/", {"memory_ids": ids[start : start + 200], "user_id": self.user_id})
        return len(ids)


def store_failures(home: Path, since: int = 0) -> dict[str, Any]:
    """Recall failures the hooks logged (timeouts, errors answered by the store) from byte ``since`` on."""
    try:
        with open(home / "mem0-hooks.log", encoding="utf-8", errors="replace") as fh:
            fh.seek(since)
            lines = fh.readlines()
    except FileNotFoundError:
        return {"count": 0, "examples": []}
    bad = [line.strip() for line in lines if " WARNING " in line or " ERROR " in line]
    return {"count": len(bad), "examples": bad[:3]}


def log_size(home: Path) -> int:
    try:
        return (home / "mem0-hooks.log").stat().st_size
    except FileNotFoundError:
        return 0


# -- side by side -----------------------------------------------------------------------------------
ROWS = (
    ("recall (mean over questions)", lambda r: f"{r['recall']:.4f}"),
    ("all evidence recalled", lambda r: f"{r['all_evidence_recalled']:.4f}"),
    ("mean injected characters", lambda r: f"{r['mean_injected_chars']:.0f}"),
    ("max injected characters", lambda r: str(r["max_injected_chars"])),
    ("questions with nothing injected", lambda r: str(r.get("empty_blocks", "?"))),
    ("UserPromptSubmit median ms", lambda r: str(r["ups_hook_ms"]["median"])),
    ("UserPromptSubmit p90 ms", lambda r: str(r["ups_hook_ms"]["p90"])),
    ("ingest + drain seconds", lambda r: str(r["ingest_seconds"])),
    ("questions seconds", lambda r: str(r.get("questions_seconds", "?"))),
    ("turns stored", lambda r: str(r["turns_captured"])),
    ("failures logged by the hooks", lambda r: str((r.get("store_failures") or {}).get("count", 0))),
)


def side_by_side(results: list[dict[str, Any]]) -> str:
    """The figures of each store in one table (Markdown), categories included."""
    names = [r.get("backend", "local") for r in results]
    head = "| | " + " | ".join(names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for label, cell in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    categories = list(dict.fromkeys(c for r in results for c in r["recall_by_category"]))
    for category in categories:
        cells = []
        for r in results:
            row = r["recall_by_category"].get(category)
            cells.append(f"{row['recall']:.4f}" if row else "-")
        lines.append(f"| recall, category {category} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- what the store's own ranking can give ---------------------------------------------------------
RANK_CUTS = (5, 10, 16, 32, 48, 100)


def raw_ranks(data: str, url: str, key: str, limit_conversations: int = 0) -> dict[str, Any]:
    """Where the mem0 server's own semantic search ranks each evidence turn, hooks left out.

    Each conversation's turns are stored straight into the server (one user per conversation, ``infer``
    off, as the hooks store them), and each question is searched with ``top_k`` 100 and ``threshold`` 0.
    The share of evidence turns within the first k results bounds what any client of that search can
    recall from k of its results.
    """
    try:
        from bench import recall
    except ImportError:  # run as a script: bench/ is on the path
        import recall  # type: ignore[no-redef]

    samples = json.loads(Path(data).read_text(encoding="utf-8"))
    if limit_conversations:
        samples = samples[:limit_conversations]
    run = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    ranks: list[tuple[int, int | None]] = []
    started = time.perf_counter()
    for sample in samples:
        store = ServerStore(url, key, f"ranks-{run}-{sample['sample_id']}")
        conv = sample["conversation"]
        texts: dict[str, str] = {}
        try:
            for _number, _start, turns in recall.sessions_of(sample):
                for turn in turns:
                    text = recall.turn_text(turn)
                    ids = recall.evidence_ids(turn.get("dia_id"))
                    if not text or not ids:
                        continue
                    role = "user" if turn.get("speaker") == conv["speaker_a"] else "assistant"
                    message = {"role": role, "content": text}
                    store.call("POST", "/memories", {"messages": [message], "user_id": store.user_id, "infer": False})
                    texts[ids[0]] = recall.normalise(text)
            for qa in sample["qa"]:
                if qa.get("category") not in recall.CATEGORIES:
                    continue
                evidence = [e for raw in qa.get("evidence") or [] for e in recall.evidence_ids(raw) if e in texts]
                if not evidence:
                    continue
                query = {"query": qa["question"], "filters": {"user_id": store.user_id}, "top_k": 100, "threshold": 0.0}
                order = [
                    recall.normalise(str(r.get("memory") or ""))
                    for r in store.call("POST", "/search", query)["results"]
                ]
                for e in evidence:
                    ranks.append((qa["category"], order.index(texts[e]) if texts[e] in order else None))
        finally:
            store.cleanup()
    share = {k: round(sum(1 for _, r in ranks if r is not None and r < k) / max(len(ranks), 1), 4) for k in RANK_CUTS}
    return {
        "data": data,
        "conversations": len(samples),
        "evidence_turns": len(ranks),
        "in_top": share,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Where the real mem0 server ranks the evidence (hooks left out).")
    parser.add_argument("command", choices=["ranks"])
    parser.add_argument("data", help="LoCoMo-format JSON")
    parser.add_argument("--server-url", default=DEFAULTS["server"]["url"])
    parser.add_argument("--server-key", default=DEFAULTS["server"]["key"])
    parser.add_argument("--limit-conversations", type=int, default=0)
    args = parser.parse_args(argv)
    result = raw_ranks(args.data, args.server_url.rstrip("/"), args.server_key, args.limit_conversations)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
