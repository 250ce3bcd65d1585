"""The viewer's pages: plain data in, HTML out (``markup.el``: every value escaped). No script at all:
forms post, links navigate, and ``<details>`` asks "really?" before a forget."""

from __future__ import annotations

import os
import time
from typing import Any

from mem0_hooks.viewer.markup import Markup, el, join, url

TEXT_SHOWN = 1200  # characters of a memory shown before "the rest"

NAV = (
    ("/", "Projects"),
    ("/search", "Search"),
    ("/injections", "Injections"),
    ("/queue", "Queue"),
)

CSS = """
:root { --fg: #1d2330; --muted: #5d6675; --line: #dfe3ea; --bg: #f6f7f9; --card: #fff; --accent: #3451b2;
  --warn-bg: #fff4e5; --warn: #8a4b00; --bad-bg: #fdecec; --bad: #9b1c1c; --ok-bg: #eaf6ec; --ok: #1d6b2f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
header { background: #1d2330; color: #fff; padding: 0 24px; display: flex; gap: 28px; align-items: center; }
header .brand { font-weight: 700; letter-spacing: .02em; padding: 12px 0; }
header nav a { color: #cfd6e4; text-decoration: none; padding: 14px 4px; display: inline-block; margin-right: 14px; }
header nav a.on { color: #fff; border-bottom: 3px solid #8fa8ff; }
header .store { margin-left: auto; color: #aab3c5; font-size: 13px; }
main { max-width: 1080px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 26px 0 10px; }
.sub { color: var(--muted); font-size: 13px; margin: 0 0 14px; overflow-wrap: anywhere; }
a { color: var(--accent); }
.banner { border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.banner.bad { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3c4c4; }
.banner.warn { background: var(--warn-bg); color: var(--warn); border: 1px solid #f2d3a8; }
.banner.ok { background: var(--ok-bg); color: var(--ok); border: 1px solid #bfe3c6; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; overflow: hidden; }
th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.path { color: var(--muted); font-size: 12px; word-break: break-all; }
ul.memories, ul.timeline, ul.records { list-style: none; margin: 0; padding: 0; }
li.memory { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  margin: 0 0 10px; }
.meta { color: var(--muted); font-size: 12px; display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
.role { font-weight: 600; color: var(--fg); }
.role.user { color: #1d5fa8; } .role.assistant { color: #6b3fa0; } .role.note { color: #1d6b2f; }
.text { white-space: pre-wrap; word-wrap: break-word; margin-top: 4px; }
.score { font-variant-numeric: tabular-nums; font-weight: 600; color: var(--fg); }
code, .id { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
details.forget { display: inline-block; margin-top: 6px; }
details.forget summary { cursor: pointer; color: var(--bad); font-size: 12px; }
details.more summary { cursor: pointer; color: var(--accent); font-size: 12px; }
button { font: inherit; border-radius: 5px; border: 1px solid #b9c1d0; background: #fff; padding: 5px 12px;
  cursor: pointer; }
button.danger { border-color: #e0a3a3; color: var(--bad); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
form.inline { display: inline; }
form.row { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; margin: 8px 0 16px; }
input[type=text], input[type=search], select, textarea { font: inherit; padding: 6px 9px; border: 1px solid #b9c1d0;
  border-radius: 5px; background: #fff; }
input[type=search] { flex: 1 1 320px; } textarea { width: 100%; min-height: 64px; }
select { max-width: 320px; text-overflow: ellipsis; }
ul.timeline { border-left: 3px solid #c9d3ea; margin-left: 8px; }
ul.timeline li { position: relative; padding: 2px 0 14px 20px; }
ul.timeline li::before { content: ""; position: absolute; left: -8px; top: 8px; width: 13px; height: 13px;
  border-radius: 50%; background: #fff; border: 3px solid var(--accent); }
ul.timeline .when { font-weight: 600; } ul.timeline .opening { color: var(--fg); }
li.record { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  margin: 0 0 12px; }
li.record .prompt { font-style: italic; margin: 4px 0 8px; }
li.record table { border: 0; table-layout: fixed; } li.record td, li.record th { padding: 4px 8px; }
th.w-score, th.w-share { width: 90px; } th.w-chars { width: 70px; } th.w-id { width: 130px; }
meter { width: 70px; height: 10px; vertical-align: middle; }
.pager { margin: 14px 0; display: flex; gap: 14px; align-items: center; color: var(--muted); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 6px 0 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px;
  min-width: 150px; }
.card b { display: block; font-size: 20px; }
.empty { color: var(--muted); font-style: italic; }
"""


def layout(
    title: str,
    body: Any,
    *,
    active: str = "",
    store: str = "",
    notices: list[str] | None = None,
    problems: list[str] | None = None,
) -> str:
    """A whole page: header with the navigation, the banners, then ``body``."""
    nav = [el("a", label, href=path, class_="on" if path == active else None) for path, label in NAV]
    banners = [el("div", p, class_="banner bad", role="alert") for p in problems or []]
    banners += [el("div", n, class_="banner ok", role="status") for n in notices or []]
    page = el(
        "html",
        el(
            "head",
            el("meta", charset="utf-8"),
            el("meta", name="viewport", content="width=device-width, initial-scale=1"),
            el("title", f"{title} · mem0-hooks"),
            el("link", rel="stylesheet", href="/viewer.css"),
        ),
        el(
            "body",
            el(
                "header",
                el("span", "mem0-hooks", class_="brand"),
                el("nav", nav),
                el("span", store, class_="store"),
            ),
            el("main", banners, body),
        ),
        lang="en",
    )
    return "<!doctype html>\n" + page


# -- pieces --------------------------------------------------------------------------------------------
def when(stamp: str | float | None) -> str:
    """A stored ISO date (``2026-11-20T14:03:07Z``) or a unix time, as ``2026-11-20 14:03``."""
    if stamp is None or stamp == "":
        return ""
    if isinstance(stamp, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    return stamp[:10] + " " + stamp[11:16] if len(stamp) >= 16 and stamp[10] in "T " else stamp


def plural(count: int, word: str) -> str:
    """``1 memory``, ``2 memories``, ``1,204 turns``."""
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def project_name(project: str) -> str:
    """A project's short name: the last part of its directory, or of its remote's identity (host/path)."""
    return os.path.basename(project.rstrip("/")) or project if project else "(user-wide notes)"


def memory_text(text: str, limit: int = TEXT_SHOWN) -> Markup:
    """The text, escaped, with whatever is past ``limit`` behind a "the rest" toggle."""
    if len(text) <= limit:
        return el("div", text, class_="text")
    return join(
        [
            el("div", text[:limit] + "\u2026", class_="text"),
            el(
                "details",
                el("summary", f"the rest ({len(text) - limit:,} more characters)"),
                el("div", text[limit:], class_="text"),
                class_="more",
            ),
        ]
    )


def forget_form(memory: Any, csrf: str, back: str) -> Markup:
    """Two clicks, no script: open "Forget…", then confirm."""
    return el(
        "details",
        el("summary", "Forget\u2026"),
        el(
            "form",
            el("input", type="hidden", name="csrf", value=csrf),
            el("input", type="hidden", name="id", value=memory.id),
            el("input", type="hidden", name="project", value=memory.project),
            el("input", type="hidden", name="back", value=back),
            el("button", "Forget this memory for good", type="submit", class_="danger"),
            method="post",
            action="/forget",
            class_="inline",
        ),
        class_="forget",
    )


def memory_item(
    memory: Any,
    csrf: str,
    back: str,
    *,
    score: float | None = None,
    best: float | None = None,
    link_session: bool = True,
) -> Markup:
    meta = [el("span", memory.role or "memory", class_=f"role {memory.role}")]
    if score is not None:
        share = f" ({score / best:.0%} of the best)" if best else ""
        meta.append(el("span", f"score {score:.3f}{share}", class_="score"))
    meta.append(el("span", when(memory.created_at)))
    if memory.scope == "user":
        meta.append(el("span", "user-wide"))
    elif memory.project:
        meta.append(el("a", project_name(memory.project), href=url("/project", path=memory.project)))
    if link_session and memory.session_id:
        meta.append(el("a", f"session {memory.session_id[:8]}", href=url("/session", id=memory.session_id)))
    meta.append(el("span", memory.id[:12], class_="id", title=memory.id))
    return el(
        "li",
        el("div", meta, class_="meta"),
        memory_text(memory.text),
        forget_form(memory, csrf, back),
        class_="memory",
        id=f"m-{memory.id}",
        data_id=memory.id,
    )


def pager(where: str, page: int, more: bool, /, **params: Any) -> Markup:
    if page <= 1 and not more:
        return Markup("")
    parts: list[Any] = []
    if page > 1:
        parts.append(el("a", "\u2190 newer", href=url(where, page=page - 1, **params), rel="prev"))
    parts.append(el("span", f"page {page}"))
    if more:
        parts.append(el("a", "older \u2192", href=url(where, page=page + 1, **params), rel="next"))
    return el("div", parts, class_="pager")


def add_note_form(csrf: str, project: str, back: str) -> Markup:
    return el(
        "form",
        el("input", type="hidden", name="csrf", value=csrf),
        el("input", type="hidden", name="back", value=back),
        el("input", type="hidden", name="project", value=project),
        el(
            "textarea",
            name="text",
            placeholder="A fact or decision to remember (secrets are removed first)",
            required=True,
            maxlength="20000",
            aria_label="note",
        ),
        el(
            "label",
            el("input", type="checkbox", name="user_wide", value="1"),
            " in every project (user-wide)",
        ),
        el("button", "Remember", type="submit", class_="primary"),
        method="post",
        action="/add",
        class_="row",
        id="add-note",
    )


def search_form(projects: list[str], project: str, query: str) -> Markup:
    options = [
        el("option", project_name(p) + (f"  ({p})" if p else ""), value=p, selected=p == project) for p in projects
    ]
    return el(
        "form",
        el(
            "input",
            type="search",
            name="q",
            value=query,
            placeholder="Search memories as a prompt would",
            aria_label="search",
            autofocus=True,
        ),
        el("select", options, name="project", aria_label="project") if options else None,
        el("button", "Search", type="submit", class_="primary"),
        method="get",
        action="/search",
        class_="row",
        id="search",
    )


# -- pages ---------------------------------------------------------------------------------------------
def projects_page(projects: list[dict[str, Any]], records: list[dict[str, Any]], queue_line: str) -> Markup:
    rows = [
        el(
            "tr",
            el(
                "td",
                el("a", project_name(p["project"]), href=url("/project", path=p["project"])),
                el("div", p["project"], class_="path"),
            ),
            el("td", f"{p['memories']:,}", class_="num"),
            el("td", when(p["last_at"]), class_="num"),
            el("td", el("a", "memories", href=url("/memories", project=p["project"])), class_="num"),
        )
        for p in projects
    ]
    table = (
        el(
            "table",
            el(
                "tr",
                el("th", "project"),
                el("th", "memories", class_="num"),
                el("th", "last", class_="num"),
                el("th", ""),
            ),
            rows,
            id="projects",
        )
        if projects
        else el("p", "No memories yet: they arrive as you talk to Claude Code in a project.", class_="empty")
    )
    return join(
        [
            el("h1", "Projects"),
            el("p", queue_line, class_="sub"),
            table,
            el("h2", "Latest injections"),
            records_list(records, {}, looked_up=False, compact=True),
            el("p", el("a", "every injection \u2192", href="/injections")),
        ]
    )


def project_page(
    project: str,
    counts: tuple[int, int],
    sessions: list[dict[str, Any]],
    page: int,
    more: bool,
    notes: list[Any],
    csrf: str,
    back: str,
) -> Markup:
    memories, session_count = counts
    timeline = [
        el(
            "li",
            el(
                "div",
                el("span", when(s["first_at"]), class_="when"),
                " \u2013 "
                + (when(s["last_at"])[11:] if s["last_at"][:10] == s["first_at"][:10] else when(s["last_at"])),
                f" \u00b7 {plural(s['turns'], 'turn')} \u00b7 ",
                el("a", f"session {s['session'][:8]}", href=url("/session", id=s["session"])),
                " \u00b7 ",
                el("a", "what it was shown", href=url("/injections", session=s["session"])),
                class_="meta",
            ),
            el("div", (s["opening"][:300] + ("\u2026" if len(s["opening"]) > 300 else "")), class_="opening text"),
        )
        for s in sessions
    ]
    return join(
        [
            el("h1", project_name(project)),
            el("p", project or "Notes added with --user (or 'in every project'): recalled everywhere.", class_="sub"),
            el(
                "div",
                el("div", el("b", f"{memories:,}"), "memories", class_="card"),
                el("div", el("b", f"{session_count:,}"), "sessions", class_="card"),
                el("div", el("a", "every memory, newest first", href=url("/memories", project=project)), class_="card"),
                el(
                    "div",
                    el("a", "what its prompts were shown", href=url("/injections", project=project)),
                    class_="card",
                ),
                class_="cards",
            ),
            search_form([project], project, ""),
            el("h2", "Add a note"),
            add_note_form(csrf, project, back),
            el("h2", "Notes"),
            el("ul", [memory_item(n, csrf, back) for n in notes], class_="memories")
            if notes
            else el("p", "No notes in this project.", class_="empty"),
            el("h2", "Sessions, newest first"),
            el("ul", timeline, class_="timeline", id="sessions")
            if timeline
            else el("p", "No sessions.", class_="empty"),
            pager("/project", page, more, path=project),
        ]
    )


def session_page(
    session_id: str,
    turns: list[Any],
    records: list[dict[str, Any]],
    texts: dict[str, Any],
    looked_up: bool,
    csrf: str,
    back: str,
) -> Markup:
    project = next((t.project for t in turns if t.project), "")
    title = f"Session {session_id[:8]}"
    return join(
        [
            el("h1", title),
            el(
                "p",
                f"{session_id} \u00b7 ",
                el("a", project_name(project), href=url("/project", path=project)) if project else "",
                class_="sub",
            ),
            el("h2", f"What was said ({len(turns)} turns)"),
            el("ul", [memory_item(t, csrf, back, link_session=False) for t in turns], class_="memories")
            if turns
            else el("p", "No turns of this session are stored.", class_="empty"),
            el("h2", "What this session was shown"),
            records_list(records, texts, looked_up=looked_up),
        ]
    )


def memories_page(project: str | None, memories: list[Any], page: int, more: bool, csrf: str, back: str) -> Markup:
    return join(
        [
            el("h1", "Memories of " + project_name(project) if project is not None else "Every memory"),
            el("p", project or "", class_="sub"),
            el("ul", [memory_item(m, csrf, back) for m in memories], class_="memories", id="memories")
            if memories
            else el("p", "No memories.", class_="empty"),
            pager("/memories", page, more, project=project),
        ]
    )


def search_page(projects: list[str], project: str, query: str, found: list[Any] | None, csrf: str, back: str) -> Markup:
    best = max((m.score for m in found or [] if m.score is not None), default=None)
    results: Any
    if found is None:
        results = el(
            "p",
            "Search one project's memories (and the user-wide notes), ranked as the hooks rank them for a prompt.",
            class_="empty",
        )
    elif not found:
        results = el("p", "Nothing matches.", class_="empty")
    else:
        results = el(
            "ul", [memory_item(m, csrf, back, score=m.score, best=best) for m in found], class_="memories", id="results"
        )
    return join([el("h1", "Search"), search_form(projects, project, query), results])


def records_list(
    records: list[dict[str, Any]], texts: dict[str, Any], *, looked_up: bool, compact: bool = False
) -> Markup:
    """The record of injections: each block, the prompt, and the memories it held with their scores."""
    if not records:
        return el("p", "Nothing recorded yet (or memory.record_injections is false).", class_="empty")
    items = []
    for r in records:
        shown = [m for m in r.get("memories") or [] if isinstance(m, list) and len(m) == 3]
        best = max((m[2] for m in shown if isinstance(m[2], (int, float))), default=None)
        what = "prompt" if r.get("event") == "UserPromptSubmit" else f"session start ({r.get('source') or '?'})"
        head = el(
            "div",
            el("span", when(r.get("at")), class_="role"),
            el("span", what),
            el("a", project_name(str(r.get("project") or "")), href=url("/project", path=r.get("project") or "")),
            el("a", f"session {str(r.get('session') or '')[:8]}", href=url("/session", id=r.get("session") or ""))
            if r.get("session")
            else None,
            el("span", f"{plural(len(shown), 'memory')}, {plural(int(r.get('chars') or 0), 'character')}"),
            class_="meta",
        )
        prompt = el("div", "\u201c", r["prompt"], "\u201d", class_="prompt") if r.get("prompt") else None
        if compact:
            items.append(el("li", head, prompt, class_="record"))
            continue
        rows = []
        for memory_id, chars, score in shown:
            found = texts.get(memory_id)
            share = score / best if best and isinstance(score, (int, float)) else None
            if found is not None:
                about: Any = [
                    el("span", f"{found.role} \u00b7 {when(found.created_at)} ", class_="path"),
                    found.text[:240] + ("\u2026" if len(found.text) > 240 else ""),
                ]
            else:
                about = el("span", "forgotten" if looked_up else "(not in the store's listing)", class_="empty")
            rows.append(
                el(
                    "tr",
                    el("td", "-" if score is None else f"{score:.3f}", class_="num score"),
                    el(
                        "td",
                        el("meter", f"{share:.0%}", value=f"{share:.3f}", min="0", max="1", title=f"{share:.0%}")
                        if share is not None
                        else "",
                        class_="num",
                    ),
                    el("td", f"{chars or 0:,}", class_="num"),
                    el("td", el("span", str(memory_id)[:12], class_="id", title=str(memory_id))),
                    el("td", about),
                )
            )
        table = el(
            "table",
            el(
                "tr",
                el("th", "score", class_="num w-score"),
                el("th", "of best", class_="num w-share"),
                el("th", "chars", class_="num w-chars"),
                el("th", "id", class_="w-id"),
                el("th", "memory"),
            ),
            rows,
        )
        items.append(el("li", head, prompt, table, class_="record"))
    return el("ul", items, class_="records", id="records")


def injections_page(
    records: list[dict[str, Any]],
    texts: dict[str, Any],
    looked_up: bool,
    page: int,
    more: bool,
    session: str | None,
    project: str | None,
    enabled: bool,
) -> Markup:
    scope = ""
    if session:
        scope = f" of session {session[:8]}"
    elif project:
        scope = f" of {project_name(project)}"
    note = (
        None
        if enabled
        else el(
            "div", "The record is off (memory.record_injections: false): nothing new is recorded.", class_="banner warn"
        )
    )
    return join(
        [
            el("h1", "Injections" + scope),
            el(
                "p",
                "What each prompt and session start was given from memory, and why: the score that ranked each "
                "memory (the share of the best is the bar). Only ids are kept: a forgotten memory shows as such.",
                class_="sub",
            ),
            note,
            records_list(records, texts, looked_up=looked_up),
            pager("/injections", page, more, session=session, project=project),
        ]
    )


def queue_page(
    pending: int, items: list[dict[str, Any]], dead: list[dict[str, Any]], status: dict[str, Any], csrf: str
) -> Markup:
    def item_row(record: dict[str, Any]) -> Markup:
        item: dict[str, Any] = record["item"] if isinstance(record.get("item"), dict) else {}
        words = " ".join(str(item.get("text") or "").split())
        queued = record.get("enqueued_at")
        return el(
            "tr",
            el("td", el("span", str(item.get("id") or record.get("name") or "")[:12], class_="id")),
            el("td", when(queued) if isinstance(queued, (int, float)) else "", class_="num"),
            el(
                "td",
                str(item.get("role") or ""),
                el("div", project_name(str(item.get("project") or "")), class_="path"),
            ),
            el("td", words[:100] + ("\u2026" if len(words) > 100 else "")),
            el("td", str(record.get("attempts") or 0), class_="num"),
            el("td", str(record.get("dead_reason") or record.get("last_error") or "")),
        )

    head = el(
        "tr",
        el("th", "id"),
        el("th", "queued", class_="num"),
        el("th", "role"),
        el("th", "text"),
        el("th", "tries", class_="num"),
        el("th", "reason"),
    )
    replay = el(
        "form",
        el("input", type="hidden", name="csrf", value=csrf),
        el("button", "Deliver the queue now", type="submit", class_="primary", name="dead", value="0"),
        el("button", f"Retry the {len(dead)} dead-lettered", type="submit", name="dead", value="1") if dead else None,
        method="post",
        action="/replay",
        class_="row",
        id="replay",
    )
    last = []
    if status.get("last_flush_at"):
        last.append(f"last flush {when(status['last_flush_at'])}")
    if status.get("last_error"):
        last.append(f"last error {when(status.get('last_error_at'))}: {status['last_error']}")
    return join(
        [
            el("h1", "Queue"),
            el(
                "p",
                "Every captured turn waits here until the store confirms it; the flusher delivers it in the "
                "background, with backoff while the store is down.",
                class_="sub",
            ),
            el(
                "div",
                el("div", el("b", f"{pending:,}"), "pending", class_="card", id="pending"),
                el("div", el("b", f"{len(dead):,}"), "dead-lettered", class_="card", id="dead"),
                class_="cards",
            ),
            el("p", "; ".join(last), class_="sub") if last else None,
            replay,
            el("h2", "Dead-lettered (never delivered, with the reason)"),
            el("table", head, [item_row(r) for r in dead], id="dead-items")
            if dead
            else el("p", "None.", class_="empty"),
            el("h2", f"Pending (the first {len(items)})" if pending > len(items) else "Pending"),
            el("table", head, [item_row(r) for r in items], id="pending-items")
            if items
            else el("p", "None.", class_="empty"),
        ]
    )


def message_page(title: str, message: str) -> str:
    return layout(title, join([el("h1", title), el("p", message)]))
