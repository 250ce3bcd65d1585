"""Ranking by words: how rare each prompt word is in a project, and BM25 of a turn's own text.

Two pieces, both kept for the life of the process (the warm process serves every prompt with them):

* ``WordCounts``: how many memories of one scope hold each word (by stem), counted through the
  full-text index up to ``COUNT_LIMIT`` matches and estimated beyond, reused until the store has grown
  by ``STALE_SHARE``. A word's weight is its IDF in this project, so a name or a word that is all over
  a project counts for little next to the rare word that says what the prompt is about.
* ``Stems``: Porter stems exactly as the index makes them (from a private in-memory FTS5 table with
  the store's tokenizer: the standard library has no stemmer), and BM25 of each turn's own text
  against the prompt's weighted stems.

(Squaring the IDF, and a bonus for each extra prompt word a turn matches, each recalled a little more
on LoCoMo before recall by meaning, and less on the coding conversations since: both went. See
docs/recall-quality.md.)

Which words are searched at all (``searched_words``): the rarer ones, while FTS5 has few enough matches
to rank quickly (a word in more than ``COMMON_SHARE`` of the project is not searched for, nor the
commoner words once the rarer ones match ``MAX_POSTINGS`` turns).
"""

from __future__ import annotations

import math
import os
import sqlite3
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping
    from typing import Any

    from mem0_hooks.backends.local import LocalStore

TOKENIZER = "porter unicode61 remove_diacritics 2"  # the store's full-text tokenizer, which stems are made by

COMMON_SHARE = 0.3  # a word in more of the project's memories than this is not searched for
MAX_POSTINGS = 200  # nor are the commoner words once the rarer ones already match this many memories
COUNT_LIMIT = 50  # a word's memories are counted up to this many; beyond, estimated from where the last falls
CACHED_COUNT_MIN = 50  # word counts below this are counted on every search (cheap, and never stale)
RANK_POSTINGS = 300  # when the searched words are in more memories than this, only the newest are ranked
K1, B = 1.2, 0.75
STALE_SHARE = 0.05  # word counts are reused until the store grew by this share of the scope ...
STALE_SECONDS = 600.0  # ... or for this long
STALE_WORDS = 20_000  # ... or until this many words were counted
KNOWN_STEMS = 50_000  # words whose stem the process remembers


class WordCounts:
    """How many memories one scope of one store holds, and how many of them have each word (by stem)."""

    __slots__ = ("total", "first", "last", "newest", "counted_at", "of_words")

    def __init__(self, total: int, first: int, last: int, newest: int, counted_at: float) -> None:
        self.total = total
        self.first, self.last = first, last  # the lowest and highest rowid in scope
        self.newest = newest  # the highest rowid of the store when counted: new rows raise it
        self.counted_at = counted_at
        self.of_words: dict[str, int] = {}

    def count(self, store: LocalStore, match: str) -> int:
        """How many memories ``match``: exact up to ``COUNT_LIMIT``, then estimated.

        Counting a word that is everywhere costs as much as ranking with it, so the count stops at
        ``COUNT_LIMIT`` and the rest is extrapolated from how far into the scope's rowids that many
        matches reach (rough when a project's memories are unevenly spread, which only shifts a
        common word's small weight a little).
        """
        found, reach = store.count_matching(match, COUNT_LIMIT)
        if found < COUNT_LIMIT or reach is None or reach >= self.last:
            return int(found)
        return min(int(found * (self.last - self.first + 1) / (reach - self.first + 1)), self.total)

    def recent_from(self, postings: int) -> int:
        """The lowest rowid worth ranking when the searched words match ``postings`` memories: the
        newest ``RANK_POSTINGS`` or so of them (when even the rarest word is everywhere, ranking them
        all costs more than it tells, and the newest are the likelier to matter)."""
        if postings <= RANK_POSTINGS:
            return 0
        return self.last - int((self.last - self.first) * RANK_POSTINGS / postings)


_COUNTS: dict[tuple[Any, ...], WordCounts] = {}


def forget_counts() -> None:
    """Count every word again at the next search (memories changed scope)."""
    _COUNTS.clear()


def word_counts(store: LocalStore, in_scope: str) -> WordCounts:
    """The memories in scope and the per-word counts known so far, counted again when stale.

    Counting is the costliest part of a search on a big store, and the figures move slowly: a count is
    reused until the store has grown by ``STALE_SHARE`` of it, its newest rows were forgotten, or
    ``STALE_SECONDS`` passed (the IDF of a word is then a little off, never wrong enough to matter).
    Kept per store file (a replaced file is a new key) for the life of the process, so a long-lived
    process pays for each word once.
    """
    newest = store.newest_rowid()
    try:
        stat = os.stat(store.path)
        key: tuple[Any, ...] | None = (store.path, stat.st_dev, stat.st_ino, in_scope)
    except OSError:
        key = None
    now = time.monotonic()
    counts = _COUNTS.get(key) if key is not None else None
    if (
        counts is None
        or newest < counts.newest
        or newest - counts.newest > STALE_SHARE * counts.total
        or now - counts.counted_at > STALE_SECONDS
        or len(counts.of_words) > STALE_WORDS
    ):
        total, first, last = store.scope_totals(in_scope)
        counts = WordCounts(total, first or 0, last or 0, newest, now)
        if key is not None:
            if len(_COUNTS) >= 64:  # many stores or projects in one process: start afresh
                _COUNTS.clear()
            _COUNTS[key] = counts
    return counts


class Weights:
    """A prompt's stems with their weights, and the words to search the index with."""

    __slots__ = ("of_stems", "searched", "postings")

    def __init__(self, of_stems: dict[str, float], searched: list[str], postings: int) -> None:
        self.of_stems = of_stems  # stem -> IDF, for the stems some memory has
        self.searched = searched  # the words to ask FTS5 for, rarest first
        self.postings = postings  # how many memories those words are in (counted or estimated)


def weigh(store: LocalStore, counts: WordCounts, in_scope: str, words: list[str]) -> Weights:
    """How much each of a prompt's ``words`` weighs in this scope, and which of them to search for."""
    stems: dict[str, str] = {}
    for word, stem in stems_of().stem(words).items():
        stems.setdefault(stem, word)
    weights: dict[str, float] = {}
    searched: list[str] = []
    postings = 0
    if not stems:
        return Weights(weights, searched, postings)
    frequency: dict[str, int] = {}
    for stem, word in stems.items():
        known = counts.of_words.get(stem)
        if known is None:
            known = counts.count(store, f'text : "{word}" AND {in_scope}')
            if known >= CACHED_COUNT_MIN:
                # Only common words are kept: a rare or new word (a name the prompt brings up before any
                # memory has it) is cheap to count again and must not stay 0.
                counts.of_words[stem] = known
        frequency[stem] = known
    # A word counted now can be in more memories than the total counted before them (memories were
    # added since, fewer than make the counts stale): never fewer memories than have one word, or a word
    # that is in every memory would weigh less than nothing and the prompt would recall nothing at all.
    total = max(counts.total, *frequency.values())
    common = max(int(COMMON_SHARE * total), 1)
    present = sorted((s for s in stems if frequency[s]), key=frequency.__getitem__)
    for stem in present:  # the rarest words, while FTS5 has few enough matches to rank quickly
        if searched and (frequency[stem] > common or postings + frequency[stem] > MAX_POSTINGS):
            break
        searched.append(stems[stem])
        postings += frequency[stem]
    for stem in present:
        df = frequency[stem]
        weights[stem] = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
    return Weights(weights, searched, postings)


class Stems:
    """Porter stems exactly as the index makes them, from a private in-memory FTS5 table with the store's
    tokenizer (the standard library has no stemmer); remembered for the life of the process."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.db.execute(f"CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '{TOKENIZER}')")
        self.db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
        self.known: dict[str, str] = {}
        self.words_of_stem: dict[str, list[str]] = {}  # the other way round
        self.emptied = 0  # how often ``known`` was emptied to make room
        # One in-memory connection shared by the process: threads (the CLI, tests) take turns on it.
        import _thread

        self.lock = _thread.allocate_lock()

    def stem(self, words: Iterable[str]) -> dict[str, str]:
        """{word: stem} for ``words`` (lower-case words as ``split_words`` makes them)."""
        with self.lock:
            return self._stem(list(words))

    def _stem(self, words: list[str]) -> dict[str, str]:
        new = [w for w in dict.fromkeys(words) if w not in self.known]
        if new and len(self.known) + len(new) > KNOWN_STEMS:
            self.known.clear()
            self.words_of_stem.clear()
            self.emptied += 1
            new = list(dict.fromkeys(words))
        if new:
            db = self.db
            db.execute("BEGIN")
            try:
                db.execute("DELETE FROM t")
                db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", [(i + 1, w) for i, w in enumerate(new)])
                first: dict[int, str] = {}
                for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                    first.setdefault(doc, term)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            for index, word in enumerate(new):
                stem = first.get(index + 1, word)
                self.known[word] = stem
                self.words_of_stem.setdefault(stem, []).append(word)
        return {w: self.known[w] for w in words}

    def scores(
        self,
        words_of: dict[int, tuple[str, ...]],
        weights: dict[str, float],
        unweighted: Mapping[int, Collection[str]] | None = None,
    ) -> dict[int, float]:
        """BM25 of each row's own text against the weighted stems.

        ``unweighted`` names, for some rows, words that add no weight there (a name the turn addresses:
        "Thanks, Sam! The pottery class..."). Other words of the same stem ("Rose" and "roses") still count.
        """
        scores = dict.fromkeys(words_of, 0.0)
        if not weights:
            return scores
        unweighted = unweighted or {}
        # A word can only stem to a prompt stem if it starts like one (Porter rewrites only the end
        # of a word, never its first three letters): only the distinct words that do are stemmed. The
        # words known to match are then found from the prompt's stems, not by looking up every word.
        heads = {stem[:3] for stem in weights}
        vocabulary: set[str] = set().union(*words_of.values())
        with self.lock:
            emptied = self.emptied
            self._stem(sorted(w for w in vocabulary.difference(self.known) if w[:3] in heads))
            if self.emptied != emptied:  # what was known before is gone: stem every word that may match
                self._stem(sorted(w for w in vocabulary if w[:3] in heads))
            matching = {
                word: stem
                for stem in weights
                for word in self.words_of_stem.get(stem, ())
                if word in vocabulary and word[:3] in heads
            }
        if not matching:
            return scores
        average = (sum(map(len, words_of.values())) / len(words_of)) or 1.0
        for rowid, words in words_of.items():
            found = matching.keys() & words
            if not found:
                continue
            counts: dict[str, int] = {}
            for word in found:
                stem = matching[word]
                counts[stem] = counts.get(stem, 0) + words.count(word)
            for word in set(unweighted.get(rowid, ())):
                if word in found:
                    counts[matching[word]] = max(counts[matching[word]] - words.count(word), 0)
            norm = K1 * (1.0 - B + B * len(words) / average)
            scores[rowid] = sum(weights[stem] * tf * (K1 + 1.0) / (tf + norm) for stem, tf in counts.items())
        return scores


_STEMS: Stems | None = None


def stems_of() -> Stems:
    """The process's one ``Stems``."""
    global _STEMS
    if _STEMS is None:
        _STEMS = Stems()
    return _STEMS
