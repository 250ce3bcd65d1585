"""What a prompt asks for: its content words, the dates it names, whether it asks when (stdlib only, hot path).

``analyse`` turns a prompt into what the local store searches with: the content words (stopwords,
question words and words about the conversation itself dropped; dates taken out; the other forms of
an irregular verb or noun added), the dates it names, and whether it asks *when* something happened.

Nothing here imports ``re`` unless a prompt names a date: words are split with ``str.translate`` (the
hook path no longer imports ``json``, so ``re`` and the ``enum`` it pulls in would be a cost of
their own on every prompt).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

# Every ASCII character that is not a letter or digit, and the punctuation and spaces of prose in
# other scripts, becomes a space; what is left is split on whitespace.
_SEPARATORS = str.maketrans(
    dict.fromkeys(
        [chr(c) for c in range(128) if not chr(c).isalnum()]
        + list("\u00a0\u00ab\u00bb\u00b7\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201a\u201c\u201d\u201e")
        + list("\u2022\u2026\u2032\u2033\u2039\u203a\u3000\u3001\u3002\uff0c\uff0e\uff1a\uff1b\uff01\uff1f"),
        " ",
    )
)


def split_words(text: str) -> list[str]:
    """``text`` lower-cased and split into runs of letters and digits (as FTS5's unicode61 splits it)."""
    words = text.lower().translate(_SEPARATORS).split()
    if "".join(words).isalnum() or not words:  # one C call: every word is letters and digits
        return words
    out: list[str] = []  # rare: a symbol outside the table above, e.g. "a→b"
    for word in words:
        if word.isalnum():
            out.append(word)
            continue
        run: list[str] = []
        for char in word:
            if char.isalnum():
                run.append(char)
            elif run:
                out.append("".join(run))
                run = []
        if run:
            out.append("".join(run))
    return out


_TRIVIAL = frozenset(
    """ok okay k yes y yep yeah no nope n sure thanks thank thx ty cool great nice good fine done go continue
    proceed next again retry do it please lgtm agreed right correct wrong stop wait hmm hi hello hey
    """.split()
)

# Words that say nothing about what to find: function words, question words, politeness, and words
# about the conversation itself ("what did I mention about...", "remind me what we said").
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom whose why will with would you your yours
    yourself yourselves let lets please tell told know think remember remind recall also get got one ones
    thing things us ok okay yes hi hello hey thanks thank might may must shall go many much often
    mention mentioned mentions say said says talk talked discuss discussed ask asked likely probably
    way ways kind kinds type types sort something anything stuff describe use used uses using happen happened
    happens besides except apart else ever
    """.split()
)

_MONTH_NAMES = "january february march april may june july august september october november december".split()
MONTHS = {name: n for n, month in enumerate(_MONTH_NAMES, 1) for name in (month, month[:3])}
MONTHS["sept"] = 9
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# Month words that are also ordinary words unless a day or a year comes with them.
_AMBIGUOUS_MONTHS = frozenset(
    {"may", "mar", "jan", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "apr", "feb", "sept"}
)
_DATE_PATTERNS: list[re.Pattern[str]] = []


def _date_patterns() -> list[re.Pattern[str]]:
    """ISO date, "13 October", "October 13", "October", a year: compiled on first use (most prompts
    name no date, and importing ``re`` and compiling cost a hook more than matching)."""
    if not _DATE_PATTERNS:
        import re

        _DATE_PATTERNS.extend(
            re.compile(p)
            for p in (
                r"\b(\d{4})-(\d{2})-(\d{2})\b",
                r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\b\.?(?:,?\s*(\d{4})\b)?",
                r"\b" + _MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(\d{4})\b)?",
                r"\b" + _MONTH + r"\b(?:,?\s*(\d{4})\b)?",
                r"\b(19\d\d|20\d\d)\b",
            )
        )
    return _DATE_PATTERNS


# A prompt asks *when* if it starts with one of these, or has one of the phrases anywhere.
_TIME_STARTS = (
    "when ",
    "what year",
    "what month",
    "what day",
    "what date",
    "what time",
    "which year",
    "which month",
    "which day",
    "which date",
    "since when",
)
_TIME_PHRASES = (
    "how long",
    "how many years",
    "how many months",
    "how many weeks",
    "how many days",
    "how much time",
    "what date",
    "since when",
    "what year",
    "which year",
)


# A prompt asks how things stand *now* if it has one of these: what was said last about it is likelier
# the answer ("which port does it use now?" after the port moved).
_NOW_WORDS = frozenset("now currently current latest still anymore nowadays".split())
_NOW_PHRASES = ("these days", "at this point", "at the moment", "as of today", "so far")


def asks_now(words: list[str]) -> bool:
    """Whether a prompt (split into lower-case words) asks how things stand now."""
    if not _NOW_WORDS.isdisjoint(words):
        return True
    joined = " ".join(words)
    return any(phrase in joined for phrase in _NOW_PHRASES)


def asks_when(prompt: str) -> bool:
    """Whether the prompt asks when something happened ("when did...", "how long ago...", "what year...")."""
    lowered = " ".join(split_words(prompt)) + " "
    return lowered.startswith(_TIME_STARTS) or any(p in lowered for p in _TIME_PHRASES)


# Words that place something in time inside a memory: on a time question, turns that have one are
# likelier to hold the answer ("Yesterday I went to...", "we switched last week").
_TEMPORAL_WORDS = frozenset(
    """yesterday today tonight tomorrow ago recently lately earlier later soon since until last next
    morning afternoon evening night weekend weekends monday tuesday wednesday thursday friday saturday
    sunday mondays tuesdays wednesdays thursdays fridays saturdays sundays january february march april
    june july august september october november december day days week weeks month months year years
    hour hours""".split()
)


def content_words(text: str) -> list[str]:
    return [w for w in split_words(text) if w not in _TRIVIAL]


def is_trivial(prompt: str, min_words: int) -> bool:
    """True for prompts that carry nothing to search with: "ok", "continue", "/clear", "yes please"."""
    stripped = prompt.strip()
    if not stripped or stripped.startswith("/"):
        return True
    return len(content_words(stripped)) < max(min_words, 1)


# Forms of one word that the Porter stemmer does not bring together: irregular verbs (run / ran,
# buy / bought) and nouns (child / children). A prompt's word brings the other forms of its group in
# as search words, so "When did she run the marathon?" finds "I ran my first marathon". Forms that
# are stopwords anyway (be, have, do, say, go, get, tell, know...) drop out.
_IRREGULAR = """
arise arose arisen; awake awoke awoken; bear bore borne born; beat beaten; become became; begin began begun;
bend bent; bite bit bitten; bleed bled; blow blew blown; break broke broken; breed bred; bring brought;
build built; buy bought; catch caught; choose chose chosen; come came; creep crept; deal dealt; dig dug;
draw drew drawn; drink drank drunk; drive drove driven; eat ate eaten; fall fell fallen; feed fed;
feel felt; fight fought; find found; flee fled; fly flew flown; forbid forbade forbidden;
forget forgot forgotten; forgive forgave forgiven; freeze froze frozen; give gave given; grow grew grown;
hang hung; hear heard; hide hid hidden; hold held; keep kept; lay laid; lead led; leave left; lend lent;
lose lost; make made; mean meant; meet met; pay paid; ride rode ridden; ring rang rung; rise rose risen;
run ran; see saw seen; seek sought; sell sold; send sent; shake shook shaken; shine shone; shoot shot;
show shown; sing sang sung; sink sank sunk; sit sat; sleep slept; slide slid; speak spoke spoken;
spend spent; spin spun; stand stood; steal stole stolen; stick stuck; sting stung; strike struck;
swear swore sworn; sweep swept; swim swam swum; swing swung; take took taken; teach taught; tear tore torn;
throw threw thrown; understand understood; wake woke woken; wear wore worn; weep wept; win won;
write wrote written; child children; person people; man men; woman women; mouse mice; foot feet;
tooth teeth; goose geese; wife wives; knife knives; life lives; wolf wolves; shelf shelves; half halves
"""
_FORMS: dict[str, tuple[str, ...]] = {}


def other_forms(word: str) -> tuple[str, ...]:
    """The other forms of ``word`` in its irregular group (``"ran"`` for ``"run"``), else ``()``."""
    if not _FORMS:
        for group in _IRREGULAR.split(";"):
            forms = [form for form in group.split() if form not in STOPWORDS]
            for form in forms:
                _FORMS[form] = tuple(other for other in forms if other != form)
    return _FORMS.get(word, ())


class Query:
    """What a prompt asks for: content ``words`` (in order, unique), ``dates`` it names, ``about_time``
    (when something happened), ``about_now`` (how things stand now), and the words it writes with a
    capital (``names``, lower-cased: maybe people it asks about)."""

    __slots__ = ("words", "dates", "about_time", "names", "about_now")

    def __init__(
        self,
        words: list[str],
        dates: list[tuple[int | None, int | None, int | None]],
        about_time: bool,
        names: list[str],
        about_now: bool = False,
    ) -> None:
        self.words = words
        self.dates = dates
        self.about_time = about_time
        self.names = names
        self.about_now = about_now

    def __repr__(self) -> str:
        return (
            f"Query(words={self.words!r}, dates={self.dates!r}, about_time={self.about_time!r}, names={self.names!r})"
        )


def analyse(prompt: str, limit: int = 24) -> Query:
    """Split ``prompt`` into search words, named dates and whether it asks when something happened."""
    lowered = prompt.lower()
    dates, spans = find_dates(lowered)
    if spans:  # the words of a date are matched by the date, not as text
        pieces, at = [], 0
        for start, end in spans:
            pieces.append(lowered[at:start])
            at = max(at, end)
        pieces.append(lowered[at:])
        lowered = " ".join(pieces)
    words = query_words(lowered, limit)
    words = list(dict.fromkeys(words + [form for word in words for form in other_forms(word)]))[:limit]
    return Query(words, dates, asks_when(prompt), capitalised(prompt, words), asks_now(split_words(prompt)))


def capitalised(prompt: str, words: list[str]) -> list[str]:
    """Those of ``words`` that ``prompt`` writes as a name would be: a capital, then lower case ("Sam",
    not "SQL" or "sam"), and not first in a sentence or line, where every word has a capital ("Fix the...")."""
    if not any(char.isupper() for char in prompt):
        return []
    wanted = set(words)
    names: dict[str, None] = {}
    for line in prompt.splitlines():
        first = True  # a line starts a sentence too, after any bullet or number ("- Add tests", "2. Fix")
        for raw in line.split():
            word = raw.strip(_NAME_EDGES)
            if word.endswith(("'s", "\u2019s")):
                word = word[:-2]
            if not word.isalpha():
                continue
            if not first and len(word) > 1 and word[0].isupper() and word[1:].islower() and word.lower() in wanted:
                names[word.lower()] = None
            first = raw.endswith((".", "!", "?", ":"))
    return list(names)


_NAME_EDGES = ".,;:!?\"'()[]{}\u2018\u2019\u201c\u201d"


def query_words(text: str, limit: int = 32) -> list[str]:
    """Content words of ``text``, lower-cased, in order, without stopwords, repeats or short numbers."""
    seen: dict[str, None] = {}
    for word in split_words(text):
        if len(word) < 2 or word in STOPWORDS or word in seen:
            continue
        if word.isdigit() and len(word) < 3:  # "3 times", "2 weeks": noise; "404" and "8080" are kept
            continue
        seen[word] = None
        if len(seen) >= limit:
            break
    return list(seen)


def find_dates(lowered: str) -> tuple[list[tuple[int | None, int | None, int | None]], list[tuple[int, int]]]:
    """``(year, month, day)`` triples named in ``lowered`` (any part may be None) and their spans."""
    found: list[tuple[int | None, int | None, int | None]] = []
    spans: list[tuple[int, int]] = []
    if not any(c.isdigit() for c in lowered) and MONTHS.keys().isdisjoint(split_words(lowered)):
        return found, spans
    iso, day_month, month_day, month_only, year_only = _date_patterns()

    def taken(start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in spans)

    for m in iso.finditer(lowered):
        month, day = int(m.group(2)), int(m.group(3))
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append((int(m.group(1)), month, day))
            spans.append(m.span())
    for m in day_month.finditer(lowered):
        day = int(m.group(1))
        if 1 <= day <= 31 and not taken(*m.span()):
            found.append((_int(m.group(3)), MONTHS[m.group(2)], day))
            spans.append(m.span())
    for m in month_day.finditer(lowered):
        day = int(m.group(2))
        if 1 <= day <= 31 and not taken(*m.span()):
            found.append((_int(m.group(3)), MONTHS[m.group(1)], day))
            spans.append(m.span())
    for m in month_only.finditer(lowered):
        if taken(*m.span()):
            continue
        if m.group(1) in _AMBIGUOUS_MONTHS and not m.group(2):
            continue  # "may", "mar", "dec" alone are more often words than months
        found.append((_int(m.group(2)), MONTHS[m.group(1)], None))
        spans.append(m.span())
    for m in year_only.finditer(lowered):
        if not taken(*m.span()):
            found.append((int(m.group(1)), None, None))
            spans.append(m.span())
    spans.sort()
    return found, spans


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def date_closeness(created_at: str, dates: list[tuple[int | None, int | None, int | None]]) -> float:
    """How well a memory's ISO timestamp fits the dates a prompt names: 1.0 same day ... 0.0 unrelated.

    Generous on purpose: people misremember by a day, and something done "in March" is often told
    early in April.
    """
    try:
        year, month, day = int(created_at[0:4]), int(created_at[5:7]), int(created_at[8:10])
    except ValueError:
        return 0.0
    best = 0.0
    here = year * 12 + month
    for want_year, want_month, want_day in dates:
        if want_month is None:
            if want_year == year:
                best = max(best, 0.3)
            continue
        if want_year is not None:
            months_apart = here - (want_year * 12 + want_month)
        else:
            months_apart = (month - want_month) % 12
            if months_apart > 6:
                months_apart -= 12
        if want_day is not None:
            if months_apart == 0:
                gap = abs(day - want_day)
                best = max(best, 1.0 if gap == 0 else 0.8 if gap == 1 else 0.5 if gap <= 7 else 0.3)
            elif abs(months_apart) == 1:
                # 31 March vs 1 April: near in days though months apart
                gap = min(abs((day + 31) - want_day), abs(day - (want_day + 31)))
                best = max(best, 0.8 if gap <= 1 else 0.5 if gap <= 7 else 0.2)
        elif months_apart == 0:
            best = max(best, 0.8)
        elif months_apart == 1:
            best = max(best, 0.4)
    return best


def date_range(date: tuple[int | None, int | None, int | None]) -> tuple[str, str] | None:
    """ISO bounds ``[start, end)`` around a named date with a year (a day's week, or a month plus a
    week after it), for fetching the memories of that time; None without a year or a month."""
    year, month, day = date
    if year is None or month is None:
        return None
    if day is not None:
        start = _shift(year, month, day, -2)
        end = _shift(year, month, day, 3)
        return start, end
    last_year, last_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01", f"{last_year:04d}-{last_month:02d}-08"


def _shift(year: int, month: int, day: int, days: int) -> str:
    import datetime  # only for prompts that name a day

    try:
        when = datetime.date(year, month, day) + datetime.timedelta(days=days)
    except ValueError:
        when = datetime.date(year, month, 1) + datetime.timedelta(days=days)
    return when.isoformat()


def is_temporal(text: str) -> bool:
    """True when ``text`` places something in time (a date, a weekday, "yesterday", "last week"...)."""
    return mentions_time(split_words(text))


def mentions_time(words: Sequence[str]) -> bool:
    """``is_temporal`` for text already split into lower-case words."""
    if not _TEMPORAL_WORDS.isdisjoint(words):
        return True
    return any(len(w) == 4 and w[:2] in ("19", "20") and w.isdigit() for w in words)
