"""Who a prompt is about: a name the conversations address ("Thanks, Sam!") belongs to one side.

In a conversation people address each other by name ("Thanks, Sam!", "Hey Sam, ..."): a name that the
turns read address, nearly always in one role's turns, is the other role's. A prompt that asks about
that person ("What does Sam do on weekends?") is answered by what they said, not by the turns that
greet them; and in a turn that addresses Sam, "Sam" adds no weight (``lexical.Stems.scores``).
"""

from __future__ import annotations

from mem0_hooks.backends.local import ROLE, TEXT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mem0_hooks.ranking.turns import Row

ADDRESSED_TURNS = 3  # a name counts once that many of the turns read address it ...
ADDRESSED_SHARE = 0.75  # ... nearly all (this share) said by one role


def spoken_of(
    names: list[str], rows: dict[int, Row], words_of: dict[int, tuple[str, ...]]
) -> tuple[str | None, dict[int, list[str]]]:
    """The role ("user" or "assistant") whose turns are by the person ``names`` point to, if any, and
    the turns of the other role that address that person ({rowid: [name, ...]}).

    In a conversation people address each other by name ("Thanks, Sam!", "Hey Sam, ..."): a name that
    the turns read address, nearly always in one role's turns, is the other role's. A prompt that asks
    about that person ("What does Sam do on weekends?") is answered by what they said, not by the
    turns that greet them. Names that point to both roles, or to none, give no answer.
    """
    found: str | None = None
    addressing: dict[int, list[str]] = {}
    for name in names:
        turns = [rowid for rowid, words in words_of.items() if name in words]
        if len(turns) < ADDRESSED_TURNS:
            continue
        addressed = [rowid for rowid in turns if addresses(rows[rowid][TEXT], name)]
        if len(addressed) < ADDRESSED_TURNS:
            continue
        roles = [rows[rowid][ROLE] for rowid in addressed]
        for role, other in (("user", "assistant"), ("assistant", "user")):
            if roles.count(role) >= ADDRESSED_SHARE * len(roles):
                if found not in (None, other):
                    return None, {}
                found = other
                for rowid in addressed:
                    if rows[rowid][ROLE] == role:
                        addressing.setdefault(rowid, []).append(name)
    return found, addressing


def addresses(text: str, name: str) -> bool:
    """Whether ``text`` speaks to ``name`` (lower case): right after a greeting or thanks ("Hey Sam",
    "Thanks Sam"), or set off by a comma and ending there ("That's great, Sam!", "Wow, Sam, ...").
    A mention is not an address: "Priya, Tom and I will...", "checked with Priya?", "Ping Priya, she...".
    """
    lowered = text.lower()
    at = lowered.find(name)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or not lowered[at - 1].isalnum()) and (end == len(lowered) or not lowered[end].isalnum()):
            before = lowered[:at].rstrip()
            previous = before.rsplit(None, 1)[-1].strip(_PUNCTUATION) if before else ""
            if previous in _GREETINGS:
                return True
            after = lowered[end:].lstrip()[:1]
            if before.endswith(",") and (not after or after in _VOCATIVE_ENDS):
                return True
        at = lowered.find(name, at + 1)
    return False


_GREETINGS = frozenset(
    "hey hi hello hiya howdy thanks thank thx congrats congratulations bye goodbye morning evening dear cheers".split()
)
_VOCATIVE_ENDS = frozenset(",!?.")
_PUNCTUATION = ",.;:!?\"'()"
