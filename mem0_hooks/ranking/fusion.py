"""Recall from the hybrid store: the local index's ranking fused with a remote store's own search.

With a remote backend (the Mem0 Platform, a mem0 server, OpenMemory) this machine keeps the local index
as well (``mem0.local_index``): every turn captured here, with its neighbours and sessions. A prompt is
searched in both at once:

1. The remote search starts first, in a thread of its own, under ``mem0.recall_timeout_seconds`` and the
   circuit breaker (``start``). The local ranking (``turns.search_turns``) gathers its candidates
   meanwhile, and only then waits for the remote answer.
2. Each remote hit is matched to the local index (``resolve``): a hit that *is* a turn held here (the id
   of ours it carries, ``metadata.mem0_hooks_id``, else its text, ``local.text_key``; the texts must be
   the same) joins the local candidates: it is read with its neighbours, and its credit adds to its
   score as closeness in meaning does (``REMOTE_WEIGHT`` times its credit times the best word score),
   so its neighbours and its session gain from it too. A hit that is not held here (captured on
   another machine, or written by Mem0's own tools, or a fact Mem0 extracted) is a remote-only memory,
   ranked with the turns on the local scale: its credit times the best turn's score (1 without any).
3. A hit's credit (``credits``) says how good the remote store thinks it is, on a scale of its own:
   its score as a share of the best hit's, to the power ``SCORE_POWER``, times a decay by rank
   (``RANK_HALF``), so that the relevance cut (``memory.min_relevance``) leaves weak remote matches out
   as it leaves weak local ones out. (A remote score is not on the local scale: only its shape is used.)
4. A memory is never shown twice: hits that are the same turn, or have the same text, are one; turns of
   the current session and memories already injected are left out, whichever side found them.

When the remote store fails, is slow or answers garbage, recall is the local half alone (the caller
logs one line); without the local index (``mem0.local_index: false``) it is the remote half alone,
ranked, cut and packed the same way.

Imported by hooks: the standard library only at module level.
"""

from __future__ import annotations

import threading
import time

from mem0_hooks.backends.local import PROJECT, SCOPE, TEXT, text_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any

    from mem0_hooks.backends.base import Memory
    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.ranking.turns import Found

    Row = tuple[Any, ...]

REMOTE_HITS = 30  # hits asked of the remote store
REMOTE_WEIGHT = 0.5  # a local turn the remote ranks best gets this share of the best word score
REMOTE_WINDOWED = 5  # the best hits held here are read with their neighbours
REMOTE_ONLY_WEIGHT = 1.0  # a remote-only memory the remote ranks best scores this share of the best turn's
SCORE_POWER = 1.0  # credit: (score / best score) ** SCORE_POWER ...
RANK_HALF = 10.0  # ... times 1 / (1 + rank / RANK_HALF): the hit at rank RANK_HALF counts half the first
UNKNOWN = "unknown"  # the scope of a hit whose project its store could not say (OpenMemory's search)
WAIT_GRACE = 0.5  # seconds past the remote deadline the local half waits for the remote thread
REMOTE_SESSIONS = 6  # sessions of the best remote-only hits read for the turns around them ...
NEIGHBOUR_SHARES = (0.5, 0.2)  # ... a turn 1 (2) away from a hit gets this share of its credit, as locally
MIN_SESSION_SECONDS = 0.05  # no session is read with less time than this left
SEQ_GAP = 2  # remote-only turns of a session this close in number are shown as one exchange


class Remote:
    """The remote hits as the local ranking takes them: the local turns they are (``rows``, ``credit``,
    best first in ``ranked``) and the memories only the remote store has (``only``: credit, memory)."""

    __slots__ = ("rows", "credit", "ranked", "only", "context")

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.credit: dict[int, float] = {}
        self.ranked: list[int] = []
        self.only: list[tuple[float, Memory]] = []
        self.context: set[str] = set()  # remote-only turns that are there for the hit next to them


class Pending:
    """A remote search running in its own thread: ``wait`` gives its hits, or [] with ``error`` set."""

    def __init__(
        self,
        search: Callable[[], list[Memory]],
        seconds: float,
        read_session: Callable[[str, float], list[Memory]] | None = None,
    ) -> None:
        self.hits: list[Memory] = []
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.deadline = time.monotonic() + seconds
        self.read_session = read_session  # the turns of one session in the remote store, by its deadline
        self._until = self.deadline + WAIT_GRACE
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(search,), name="mem0-hooks-remote", daemon=True)
        self._started = time.monotonic()
        self._thread.start()

    def _run(self, search: Callable[[], list[Memory]]) -> None:
        try:
            self.hits = _valid(search())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who logs it
            self.error = exc
        finally:
            self.seconds = time.monotonic() - self._started
            self._done = True

    def wait(self) -> list[Memory]:
        """The hits, once the search is over or its time is up (then ``error`` says so)."""
        self._thread.join(max(0.0, self._until - time.monotonic()))
        if not self._done:
            from mem0_hooks.errors import BackendUnavailable

            waited = time.monotonic() - self._started
            self.error = BackendUnavailable(f"the remote search did not finish within its deadline ({waited:.1f}s)")
            return []
        return self.hits if self.error is None else []


def start(
    search: Callable[[], list[Memory]],
    seconds: float,
    read_session: Callable[[str, float], list[Memory]] | None = None,
) -> Pending:
    """Run ``search`` (the remote store's, already bounded by its deadline) in the background;
    ``read_session(session_id, deadline)`` reads a session's turns there (``around``), where it can."""
    return Pending(search, seconds, read_session)


def _valid(hits: Any) -> list[Memory]:
    """Only well-formed memories: a store that answers garbage costs its hits, not the recall."""
    from mem0_hooks.backends.base import Memory

    if not isinstance(hits, list):
        from mem0_hooks.errors import BackendUnavailable

        raise BackendUnavailable(f"the remote search gave {type(hits).__name__}, not a list of memories")
    return [h for h in hits if isinstance(h, Memory) and isinstance(h.text, str) and h.text.strip() and h.id]


def credits(hits: list[Memory]) -> list[float]:
    """Each hit's credit in (0, 1], best first as the store ranked them (see the module docstring)."""
    scores = [h.score if isinstance(h.score, (int, float)) and h.score > 0 else None for h in hits]
    best = max((s for s in scores if s is not None), default=None)
    out = []
    for rank, score in enumerate(scores):
        share = 1.0 if best is None else ((score or 0.0) / best) ** SCORE_POWER
        out.append(share / (1.0 + rank / RANK_HALF))
    return out


def resolve(
    store: LocalStore | None,
    hits: list[Memory],
    *,
    project: str,
    skip_session: str = "",
    skip_ids: Collection[str] = (),
) -> Remote:
    """The remote hits matched to the local index (see the module docstring): held turns and remote-only
    memories, each with its credit; this session's and already injected ones left out."""
    remote = Remote()
    if not hits:
        return remote
    skip = set(skip_ids)
    by_id: dict[str, Row] = {}
    by_key: dict[int, list[Row]] = {}
    if store is not None:
        ours = [str(h.metadata.get("mem0_hooks_id") or "") for h in hits]
        by_id = store.rows_by_id([i for i in ours if i])
        by_key = store.rows_by_text_key([text_key(h.text) for h in hits])
    texts: set[str] = set()
    for credit, hit in zip(credits(hits), hits, strict=True):
        flat = _flat(hit.text)
        if flat in texts:
            continue  # the same text twice in the remote store (it does not deduplicate): once
        texts.add(flat)
        mine = str(hit.metadata.get("mem0_hooks_id") or "")
        if hit.id in skip or (mine and mine in skip):
            continue
        row = by_id.get(mine) if mine else None
        if row is not None and _flat(row[TEXT]) != flat:
            row = None  # a fact Mem0 made of that turn, not the turn: a memory of its own
        if row is None:
            row = _same_text(by_key.get(text_key(hit.text), ()), flat, project)
        if row is not None:
            rowid = row[0]
            if rowid not in remote.credit:
                remote.rows[rowid] = row
                remote.credit[rowid] = credit
                remote.ranked.append(rowid)
            continue
        if hit.scope == UNKNOWN or (skip_session and hit.session_id == skip_session):
            continue  # (a hit whose project the store could not say, and which is not held here: left out)
        remote.only.append((credit, hit))
    return remote


def around(
    remote: Remote,
    read_session: Callable[[str, float], list[Memory]],
    deadline: float,
    *,
    skip_ids: Collection[str] = (),
) -> None:
    """Add to ``remote.only`` the turns around the best remote-only hits (another machine's: this one
    holds no neighbours for them), read from their sessions in the remote store, ``REMOTE_SESSIONS`` at
    most, in parallel, until ``deadline``: a turn ``d`` away from a hit gets ``NEIGHBOUR_SHARES[d - 1]``
    of its credit, as a local neighbour adds to a turn's score. A session that cannot be read in time
    only costs its neighbours."""
    sessions: list[str] = []
    for _, memory in remote.only:
        if memory.session_id and _seq(memory) and memory.session_id not in sessions:
            sessions.append(memory.session_id)
    sessions = sessions[:REMOTE_SESSIONS]
    if not sessions or deadline - time.monotonic() < MIN_SESSION_SECONDS:
        return
    read: dict[str, list[Memory]] = {}

    def fetch(session_id: str) -> None:
        try:
            read[session_id] = _valid(read_session(session_id, deadline))
        except Exception:  # noqa: BLE001 - a session not read costs its neighbours only
            pass

    threads = [threading.Thread(target=fetch, args=(s,), daemon=True, name="mem0-hooks-session") for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    have = {m.id for _, m in remote.only}
    texts = {_flat(m.text) for _, m in remote.only}
    skip = set(skip_ids)
    added: dict[str, tuple[float, Memory]] = {}
    for session_id, memories in list(read.items()):
        turns = sorted((m for m in memories if _seq(m)), key=_seq)
        where = {m.id: i for i, m in enumerate(turns)}
        for credit, hit in remote.only:
            at = where.get(hit.id)
            if hit.session_id != session_id or at is None:
                continue
            for distance, share in enumerate(NEIGHBOUR_SHARES, start=1):
                for index in (at - distance, at + distance):
                    if not 0 <= index < len(turns):
                        continue
                    turn = turns[index]
                    mine = str(turn.metadata.get("mem0_hooks_id") or "")
                    if turn.id in have or _flat(turn.text) in texts or turn.id in skip or mine in skip:
                        continue
                    if turn.id not in added or added[turn.id][0] < share * credit:
                        added[turn.id] = (share * credit, turn)
    for credit, turn in added.values():
        remote.only.append((credit, turn))
        remote.context.add(turn.id)


def _seq(memory: Memory) -> int:
    seq = memory.metadata.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else 0


def _same_text(rows: Collection[Row], flat: str, project: str) -> Row | None:
    """Of the local turns with a hit's text key, the one with its text: this project's first, else a
    user-wide one (another project's turn with the same words is not the hit)."""
    fallback = None
    for row in rows:
        if _flat(row[TEXT]) != flat:
            continue
        if row[PROJECT] == project:
            return row
        if row[SCOPE] == "user" and fallback is None:
            fallback = row
    return fallback


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


def remote_only(remote: Remote, words: list[str], *, limit: int, min_share: float) -> Found:
    """A ranking of the remote-only memories alone (no local index, or nothing held here matched)."""
    from mem0_hooks.ranking.turns import Found

    ranked = sorted(remote.only, key=lambda entry: entry[0], reverse=True)
    if min_share and ranked:
        floor = min_share * ranked[0][0]
        ranked = [entry for entry in ranked if entry[0] >= floor]
    memories = []
    for credit, memory in ranked[:limit]:
        memory.score = credit
        memories.append(memory)
    return Found(memories, links(memories), words, frozenset(remote.context & {m.id for m in memories}))


def links(memories: list[Memory]) -> dict[str, str]:
    """{id: id of the turn just before it} among remote-only memories: turns of one session whose
    numbers (``metadata.seq``) are at most ``SEQ_GAP`` apart (a prompt is numbered twice when both hooks
    capture it), so that a question and its answer found there read as one exchange, as local ones do."""
    sessions: dict[str, list[tuple[int, Memory]]] = {}
    for memory in memories:
        seq = _seq(memory)
        if memory.session_id and seq:
            sessions.setdefault(memory.session_id, []).append((seq, memory))
    follows: dict[str, str] = {}
    for turns in sessions.values():
        turns.sort(key=lambda entry: entry[0])
        for (before, prev), (after, nxt) in zip(turns, turns[1:], strict=False):
            if 0 < after - before <= SEQ_GAP:
                follows[nxt.id] = prev.id
    return follows


def search(
    store: LocalStore | None,
    pending: Pending | None,
    query: str,
    *,
    project: str,
    limit: int,
    skip_session: str = "",
    skip_ids: Collection[str] = (),
    min_share: float = 0.0,
    semantic_weight: float | None = None,
) -> Found:
    """The hybrid ranking of ``query``: the local index's (``turns.search_turns``) with the remote
    hits of ``pending`` fused in; either side may be missing (no local index; the remote skipped).
    A remote failure leaves the local half, with ``pending.error`` set for the caller to log."""
    from mem0_hooks.ranking.query import query_words

    def fused() -> Remote:
        if pending is None:
            return Remote()
        remote = resolve(store, pending.wait(), project=project, skip_session=skip_session, skip_ids=skip_ids)
        if remote.only and pending.read_session is not None and pending.error is None:
            around(remote, pending.read_session, pending.deadline, skip_ids=skip_ids)
        return remote

    if store is None:
        return remote_only(fused(), query_words(query), limit=limit, min_share=min_share)
    return store.search_turns(
        query,
        project=project,
        limit=limit,
        skip_session=skip_session,
        skip_ids=skip_ids,
        min_share=min_share,
        semantic_weight=semantic_weight,
        remote=fused if pending is not None else None,
    )
