"""From a prompt to ranked turns of one project: candidates, the turns around them, one score each.

1. Candidates. ``query.analyse`` turns the prompt into content words, named dates and whether it asks
   *when* or how things stand *now*; ``lexical.weigh`` weighs the words in this project. FTS5 BM25 over
   a turn's text (found through its neighbours' words too: the index's context column) ranks the turns
   that have the rarer words (when even the rarest is in more than ``lexical.RANK_POSTINGS`` turns,
   only the newest of them are ranked: this is what keeps a 100k store fast). Where the embedding model
   is loaded, the ``SEMANTIC_CANDIDATES`` turns closest in meaning join them (``semantic.similar``). The
   turns of a time the prompt names join them (``DATE_ROWS``), and so do the first turns of the newest
   ``OPENINGS`` sessions. The best ``WINDOWED`` candidates by words and ``SEMANTIC_WINDOWED`` by meaning
   are widened to the ``WINDOW`` turns on each side, read in seq order, which also says which turns are
   adjacent.
2. Scores. Every turn read is scored again in Python: BM25 with the project's IDF (every prompt word
   this time, common ones included) over its own text (``lexical.Stems.scores``), plus its closeness in
   meaning (``_fuse``: from ``SEMANTIC_FLOOR`` standard deviations above the project's mean similarity
   to the closest turn read, worth up to ``memory.semantic_weight`` times the best word score). Then:
   half the score of each direct neighbour and a fifth of the next ones (an answer rarely repeats the
   question's words); a quarter of its session's share of the best session score (a session about the
   topic holds more of it). A prompt that asks *when* doubles the score of turns that say when
   ("yesterday", "last week", a date); a prompt that names a date favours the turns of that time, even
   without a matching word; one that asks how things stand *now* favours the newest turns. A prompt
   about someone the turns address by name doubles that person's own turns (``speakers``). A session's
   first turn says what the session was for: it scores half as much again, and gets a small share of
   the best score even without a matching word (below the default cut of step 3: it only fills the end
   of a block when there is no cut). A prompt that matches nothing, or only turns the search is told to
   skip (the current session's, those already injected), still gets nothing. Newer turns win ties.
3. The cut. With ``min_share`` (recall passes ``memory.min_relevance``, 0.215), turns scoring below that
   share of the best are left out: a prompt with one clear answer gets a short block, one with many
   good matches a full one. Turns that are in only for their neighbours are marked (``Found.context``),
   so the block can lead with matches.
4. The lead. Where the model is loaded, the best ``TOKEN_ROWS`` turns are also scored token by token
   (``semantic.token_closeness``: each prompt token's closest token in the turn), added to their own
   scores as closeness in meaning is, and step 2 is run again on the turns the cut let through: the
   best ``TOKEN_LEAD`` by that come first. What the block holds is still the cut's; only its lead
   changes (a mean of token vectors blurs a turn about several things; the closest token does not).

``bench/recall.py --in-process --ablate`` measures what each of these buys on both development sets
(docs/recall-quality.md has the table).
"""

from __future__ import annotations

import sys

from mem0_hooks.backends.base import Memory
from mem0_hooks.backends.local import CREATED_AT, ID, ROLE, ROWID, SEQ, SESSION_ID, TEXT, memory_of
from mem0_hooks.ranking import fusion, lexical, semantic, speakers
from mem0_hooks.ranking.query import Query, analyse, date_closeness, date_range, mentions_time, split_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any

    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.ranking.fusion import Remote

    Row = tuple[Any, ...]  # a row of local.FIELDS, as a search reads it

CANDIDATES = 50  # turns taken from the FTS5 ranking
WINDOWED = 20  # of those, how many are widened to their neighbours
WINDOW = 2  # neighbours read on each side
DATE_ROWS = 150  # turns read from the time a prompt names
NEIGHBOUR_WEIGHTS = (0.5, 0.2)  # share of a neighbour's score at distance 1, 2
SESSION_WEIGHT = 0.25  # share of the best session's score given to every turn of a session
SESSION_TOP = 3  # a session's score: the sum of its best turns
TIME_BOOST = 1.0  # on a "when" prompt, turns that say when score (1 + this) times more
NOW_BOOST = 0.5  # on a prompt about how things stand now, the newest turn read scores (1 + this) times more
DATE_BOOST = 1.0  # turns from the named time score up to (1 + this) times more ...
DATE_BASE = 0.5  # ... plus this share of the best score, so they count even without a matching word
SPEAKER_BOOST = 1.0  # on a prompt about someone the turns address by name, their own turns score (1 + this) times more
OPENINGS = 40  # the first turns of this many of the newest sessions are read with every search ...
OPENING_BOOST = 0.5  # ... a session's first turn scores (1 + this) times more ...
OPENING_BASE = 0.1  # ... plus this share of the best score, so it counts even without a matching word
SESSION_DIVERSITY = 1.0  # < 1: each further turn of a session ranks this much lower (off: it costs recall)
SCORE_CHARS = 4000  # only this much of a long turn is tokenised for scoring
WORDS_CACHED = 16384  # turns whose words are kept between searches (about 0.3 KB each)
# -- fusion with the ranking by meaning (ranking.semantic; only where the model is loaded) --
SEMANTIC_WEIGHT = 1.0  # a turn as close in meaning as the closest gets this share of the best word score
SEMANTIC_CANDIDATES = 35  # the turns closest in meaning join the candidates ...
SEMANTIC_WINDOWED = 5  # ... and the closest of those are widened to their neighbours too
SEMANTIC_FLOOR = 0.5  # closeness counts from this many standard deviations above the project's mean
SEMANTIC_POWER = 1.0  # how sharply it grows from there to the closest turn read
CONTEXT_SHARE = 0.15  # a turn whose own score is below this share of the best is there for its neighbours
# -- the block's lead, ordered with closeness token by token too (semantic.token_closeness) --
TOKEN_WEIGHT = 1.0  # the turn read closest token by token gets this share of the best word score ...
TOKEN_FLOOR = 0.5  # ... counted from this many standard deviations above their mean ...
TOKEN_ROWS = 20  # ... among the best this many turns read
TOKEN_LEAD = 12  # the turns the cut lets through that come first in that order


class Found:
    """What ``search_turns`` found: memories best first, which turn ``follows`` which, the prompt's words,
    and which of the memories are there only for the turns around them (``context``)."""

    __slots__ = ("memories", "follows", "words", "context")

    def __init__(
        self, memories: list[Memory], follows: dict[str, str], words: list[str], context: frozenset[str] = frozenset()
    ) -> None:
        self.memories = memories
        self.follows = follows  # id -> id of the turn just before it in its session (when both were read)
        self.words = words
        self.context = context  # ids of turns that match little themselves (their neighbours do)


def search_turns(
    store: LocalStore,
    query: str,
    *,
    project: str,
    limit: int = 50,
    skip_session: str = "",
    skip_ids: Collection[str] = (),
    min_share: float = 0.0,
    semantic_weight: float | None = None,
    remote: Callable[[], Remote] | None = None,
) -> Found:
    """Ranked turns of ``project`` (and user-wide ones) for ``query``, with the adjacency the block needs.

    Turns of ``skip_session`` (the current one: Claude has them already) and ``skip_ids`` (already
    injected) are left out, and do not count as matches: a prompt that only they match finds nothing.
    ``semantic_weight`` (``memory.semantic_weight``; default ``SEMANTIC_WEIGHT``) is how much closeness
    in meaning counts, where this process has the embedding model loaded; 0 ranks by words only.
    ``remote`` gives a remote store's hits once the candidates are gathered (the hybrid store,
    ``ranking.fusion``): the turns it found join them, and what only it has is ranked with them.
    """
    weight = SEMANTIC_WEIGHT if semantic_weight is None else semantic_weight
    asked = analyse(query)
    if not asked.words and not asked.dates:
        return _remote_alone(remote, asked.words, limit, min_share)
    in_scope = store.scope_match(project)
    counts = lexical.word_counts(store, in_scope)
    if not counts.total:
        return _remote_alone(remote, asked.words, limit, min_share)
    weights = lexical.weigh(store, counts, in_scope, asked.words)
    similar = semantic.similar(store, query, project) if weight else None

    # 1. candidates: the FTS5 ranking, the time the prompt names, session openings, the turns around the best
    rows: dict[int, Row] = {}
    ranked_ids: list[int] = []
    if weights.searched:
        words = " OR ".join(f'"{w}"' for w in weights.searched)
        match = f"({{text context}} : ({words})) AND {in_scope}"
        for row in store.ranked_matches(
            match,
            from_rowid=counts.recent_from(weights.postings),
            limit=CANDIDATES,
            project=project,
        ):
            rows[row[ROWID]] = row
            ranked_ids.append(row[ROWID])
    for date in asked.dates:
        bounds = date_range(date)
        if bounds is not None:
            for row in store.rows_between(project, bounds[0], bounds[1], DATE_ROWS):
                rows.setdefault(row[ROWID], row)
    for row in store.openings(project, OPENINGS):
        rows.setdefault(row[ROWID], row)
    widened = ranked_ids[:WINDOWED]
    if similar is not None:
        closest = similar.best(SEMANTIC_CANDIDATES)
        for rowid, row in store.rows_by_rowid([r for r in closest if r not in rows]).items():
            rows[rowid] = row
        widened = list(dict.fromkeys(widened + [r for r in closest[:SEMANTIC_WINDOWED] if r in rows]))
    fused = remote() if remote is not None else None  # (the remote search ran while the above was read)
    if fused is not None:
        for rowid, row in fused.rows.items():
            rows.setdefault(rowid, row)
        widened = list(dict.fromkeys(widened + fused.ranked[: fusion.REMOTE_WINDOWED]))
    follows = _widen(store, [rows[i] for i in widened], rows)
    if not rows:
        return _remote_alone(fused, asked.words, limit, min_share)

    # 2. score every turn read
    words_of = _words_of(store, rows)
    speaker, addressing = speakers.spoken_of(asked.names, rows, words_of) if SPEAKER_BOOST else (None, {})
    # "Thanks, Sam!" is said to Sam, not about Sam: in the turns that address Sam the name adds no weight
    own = lexical.stems_of().scores(words_of, weights.of_stems, addressing)
    skipped = {
        rowid
        for rowid, row in rows.items()
        if (skip_session and row[SESSION_ID] == skip_session) or row[ID] in skip_ids
    }
    by_words = max((s for r, s in own.items() if r not in skipped), default=0.0) or 1.0
    if similar is not None:
        _fuse(own, similar, skipped, weight)
    if fused is not None:
        for rowid, credit in fused.credit.items():
            if rowid in own:  # (the remote's credit counts as closeness in meaning does)
                own[rowid] += fusion.REMOTE_WEIGHT * by_words * credit
    scored, top = _rank(rows, own, follows, skipped, asked, words_of, speaker)
    lead: list[tuple[float, str, int]] = []  # the same with closeness token by token: the block's lead
    if similar is not None and TOKEN_WEIGHT:
        near = {rowid: words_of[rowid] for _, _, rowid in scored[:TOKEN_ROWS]}
        closeness = semantic.token_closeness(similar, near)
        closer = dict(own)
        if _add_closeness(closer, closeness, skipped, TOKEN_WEIGHT * weight * by_words):
            candidates = [rowid for _, _, rowid in scored[:limit]]  # (only these can lead the block)
            lead = _rank(rows, closer, follows, skipped, asked, words_of, speaker, candidates)[0]
    # what only the remote store has, on this scale: the remote's best counts as the best turn here
    elsewhere: dict[int, Memory] = {}
    if fused is not None and fused.only:
        best = scored[0][0] if scored else 1.0
        for index, (credit, memory) in enumerate(fused.only):
            elsewhere[-1 - index] = memory  # (negative keys: never a rowid)
            scored.append((fusion.REMOTE_ONLY_WEIGHT * credit * best, memory.created_at, -1 - index))
        scored.sort(reverse=True)

    # 3. the cut
    if min_share and scored:
        floor = min_share * scored[0][0]
        scored = [entry for entry in scored if entry[0] >= floor]
    if SESSION_DIVERSITY < 1.0 and not elsewhere:
        scored = _diversify(scored, rows, limit)
    kept = scored[:limit]
    if lead and not elsewhere:
        kept = _lead_first(kept, lead)
    memories = [
        memory_of(rows[key], score=score) if key >= 0 else _scored(elsewhere[key], score) for score, _, key in kept
    ]
    ids = {rowid: rows[rowid][ID] for _, _, rowid in kept if rowid >= 0}
    links = {ids[n]: ids[p] for n, p in follows.items() if n in ids and p in ids}
    if elsewhere:
        links.update(fusion.links([m for m in memories if m.id not in ids.values()]))
    context = frozenset(ids[r] for r in ids if own[r] < CONTEXT_SHARE * top)
    if elsewhere:
        context |= fused.context & {m.id for m in memories}  # type: ignore[union-attr]
    return Found(memories, links, asked.words, context)


def _rank(
    rows: dict[int, Row],
    own: dict[int, float],
    follows: dict[int, int],
    skipped: set[int],
    asked: Query,
    words_of: dict[int, tuple[str, ...]],
    speaker: str | None,
    only: Collection[int] | None = None,
) -> tuple[list[tuple[float, str, int]], float]:
    """Step 2's scores from each turn's own (``own``): (score, created_at, rowid) best first, and the
    best own score (see the module docstring); of the turns ``only`` lists, when given."""
    top = max((score for rowid, score in own.items() if rowid not in skipped), default=0.0)
    after = {prev: nxt for nxt, prev in follows.items()}
    best_in_session: dict[str, list[float]] = {}
    for rowid, row in rows.items():
        best_in_session.setdefault(row[SESSION_ID] or f"\0{rowid}", []).append(own[rowid])
    session_score = {k: sum(sorted(v, reverse=True)[:SESSION_TOP]) for k, v in best_in_session.items()}
    top_session = max(session_score.values(), default=0.0) or 1.0
    newness: dict[int, float] = {}
    if asked.about_now:
        by_time = sorted(rows, key=lambda r: rows[r][CREATED_AT])
        newness = {rowid: index / max(len(by_time) - 1, 1) for index, rowid in enumerate(by_time)}
    scored: list[tuple[float, str, int]] = []
    for rowid in rows if only is None else only:
        row = rows[rowid]
        score = own[rowid]
        back: int | None = rowid
        fwd: int | None = rowid
        for share in NEIGHBOUR_WEIGHTS:
            back = follows.get(back) if back is not None else None
            fwd = after.get(fwd) if fwd is not None else None
            if back is not None:
                score += share * own[back]
            if fwd is not None:
                score += share * own[fwd]
        score += SESSION_WEIGHT * top * session_score[row[SESSION_ID] or f"\0{rowid}"] / top_session
        if asked.about_time and TIME_BOOST and mentions_time(words_of[rowid]):
            score *= 1.0 + TIME_BOOST
        if asked.about_now:
            score *= 1.0 + NOW_BOOST * newness[rowid]
        if asked.dates:
            fit = date_closeness(row[CREATED_AT], asked.dates)
            score = score * (1.0 + DATE_BOOST * fit) + DATE_BASE * fit * (top or 1.0)
        if speaker is not None and row[ROLE] == speaker:
            score *= 1.0 + SPEAKER_BOOST
        if row[SEQ] == 1 and row[SESSION_ID]:
            score *= 1.0 + OPENING_BOOST
            if speaker is None or row[ROLE] == speaker:
                score += OPENING_BASE * top
        if score > 0 and rowid not in skipped:
            scored.append((score, row[CREATED_AT], rowid))  # (newer wins ties)
    scored.sort(reverse=True)
    return scored, top


def _add_closeness(own: dict[int, float], closeness: dict[int, float], skipped: set[int], unit: float) -> bool:
    """Add closeness token by token to each turn's own score, in place, as ``_fuse`` adds closeness in
    meaning: from ``TOKEN_FLOOR`` standard deviations above the mean of the turns scored (0) to the
    closest (``unit``). False when no turn stands out (nothing added)."""
    values = [value for rowid, value in closeness.items() if rowid not in skipped]
    if len(values) < 2:
        return False
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread <= 0:
        return False
    above = {rowid: (value - mean) / spread for rowid, value in closeness.items()}
    return _add_above(own, above, skipped, TOKEN_FLOOR, unit)


def _lead_first(kept: list[tuple[float, str, int]], lead: list[tuple[float, str, int]]) -> list[tuple[float, str, int]]:
    """``kept`` (the turns the cut let through, best first) with the first ``TOKEN_LEAD`` of them in the
    order of ``lead`` (the ranking with closeness token by token) and the rest as they were. What a block
    holds stays the cut's; only what it leads with changes."""
    by_key = {entry[2]: entry for entry in kept}
    first = [by_key[key] for _, _, key in lead if key in by_key][:TOKEN_LEAD]
    chosen = {entry[2] for entry in first}
    return first + [entry for entry in kept if entry[2] not in chosen]


def _scored(memory: Memory, score: float) -> Memory:
    memory.score = score
    return memory


def _remote_alone(
    remote: Callable[[], Remote] | Remote | None, words: list[str], limit: int, min_share: float
) -> Found:
    """What the remote store alone found, when nothing held here matched (or there is nothing here)."""
    if remote is None:
        return Found([], {}, words)
    fused = remote if isinstance(remote, fusion.Remote) else remote()
    return fusion.remote_only(fused, words, limit=limit, min_share=min_share)


def _fuse(own: dict[int, float], similar: semantic.Similar, skipped: set[int], weight: float) -> None:
    """Add to each turn's word score its closeness in meaning to the prompt, in place.

    Closeness is measured against the project: ``SEMANTIC_FLOOR`` standard deviations above the mean
    similarity counts nothing, the closest turn read counts ``weight`` times the best word
    score (or 1 when no word matched), and the rest in between. A prompt whose closest turn is no
    closer than the floor adds nothing: what is near everything says nothing.
    """
    spread = similar.spread
    if spread <= 0:
        return
    mean = similar.mean
    close = {rowid: (similarity - mean) / spread for rowid, similarity in similar.of(own).items()}
    unit = weight * (max((s for r, s in own.items() if r not in skipped), default=0.0) or 1.0)
    _add_above(own, close, skipped, SEMANTIC_FLOOR, unit, SEMANTIC_POWER)


def _add_above(
    own: dict[int, float], above: dict[int, float], skipped: set[int], floor: float, unit: float, power: float = 1.0
) -> bool:
    """Add to each turn's own score, in place, what its ``above`` (standard deviations above a mean)
    is worth: nothing at ``floor``, ``unit`` for the best turn not ``skipped``, growing to the power
    ``power`` in between. False (nothing added) when no turn is above ``floor``: what is near everything
    says nothing."""
    best = max((z for rowid, z in above.items() if rowid not in skipped), default=0.0)
    if best <= floor:
        return False
    span = best - floor
    for rowid, z in above.items():
        if z > floor:
            own[rowid] += unit * min((z - floor) / span, 1.0) ** power
    return True


_WORDS: dict[tuple[str, int, str], tuple[str, ...]] = {}  # (store path, rowid, id) -> words, see _words_of


def _words_of(store: LocalStore, rows: dict[int, Row]) -> dict[int, tuple[str, ...]]:
    """{rowid: the words of its text} as scoring sees them, remembered between searches.

    Splitting is a good part of a search's cost, and consecutive prompts read many of the same turns.
    A turn's text never changes, but a rowid can be reused after a forget, hence the id in the key.
    The words are interned: a turn then costs about its word count in pointers.
    """
    known = _WORDS
    path = store.path
    words_of: dict[int, tuple[str, ...]] = {}
    for rowid, row in rows.items():
        key = (path, rowid, row[ID])
        words = known.get(key)
        if words is None:
            words = tuple(map(sys.intern, split_words(row[TEXT][:SCORE_CHARS])))
            if len(known) >= WORDS_CACHED:
                known.clear()
            known[key] = words
        words_of[rowid] = words
    return words_of


def _widen(store: LocalStore, best: list[Row], rows: dict[int, Row]) -> dict[int, int]:
    """Read the turns around ``best`` into ``rows``; returns {rowid: rowid of the turn just before}.

    One range per stretch of nearby candidates. Turn numbers (``seq``) have gaps (a prompt captured by
    UserPromptSubmit and again from the transcript uses two), so each range is read with room to spare,
    from the index alone, and cut to ``WINDOW`` turns on each side; then the turns kept that were not
    read yet are read. Two statements in all, whatever the number of stretches.
    """
    pad = 3 * WINDOW + 2
    wanted: dict[str, list[int]] = {}
    for row in best:
        if row[SESSION_ID]:
            wanted.setdefault(row[SESSION_ID], []).append(row[SEQ])
    stretches: list[tuple[str, int, int]] = []  # (session, lowest seq, highest seq)
    for session_id, seqs in wanted.items():
        seqs.sort()
        lo = hi = seqs[0]
        for seq in seqs[1:]:
            if seq - hi > 2 * pad:
                stretches.append((session_id, lo, hi))
                lo = seq
            hi = seq
        stretches.append((session_id, lo, hi))
    if not stretches:
        return {}
    # The padded ranges of one session never overlap (stretches are more than 2 * pad apart), so each
    # turn read belongs to one stretch.
    runs = store.seq_runs([(session_id, lo - pad, hi + pad) for session_id, lo, hi in stretches])
    follows: dict[int, int] = {}
    kept: list[int] = []
    for (_, lo, hi), run in zip(stretches, runs, strict=True):
        hits = [i for i, (_, seq) in enumerate(run) if lo <= seq <= hi]
        if not hits:
            continue
        run = run[max(hits[0] - WINDOW, 0) : hits[-1] + WINDOW + 1]
        for (prev, _), (nxt, _) in zip(run, run[1:], strict=False):
            follows[nxt] = prev
        kept.extend(rowid for rowid, _ in run)
    missing = [rowid for rowid in kept if rowid not in rows]
    if missing:
        found = store.rows_by_rowid(missing)
        for rowid in missing:  # in the order of the runs, as the rest of the search expects
            if rowid in found:
                rows[rowid] = found[rowid]
        if len(found) < len(missing):  # forgotten between the two reads: leave them out, links too
            follows = {nxt: prev for nxt, prev in follows.items() if nxt in rows and prev in rows}
    return follows


def _diversify(scored: list[tuple[float, str, int]], rows: dict[int, Row], limit: int) -> list[tuple[float, str, int]]:
    """Re-rank so that each further turn of a session counts ``SESSION_DIVERSITY`` times less."""
    picked: list[tuple[float, str, int]] = []
    per_session: dict[str, int] = {}
    pool = list(scored)
    while pool and len(picked) < limit:
        best_index = max(
            range(len(pool)),
            key=lambda i: pool[i][0] * SESSION_DIVERSITY ** per_session.get(rows[pool[i][2]][SESSION_ID], 0),
        )
        item = pool.pop(best_index)
        picked.append(item)
        key = rows[item[2]][SESSION_ID]
        per_session[key] = per_session.get(key, 0) + 1
    return picked + pool
