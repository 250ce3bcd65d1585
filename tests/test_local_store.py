"""The embedded SQLite store: writes, scoping, ranking, forgetting, migrations, and concurrency.

Every test uses a real SQLite file in the test's private data dir (see ``conftest.isolated_home``).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from mem0_hooks.backends import local
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import MIGRATIONS, LocalStore, scope_token
from mem0_hooks.ranking import lexical, speakers, turns
from mem0_hooks.ranking.query import analyse, query_words, split_words

PROJECT = "/work/kestrel"
OTHER = "/work/osprey"


def turn(
    n: int,
    text: str,
    *,
    session: str = "s1",
    project: str = PROJECT,
    role: str | None = None,
    when: str | None = None,
    scope: str = "project",
) -> MemoryItem:
    return MemoryItem(
        id=f"{session}-{n}",
        text=text,
        role=role or ("user" if n % 2 else "assistant"),
        created_at=when or f"2026-03-{n % 28 + 1:02d}T10:{n % 60:02d}:00Z",
        session_id=session,
        project=project,
        scope=scope,
        seq=n,
    )


@pytest.fixture
def store(isolated_home: Path) -> LocalStore:
    s = LocalStore()
    yield s
    s.close()


def texts(memories) -> list[str]:
    return [m.text for m in memories]


# -- writes ------------------------------------------------------------------------------------------
def test_add_stores_each_id_once(store: LocalStore) -> None:
    item = turn(1, "We picked SQLite in WAL mode for the queue ledger")
    store.add([item])
    store.add([item, item])  # a redelivery
    assert store.count() == 1
    copy = turn(1, item.text, session="s2")  # same words, another session: another memory
    store.add([copy])
    assert store.count() == 2
    assert len(store.search("sqlite ledger", project=PROJECT, limit=10)) == 2


def test_store_file_is_private_and_in_wal_mode(store: LocalStore) -> None:
    store.add([turn(1, "hello world of kestrel")])
    assert (Path(store.path).stat().st_mode & 0o777) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "1 memories" in store.health()


def test_empty_store_and_empty_prompts_find_nothing(store: LocalStore) -> None:
    assert store.search("kestrel deploy", project=PROJECT, limit=5) == []
    store.add([turn(1, "kestrel deploy uses helm")])
    assert store.search("what did we do?", project=PROJECT, limit=5) == []  # stopwords only
    assert store.search("", project=PROJECT, limit=5) == []
    assert store.search('"; DROP TABLE memories; --', project=PROJECT, limit=5) == []
    assert store.search('kestrel AND OR NOT "(', project=PROJECT, limit=5)  # FTS syntax is only text


# -- scoping -----------------------------------------------------------------------------------------
def test_search_is_scoped_to_the_project_plus_user_wide_memories(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "The kestrel deploy runs helm upgrade with atomic", project=PROJECT),
            turn(1, "The osprey deploy runs helm upgrade without atomic", session="o1", project=OTHER),
            turn(1, "Always run helm diff before any deploy", session="u1", project=OTHER, scope="user"),
        ]
    )
    found = texts(store.search("helm deploy", project=PROJECT, limit=10))
    assert "The kestrel deploy runs helm upgrade with atomic" in found
    assert "Always run helm diff before any deploy" in found
    assert not any("osprey" in t for t in found)
    assert not any("kestrel" in t for t in texts(store.search("helm deploy", project=OTHER, limit=10)))


def test_scope_token_collisions_cannot_leak_another_project(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "scope_token", lambda project, scope="project": "0" if scope == "user" else "1")
    store = LocalStore()
    store.add(
        [
            turn(1, "kestrel secret rotation schedule"),
            turn(1, "osprey secret rotation schedule", session="o", project=OTHER),
        ]
    )
    assert texts(store.search("secret rotation", project=PROJECT, limit=10)) == ["kestrel secret rotation schedule"]
    store.close()


def test_scope_tokens_are_digits_only() -> None:
    assert scope_token("/a", "user") == "0"
    token = scope_token("/home/u/proj-ä")
    assert token.isdigit() and token != scope_token("/home/u/proj-b")


# -- ranking -----------------------------------------------------------------------------------------
def test_a_turn_is_found_by_the_question_put_to_it(store: LocalStore) -> None:
    """The answer shares no word with the prompt; the question before it does."""
    store.add(
        [
            turn(1, "Which message broker should the billing service use?"),
            turn(2, "RabbitMQ, with quorum queues and publisher confirms."),
            turn(3, "Thanks, and the retry policy?"),
            turn(4, "Exponential backoff capped at ten minutes."),
        ]
    )
    found = store.search_turns("what broker does billing use", project=PROJECT, limit=10)
    assert "RabbitMQ, with quorum queues and publisher confirms." in texts(found.memories[:3])
    by_id = {m.text: m.id for m in found.memories}
    assert (
        found.follows[by_id["RabbitMQ, with quorum queues and publisher confirms."]]
        == by_id["Which message broker should the billing service use?"]
    )


def test_rare_words_outweigh_common_ones(store: LocalStore) -> None:
    common = [turn(n, f"the deploy went fine today, deploy number {n}") for n in range(1, 30)]
    store.add(common + [turn(40, "the zeppelin flag broke the deploy")])
    assert store.search("zeppelin deploy", project=PROJECT, limit=3)[0].text == "the zeppelin flag broke the deploy"


def _zeppelin_everywhere(store: LocalStore) -> None:
    """An older turn about a quokka, then a hundred newer turns that all say zeppelin."""
    store.add([turn(1, "the quokka release broke", session="s2", when="2026-01-01T10:00:00Z")])
    store.add([turn(n, f"zeppelin rollout step {n}", session="s3", when="2026-02-01T10:00:00Z") for n in range(100)])


def test_word_counts_follow_a_store_that_another_process_fills(store: LocalStore, isolated_home: Path) -> None:
    """Counts are kept between searches, yet a word that became common stops counting as rare."""
    store.add([turn(n, f"filler note number {n}") for n in range(1, 30)] + [turn(40, "the zeppelin flag")])
    assert store.search("zeppelin", project=PROJECT, limit=1)[0].text == "the zeppelin flag"
    other = LocalStore()  # another process's connection
    _zeppelin_everywhere(other)
    other.close()
    assert store.search("zeppelin quokka", project=PROJECT, limit=1)[0].text == "the quokka release broke"


def test_word_counts_are_not_carried_over_to_a_replaced_store_file(isolated_home: Path, tmp_path: Path) -> None:
    first = LocalStore()  # as many rows as the replacement: only the file tells them apart
    first.add([turn(n, f"filler note number {n}") for n in range(1, 101)] + [turn(140, "the zeppelin flag")])
    assert first.search("zeppelin", project=PROJECT, limit=1)[0].text == "the zeppelin flag"
    replacement = LocalStore(str(tmp_path / "restored.sqlite3"))
    _zeppelin_everywhere(replacement)
    replacement.close()
    first.close()
    Path(replacement.path).replace(first.path)  # e.g. a backup restored
    restored = LocalStore()
    assert restored.search("zeppelin quokka", project=PROJECT, limit=1)[0].text == "the quokka release broke"
    restored.close()


def test_common_words_are_estimated_past_the_count_limit(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting stops at ``COUNT_LIMIT`` matches; the rest is estimated from how far those reach."""
    monkeypatch.setattr(lexical, "COUNT_LIMIT", 10)
    store.add([turn(n, "kestrel deploy" if n % 4 == 0 else f"note {n}") for n in range(200)])
    counts = lexical.word_counts(store, store.scope_match(PROJECT))
    assert counts.total == 200
    assert 35 <= counts.count(store, 'text : "kestrel"') <= 65  # 50 in truth


def test_stemming_matches_other_forms_of_a_word(store: LocalStore) -> None:
    store.add([turn(1, "She adopted two puppies from the shelter"), turn(3, "unrelated note about taxes")])
    assert store.search("adopting a puppy", project=PROJECT, limit=1)[0].text.startswith("She adopted")


def test_a_named_date_finds_the_turns_of_that_day(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "Kicked off the kestrel migration", session="a", when="2026-02-03T09:00:00Z"),
            turn(2, "Fixed the login page styles", session="b", when="2026-03-14T09:00:00Z"),
            turn(3, "Reviewed the payment retries", session="c", when="2026-04-20T09:00:00Z"),
        ]
    )
    assert (
        store.search("what happened on 14 March 2026?", project=PROJECT, limit=3)[0].text
        == "Fixed the login page styles"
    )
    assert (
        store.search("what did we fix in March 2026", project=PROJECT, limit=3)[0].text == "Fixed the login page styles"
    )


def test_when_questions_prefer_turns_that_say_when(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "The kestrel cluster upgrade is a big job", session="a", when="2026-02-03T09:00:00Z"),
            turn(1, "We did the kestrel cluster upgrade last Friday", session="b", when="2026-02-10T09:00:00Z"),
        ]
    )
    best = store.search("When did we do the kestrel cluster upgrade?", project=PROJECT, limit=2)[0]
    assert best.text == "We did the kestrel cluster upgrade last Friday"


def test_the_newer_of_two_equal_memories_ranks_first(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "The staging password policy changed", session="old", when="2025-01-01T00:00:00Z"),
            turn(1, "The staging password policy changed", session="new", when="2026-01-01T00:00:00Z"),
        ]
    )
    first, second = store.search("staging password policy", project=PROJECT, limit=2)
    assert first.session_id == "new" and second.session_id == "old"


def test_irregular_forms_of_a_prompt_word_are_searched_too(store: LocalStore) -> None:
    # Porter stems "buy" and "bought", "child" and "children" apart; the prompt's word brings the others.
    store.add(
        [
            turn(1, "We bought a second-hand Subaru for the school run"),
            turn(2, "The children start swimming lessons on Monday", session="s2"),
            turn(3, "Lunch was a sandwich at the desk again", session="s3"),
        ]
    )
    assert texts(store.search("which one did we buy?", project=PROJECT, limit=5)) == [
        "We bought a second-hand Subaru for the school run"
    ]
    assert "The children start swimming lessons on Monday" in texts(
        store.search("what does each child have on mondays", project=PROJECT, limit=5)
    )


# -- who a prompt is about, and what sessions were about ------------------------------------------------
def _kayaking(store: LocalStore) -> None:
    """The user calls the assistant Sam (odd turns are the user's)."""
    store.add(
        [
            turn(1, "Hey Sam! What did you do this weekend?", session="a"),
            turn(2, "I went kayaking on the lake with my brother.", session="a"),
            turn(3, "Kayaking sounds lovely, Sam! I only read a book about kayaking.", session="a"),
            turn(1, "Morning, Sam! Ready for the kayaking trip?", session="b"),
            turn(2, "Almost, the paddles are in the car.", session="b"),
            turn(1, "Thanks, Sam, see you on the water.", session="c"),
        ]
    )


def test_a_prompt_about_someone_ranks_what_they_said_over_what_was_said_to_them(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kayaking(store)
    answer = "I went kayaking on the lake with my brother."
    assert texts(store.search("Where did Sam go kayaking?", project=PROJECT, limit=3))[0] == answer
    monkeypatch.setattr(turns, "SPEAKER_BOOST", 0.0)  # without it, the turns that greet Sam win
    assert texts(store.search("Where did Sam go kayaking?", project=PROJECT, limit=3))[0] != answer


def test_a_prompts_names_are_its_capitalised_words_that_do_not_start_a_sentence() -> None:
    assert analyse("What did Sam cook? Ask Priya's team about SQL.").names == ["sam", "priya"]
    assert analyse("Fix the Postgres pool").names == ["postgres"]  # a capital is all we know of a name
    assert analyse("what did sam cook?").names == []


def test_a_name_only_mentioned_says_nothing_about_who_speaks() -> None:
    said = [
        (1, "user", "I asked Priya about the migration."),
        (2, "user", "Should we check the schema with Priya?"),
        (3, "user", "Priya, Tom and I will review it."),
        (4, "user", "Ping Priya, she owns the exporter."),
        (5, "user", "Priya wants the index first."),
    ]
    rows = {rowid: (rowid, f"id{rowid}", text, role) + ("",) * 6 for rowid, role, text in said}
    words_of = {rowid: tuple(split_words(rows[rowid][local.TEXT])) for rowid in rows}
    assert speakers.spoken_of(["priya"], rows, words_of) == (None, {})
    greeted = {rowid: (rowid, f"id{rowid}", f"Thanks, Priya! ({rowid})", "user") + ("",) * 6 for rowid in range(6, 10)}
    words_of.update({rowid: tuple(split_words(greeted[rowid][local.TEXT])) for rowid in greeted})
    expected = ("assistant", {rowid: ["priya"] for rowid in greeted})  # the turns that address her, not mentions
    assert speakers.spoken_of(["priya"], rows | greeted, words_of) == expected
    assert speakers.spoken_of(["priya", "tom"], rows | greeted, words_of) == expected


def test_a_turn_that_only_greets_the_person_asked_about_does_not_match_their_name(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Thanks, Sam, see you on the water." is said to Sam: it tells nothing about where Sam went.
    _kayaking(store)
    greeting = "Thanks, Sam, see you on the water."
    found = texts(store.search("Where did Sam go kayaking?", project=PROJECT, limit=10))
    assert "I went kayaking on the lake with my brother." in found and greeting not in found
    spoken_of = speakers.spoken_of
    monkeypatch.setattr(speakers, "spoken_of", lambda *args: (spoken_of(*args)[0], {}))  # the name counts there
    assert greeting in texts(store.search("Where did Sam go kayaking?", project=PROJECT, limit=10))


def test_a_name_a_turn_addresses_adds_no_weight_there() -> None:
    # "Thanks, Sam! ... kayaking" is said to Sam: it scores as the same words said to someone else would,
    # where "Sam" in a turn that is about Sam weighs.
    tokens = lexical.stems_of()
    to_sam = tuple(split_words("Thanks, Sam! The kayaking was lovely."))
    to_bob = tuple(split_words("Thanks, Bob! The kayaking was lovely."))
    weights = {"sam": 1.0, "kayak": 2.0}
    plain = tokens.scores({1: to_bob}, weights)[1]
    scored = tokens.scores({1: to_sam, 2: to_bob}, weights, {1: ["sam"]})
    assert scored[1] == pytest.approx(plain) and scored[2] == pytest.approx(plain)
    assert tokens.scores({1: to_sam}, weights)[1] > scored[1]  # where it is not an address, the name weighs


def test_only_the_addressed_name_loses_its_weight_not_other_words_of_its_stem() -> None:
    tokens = lexical.stems_of()
    words = tuple(split_words("Thanks, Rose! The roses are out."))
    weights = {"rose": 1.0}
    assert tokens.scores({1: words}, weights, {1: ["rose"]})[1] > 0  # "roses" still matches
    greeting = tuple(split_words("Rose, Rose, Rose!"))
    assert tokens.scores({1: greeting}, weights, {1: ["rose", "rose"]})[1] == 0  # never below nothing


def _sessions_with_openings(store: LocalStore) -> None:
    """s2 settles the retry policy at its 12th turn; s4, a later session, says nothing about it."""
    store.add(
        [turn(1, "Today: move the invoice exporter off cron and onto the job runner.", session="s2")]
        + [turn(n, f"step {n} of the move, done", session="s2") for n in range(2, 12)]
        + [turn(12, RETRIES, session="s2")]
    )
    store.add([turn(1, "Let's tidy up the onboarding docs.", session="s4", when="2026-03-20T09:00:00Z")])
    store.add([turn(2, "Sure, starting with the README.", session="s4", when="2026-03-20T09:01:00Z")])


RETRIES = "For retries we settled on exponential backoff, capped at ten minutes."
TIDY_DOCS = "Let's tidy up the onboarding docs."


def test_the_opening_of_a_recent_session_is_found_without_a_matching_word(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A session's first prompt says what the session was for: it joins the turns that match, after them.
    _sessions_with_openings(store)
    found = texts(store.search("what retry backoff did we settle on", project=PROJECT, limit=20))
    assert found[0] == RETRIES
    assert TIDY_DOCS in found  # another session, not a word in common
    assert "Sure, starting with the README." not in found  # only openings come in on their own
    assert texts(store.search("anything about kubernetes?", project=PROJECT, limit=20)) == []  # nothing matched
    monkeypatch.setattr(turns, "OPENING_BASE", 0.0)
    assert TIDY_DOCS not in texts(store.search("what retry backoff did we settle on", project=PROJECT, limit=20))


def test_turns_a_search_skips_do_not_count_as_matches(store: LocalStore) -> None:
    # Claude has the current session's turns and those injected before; matched only by them, a
    # prompt does not pull in the openings of other sessions.
    _sessions_with_openings(store)
    prompt = "what retry backoff did we settle on"
    assert texts(store.search_turns(prompt, project=PROJECT, skip_session="s2").memories) == []
    found = texts(store.search_turns(prompt, project=PROJECT, skip_ids={"s2-12"}).memories)
    assert RETRIES not in found and TIDY_DOCS not in found
    assert texts(store.search_turns(prompt, project=PROJECT, skip_session="s4").memories)[0] == RETRIES


def test_openings_are_read_by_index(store: LocalStore) -> None:
    _sessions_with_openings(store)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    store.search("what retry backoff did we settle on", project=PROJECT, limit=10)
    store.db.set_trace_callback(None)
    (openings,) = [sql for sql in statements if "seq = 1" in sql]  # as the search ran it, values filled in
    plan = " ".join(str(tuple(r)) for r in store.db.execute(f"EXPLAIN QUERY PLAN {openings}"))
    assert "memories_openings" in plan


# -- neighbours --------------------------------------------------------------------------------------
def test_neighbours_are_the_turns_around_a_memory(store: LocalStore) -> None:
    store.add([turn(n, f"turn number {n}") for n in (1, 2, 4, 7)])  # seq gaps are normal
    middle = next(m for m in store.list() if m.text == "turn number 4")
    before, after = store.neighbours(middle)
    assert texts(before) == ["turn number 2"] and texts(after) == ["turn number 7"]
    before, after = store.neighbours(middle, before=5, after=5)
    assert texts(before) == ["turn number 1", "turn number 2"] and texts(after) == ["turn number 7"]


def test_context_column_holds_both_neighbours_even_when_turns_arrive_out_of_order(store: LocalStore) -> None:
    store.add([turn(3, "third"), turn(1, "first")])
    store.add([turn(2, "second")])

    def context(text: str) -> str:
        return store.db.execute(
            "SELECT f.context FROM memories_fts f JOIN memories m ON m.rowid = f.rowid WHERE m.text = ?", (text,)
        ).fetchone()["context"]

    assert context("second") == "first\nthird"
    assert context("first") == "second" and context("third") == "second"  # stored earlier, refreshed
    store.add([turn(4, "fourth"), turn(9, "elsewhere", session="s2")])
    assert context("third") == "second\nfourth" and context("elsewhere") == ""


def segments(store: LocalStore) -> int:
    """How many pieces (FTS5 segments) the full-text index is in: every search reads each of them."""
    return store.db.execute("SELECT count(DISTINCT segid) FROM memories_fts_idx").fetchone()[0]


def add_stops(store: LocalStore, stops: int, *, per_stop: int = 4) -> None:
    """What a flusher does over a long session: one small ``add`` per Stop, each next to the last."""
    for stop in range(stops):
        store.add([turn(stop * per_stop + i + 1, f"turn {stop}.{i} about the kestrel deploy") for i in range(per_stop)])


def test_a_write_adds_one_piece_to_the_index_whatever_neighbours_it_refreshes(store: LocalStore) -> None:
    add_stops(store, 3)
    store.tidy()
    before = segments(store)
    store.add([turn(100 + i, f"late turn {i}", session=f"s{i % 3}") for i in range(6)])  # refreshes older turns
    assert segments(store) == before + 1  # was one more per neighbour refreshed out of rowid order


def test_tidy_keeps_the_index_in_few_pieces_without_changing_what_is_found(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_stops(store, 6)
    found = [(m.id, m.score) for m in store.search("kestrel deploy turn", project=PROJECT, limit=20)]
    pieces = segments(store)
    assert pieces > 3
    assert store.tidy() == "merged"
    assert segments(store) < pieces
    assert store.tidy() == ""  # nothing left to merge
    assert [(m.id, m.score) for m in store.search("kestrel deploy turn", project=PROJECT, limit=20)] == found
    store.add([turn(99, "one more piece", session="s9")])
    assert segments(store) > 1
    monkeypatch.setattr(local, "TIDY_SEGMENTS", 0)  # whatever merging leaves is too many: rewrite as one
    assert store.tidy() == "optimized"
    assert segments(store) == 1
    assert [(m.id, m.score) for m in store.search("kestrel deploy turn", project=PROJECT, limit=20)] == found
    store.db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")  # raises if corrupt


def test_tidy_merges_many_one_item_writes_without_rewriting_the_index(store: LocalStore) -> None:
    # A remote store with the local mirror writes the mirror one item at a time.
    for n in range(1, 41):
        store.add([turn(n, f"mirrored turn {n} about the kestrel deploy")])
    assert segments(store) > local.TIDY_SEGMENTS
    assert store.tidy() == "merged"
    assert segments(store) <= local.TIDY_SEGMENTS


def test_the_wal_is_cut_back_after_a_big_write(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "WAL_KEPT_BYTES", 64 * 1024)
    store = LocalStore()
    try:
        store.add([turn(n, f"turn {n} " + "lorem ipsum dolor " * 40) for n in range(1, 400)])
        wal = Path(store.path + "-wal")
        grown = wal.stat().st_size
        assert grown > 256 * 1024
        store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        store.add([turn(500, "one more")])  # the next write starts the WAL over: cut back to the limit
        assert wal.stat().st_size < 128 * 1024 < grown  # the limit, plus what that write added
    finally:
        store.close()


# -- forgetting --------------------------------------------------------------------------------------
def test_delete_forgets_the_turn_and_its_copy_in_the_neighbours_context(store: LocalStore) -> None:
    store.add([turn(1, "how do we reach the vault?"), turn(2, "the vault password is hunter2zebra"), turn(3, "thanks")])
    secret = next(m for m in store.list() if "hunter2zebra" in m.text)
    assert store.delete(secret.id) is True
    assert store.delete(secret.id) is False
    assert store.search("hunter2zebra", project=PROJECT, limit=10) == []
    contexts = [r[0] for r in store.db.execute("SELECT context FROM memories_fts")]
    assert contexts and not any("hunter2zebra" in c for c in contexts)
    assert [r[0] for r in store.db.execute("SELECT context FROM memories_fts ORDER BY rowid")] == [
        "thanks",
        "how do we reach the vault?",
    ]


def test_forgotten_text_leaves_no_bytes_in_the_database_file(store: LocalStore) -> None:
    store.add([turn(n, f"filler turn {n} about the kestrel cluster") for n in range(1, 40)])
    store.add([turn(50, "the root token is ZEBRA-QUOKKA-77")])
    doomed = next(m for m in store.list() if "QUOKKA" in m.text)
    store.delete(doomed.id)
    store.close()
    for suffix in ("", "-wal"):
        path = Path(str(local.paths.store_db()) + suffix)
        if path.exists():
            assert b"QUOKKA" not in path.read_bytes().upper(), path


def test_retention_forgets_older_memories_and_repairs_context(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "ancient decision about the ledger", when="2025-01-01T00:00:00Z"),
            turn(2, "recent decision about the ledger", when="2026-06-01T00:00:00Z"),
            turn(1, "ancient note elsewhere", session="s2", when="2025-02-01T00:00:00Z"),
        ]
    )
    assert store.delete_older_than("2026-01-01T00:00:00Z") == 2
    assert texts(store.list()) == ["recent decision about the ledger"]
    assert store.db.execute("SELECT context FROM memories_fts").fetchone()[0] == ""
    assert store.search("ancient", project=PROJECT, limit=5) == []


def test_delete_all_for_one_project_keeps_the_others(store: LocalStore) -> None:
    store.add([turn(1, "kestrel one"), turn(2, "kestrel two"), turn(1, "osprey one", session="o", project=OTHER)])
    assert store.delete_all(project=PROJECT) == 2
    assert texts(store.list()) == ["osprey one"]
    assert store.delete_all() == 1
    assert store.count() == 0
    assert store.db.execute("SELECT count(*) FROM memories_fts").fetchone()[0] == 0


# -- migrations --------------------------------------------------------------------------------------
def test_a_new_store_has_every_migration(store: LocalStore) -> None:
    store.add([turn(1, "x marks the spot")])
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    names = [r[0] for r in store.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    columns = [r[1] for r in store.db.execute("PRAGMA table_info(memories_fts)")]
    assert columns == ["text", "context", "scope"]


def test_a_version_1_store_is_upgraded_in_place(isolated_home: Path) -> None:
    path = local.paths.store_db()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in local.M001_INITIAL:
        db.execute(statement)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    db.execute("INSERT INTO migrations VALUES ('m001_initial', 0)")
    db.execute(
        "INSERT INTO memories (rowid, id, text, role, created_at, session_id, project, scope, seq, added_at)"
        " VALUES (1, 'old-1', 'the osprey backups run nightly', 'user', '2026-01-01T00:00:00Z', 's', ?,"
        " 'project', 1, 0)",
        (PROJECT,),
    )
    db.execute("INSERT INTO memories_fts (rowid, text, context) VALUES (1, 'the osprey backups run nightly', '')")
    db.execute("PRAGMA user_version = 1")
    db.close()

    store = LocalStore()
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert texts(store.search("osprey backups", project=PROJECT, limit=5)) == ["the osprey backups run nightly"]
    assert store.search("osprey backups", project=OTHER, limit=5) == []
    store.add([turn(2, "and they are kept for thirty days", session="s")])
    assert store.count() == 2
    store.close()
    again = LocalStore()  # opening once more applies nothing twice
    assert [r[0] for r in again.db.execute("SELECT name FROM migrations ORDER BY name")] == [n for n, _ in MIGRATIONS]
    again.close()


# -- concurrency -------------------------------------------------------------------------------------
def test_readers_keep_searching_while_a_writer_adds(isolated_home: Path) -> None:
    LocalStore().add([turn(0, "seed turn about the kestrel cluster", session="w")])
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[list[int]] = []

    def write() -> None:
        writer = LocalStore()
        try:
            for batch in range(30):
                writer.add(
                    [turn(batch * 10 + k + 1, f"kestrel cluster note {batch}-{k}", session="w") for k in range(10)]
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            writer.close()
            done.set()

    def read() -> None:
        reader = LocalStore()
        counts: list[int] = []
        try:
            while not done.is_set():
                counts.append(reader.count())
                reader.search("kestrel cluster note", project=PROJECT, limit=5)
            counts.append(reader.count())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            reader.close()
            seen.append(counts)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(seen) == 3
    for counts in seen:
        assert counts == sorted(counts)  # a reader never sees a write undone
        assert counts[-1] == 301


# -- orientation reads -------------------------------------------------------------------------------
def test_recent_merges_the_project_and_user_wide_memories_newest_first(store: LocalStore) -> None:
    store.add(
        [
            turn(1, "kestrel old", when="2026-01-01T00:00:00Z"),
            turn(2, "kestrel new", when="2026-03-01T00:00:00Z"),
            turn(1, "user-wide middle", session="u", project=OTHER, scope="user", when="2026-02-01T00:00:00Z"),
            turn(1, "osprey newest", session="o", project=OTHER, when="2026-04-01T00:00:00Z"),
        ]
    )
    assert texts(store.recent(project=PROJECT, limit=2)) == ["kestrel new", "user-wide middle"]
    assert texts(store.recent(project=PROJECT, limit=10)) == ["kestrel new", "user-wide middle", "kestrel old"]


def test_notes_are_read_by_index(store: LocalStore) -> None:
    store.add([turn(1, "a turn"), turn(2, "remember: deploys on Tuesdays", role="note")])
    assert texts(store.notes(project=PROJECT, limit=5)) == ["remember: deploys on Tuesdays"]
    plan = " ".join(
        str(tuple(r))
        for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM memories WHERE role = 'note' AND (project = ? OR scope = 'user')"
            " ORDER BY created_at DESC LIMIT 5",
            (PROJECT,),
        )
    )
    assert "memories_role_created" in plan


# -- compatibility -----------------------------------------------------------------------------------
def test_query_terms_keeps_content_words() -> None:
    assert query_words("What did we decide about the Postgres migration?") == ["decide", "postgres", "migration"]


def test_recall_for_prompt_uses_the_local_ranking(store: LocalStore, isolated_home: Path) -> None:
    from mem0_hooks import recall
    from tests.support.stores import config_dict

    store.add(
        [
            turn(1, "Which message broker should the billing service use?", session="old"),
            turn(2, "RabbitMQ, with quorum queues and publisher confirms.", session="old"),
            turn(1, "Current session: what broker again?", session="now"),
        ]
    )
    config = config_dict()
    block, ids = recall.for_prompt(
        "which broker does the billing service use?", session_id="now", project=PROJECT, config=config, state={}
    )
    assert "RabbitMQ, with quorum queues and publisher confirms." in block
    assert "Current session" not in block  # already in Claude's context
    assert len(block) <= config["memory"]["context_budget_chars"]
    again, _ = recall.for_prompt(
        "which broker does the billing service use?",
        session_id="now",
        project=PROJECT,
        config=config,
        state={"injected": ids},
    )
    assert "RabbitMQ" not in again  # not injected twice in one session


def test_a_prompt_only_the_current_session_matches_injects_nothing(store: LocalStore) -> None:
    from mem0_hooks import recall
    from tests.support.stores import config_dict

    _sessions_with_openings(store)
    block, ids = recall.for_prompt(
        "what retry backoff did we settle on", session_id="s2", project=PROJECT, config=config_dict(), state={}
    )
    assert (block, ids) == ("", [])


def _one_clear_answer(store: LocalStore) -> None:
    """One exchange answers which broker billing uses; ten other sessions only mention a service."""
    store.add(
        [
            turn(1, "Which message broker should the billing service use?", session="old"),
            turn(2, "RabbitMQ, with quorum queues and publisher confirms.", session="old"),
        ]
        + [
            turn(1, f"The {thing} service needs a new owner this quarter.", session=f"chat{n}")
            for n, thing in enumerate(
                [
                    "printer",
                    "badge",
                    "parking",
                    "catering",
                    "mail",
                    "shuttle",
                    "locker",
                    "laundry",
                    "canteen",
                    "cleaning",
                ]
            )
        ]
    )


def test_turns_far_below_the_best_match_are_left_out(store: LocalStore) -> None:
    _one_clear_answer(store)
    prompt = "which broker does the billing service use?"
    everything = store.search_turns(prompt, project=PROJECT).memories
    assert len(everything) == 12  # "service" alone matches the others
    kept = store.search_turns(prompt, project=PROJECT, min_share=0.2).memories
    assert set(texts(kept)) == {
        "Which message broker should the billing service use?",
        "RabbitMQ, with quorum queues and publisher confirms.",
    }
    assert all(m.score >= 0.2 * kept[0].score for m in kept)


def test_a_prompt_with_one_clear_answer_gets_a_short_block(store: LocalStore) -> None:
    from mem0_hooks import recall
    from tests.support.stores import config_dict

    _one_clear_answer(store)
    config = config_dict()
    prompt = "which broker does the billing service use?"
    block, ids = recall.for_prompt(prompt, session_id="now", project=PROJECT, config=config, state={})
    assert "RabbitMQ, with quorum queues" in block and ids == ["old-1", "old-2"]
    assert "printer" not in block and len(block) < 1000
    config["memory"]["min_relevance"] = 0.0  # fill the budget with whatever matched
    block, ids = recall.for_prompt(prompt, session_id="now", project=PROJECT, config=config, state={})
    assert "printer" in block and len(ids) == 12


# -- what a search remembers between searches ----------------------------------------------------------
def test_a_word_in_every_memory_still_recalls_after_memories_were_added(store: LocalStore) -> None:
    """The project's memory count is reused between searches until the store grew by 5%, a rare word's
    count is made at every search: right after one memory more, every prompt word was in more memories
    than the count said there were. Its weight went below zero and the prompt recalled nothing (found
    through the warm process, which serves many prompts with one count)."""
    said = "The stripe webhook retries use an idempotency key (note {})."
    store.add([turn(n, said.format(n)) for n in range(1, 21)])
    question = "How do the stripe webhook retries use the idempotency key?"
    assert store.search_turns(question, project=PROJECT, min_share=0.2).memories  # counts the project: 20
    store.add([turn(21, said.format(21), session="s2")])

    found = store.search_turns(question, project=PROJECT, min_share=0.2)

    assert "The stripe webhook retries use an idempotency key (note 21)." in texts(found.memories)


def ranking(store: LocalStore, query: str) -> list[tuple[str, float | None]]:
    return [(m.text, m.score) for m in store.search(query, project=PROJECT, limit=10)]


def test_remembered_words_are_not_reused_for_a_new_turn_on_a_forgotten_turns_rowid(store: LocalStore) -> None:
    store.add([turn(n, f"filler note number {n}") for n in range(1, 20)] + [turn(30, "the zeppelin flag broke")])
    assert ranking(store, "zeppelin flag")[0][0] == "the zeppelin flag broke"  # its words are remembered now
    rowid = store.db.execute("SELECT rowid FROM memories WHERE id = 's1-30'").fetchone()[0]
    assert store.delete("s1-30")
    store.add([turn(31, "zeppelin zeppelin flag flag flag, a note")])
    assert store.db.execute("SELECT rowid FROM memories WHERE id = 's1-31'").fetchone()[0] == rowid  # reused
    fresh = LocalStore()  # remembers nothing yet
    assert ranking(store, "zeppelin flag") == ranking(fresh, "zeppelin flag")
    fresh.close()


def test_stems_forgotten_to_make_room_are_found_again(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add([turn(n, f"she adopted puppy number {n} from the shelter, then adopting more") for n in range(1, 9)])
    expected = ranking(store, "adopting puppies shelter")
    monkeypatch.setattr(lexical, "_STEMS", lexical.Stems())
    monkeypatch.setattr(lexical, "KNOWN_STEMS", 4)  # every search empties the stems it knew, halfway through
    assert ranking(store, "adopting puppies shelter") == expected
    assert lexical._STEMS is not None and lexical._STEMS.emptied


def test_shrinking_to_a_cap_forgets_the_oldest_turns_first_and_notes_last(store: LocalStore) -> None:
    big = " ".join(f"word{n}" for n in range(300))
    store.add([turn(1, "remember: deploys need the VPN", role="note", when="2020-01-01T00:00:00Z")])
    store.add([turn(n, f"turn {n} {big}", when=f"2026-01-01T00:{n:02d}:00Z") for n in range(2, 60)])
    before = store.used_bytes()
    assert store.shrink_to(before * 10) == 0  # under the cap: nothing forgotten
    forgotten = store.shrink_to(before // 2)
    assert forgotten > 0 and store.used_bytes() <= before // 2
    kept = texts(store.list())
    assert "remember: deploys need the VPN" in kept  # the note, though the oldest, stays
    newest_first = [f"turn {n} {big}" for n in range(59, 1, -1)]
    assert [t for t in kept if t.startswith("turn")] == newest_first[: len(kept) - 1]  # the newest turns stay


def test_a_deep_page_of_list_is_the_same_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``list(offset=...)`` far into a project (found through the index) gives exactly the rows of the
    plain newest-first order, ties on the date broken by ``seq`` as there."""
    store = LocalStore(str(tmp_path / "m.sqlite3"))
    store.add(
        [
            MemoryItem(
                id=f"t{n}",
                text=f"turn {n}",
                role="user",
                created_at=f"2026-03-{1 + n // 40:02d}T10:00:{(n // 7) % 60:02d}Z",  # runs of equal dates
                session_id=f"s{n // 9}",
                project="/p" if n % 5 else "/other",
                seq=n % 9,
            )
            for n in range(400)
        ]
    )
    everything = [m.id for m in store.list(project="/p")]
    monkeypatch.setattr(local, "DEEP_OFFSET", 0)
    for offset in (0, 1, 6, 7, 50, 137, 250, 319, 320, 400):
        for limit in (1, 13, 50):
            assert [m.id for m in store.list(project="/p", limit=limit, offset=offset)] == everything[
                offset : offset + limit
            ], (offset, limit)
    assert [m.id for m in store.list(project="/p", offset=300)] == everything[300:]
