"""Reading the value that follows a trigger phrase ("I work at" -> "Stripe"), and comparing
values ("the webhook retry system" is "a webhook retry system").

Each reader takes the sentence and the offset where the value starts and returns the
value with its end offset, or None when what follows is not a value of that shape.
"""

import re

# A proper name: capitalised words (digits allowed), joined by a few lowercase particles;
# "Node.js" keeps its dot, a sentence's full stop does not. At most NAME_WORDS words: a
# rule tries a name at every capitalised word, and an unbounded run made each try read to
# the run's end (a long run of capitalised words or numbers cost its length squared).
NAME_WORDS = 8
_WORD = r"(?:(?:St|Mt|Ft|Dr)\. )?[A-Z0-9][\w&'’+#-]*(?:\.[A-Za-z]\w*)*"
NAME = rf"{_WORD}(?: (?:(?:of|de|du|la|von|van|del) )?{_WORD}){{0,{NAME_WORDS - 1}}}"
_NAME_RE = re.compile(NAME)
_LOWER_TOOL = re.compile(r"[a-z][\w+#.-]*[\w+#]|[a-z]")
_ARTICLE = re.compile(r"(?:the|a|an) ", re.I)

# Words that end a phrase value: what follows is another clause, a time or a manner.
_STOP = (
    r"but|because|since|so that|so|though|although|while|whereas|which|who|where|when|"
    r"whenever|now|anymore|any more|these days|lately|nowadays|at the moment|right now|"
    r"currently|for now|for the (?:past|last)|for (?:about |almost |over )?(?:a|an|one|two|"
    r"three|four|five|six|seven|eight|nine|ten|\d+|several|many|a few|a couple of) "
    r"(?:seconds?|minutes?|hours?|days?|nights?|weeks?|weekends?|months?|years?|decades?|"
    r"while|bit|long time)|again|too|"
    r"as well|every day|every week|everyday|daily|in my (?:spare|free) time|on weekends|"
    r"at work|with|over|rather than|instead of|than|and I|and we|and my|after|before|"
    r"until|if|next (?:week|month|year|summer|spring|fall|autumn|winter)|this (?:week|"
    r"month|year|summer|spring|fall|autumn|winter)|last (?:week|month|year)|tomorrow|"
    r"soon|already|yet|as (?:a|an)|at the|in the (?:evenings?|mornings?|afternoons?)|"
    r"at night|on the side|yesterday|today|tonight|last \w+|(?:about |almost |over |nearly )?"
    r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+|a few|several) \w+ ago"
)
_PHRASE_END = re.compile(rf"\s+(?:{_STOP})\b|\s*[,;:()]|\s+-\s|$", re.I)
_LIST_END = re.compile(
    rf"\s+(?:{_STOP.replace('and I|and we|and my|', '')})\b|\s*[;:()]|\s+[-–—]\s|$", re.I
)
_LIST_SPLIT = re.compile(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*")
_PRONOUN = re.compile(r"(?:i|we|he|she|they|it|you|this|that)\b", re.I)

_NOT_A_TOOL = {
    "it",
    "them",
    "this",
    "that",
    "these",
    "those",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "a",
    "an",
    "the",
    "to",
    "for",
    "lots",
    "some",
    "all",
    "both",
    "every",
    "each",
    "one",
    "more",
    "less",
    "so",
    "much",
    "many",
    "only",
    "just",
    "public",
    "up",
}
_ADVERBS = (
    "Thankfully",
    "Hopefully",
    "Honestly",
    "Actually",
    "Finally",
    "Luckily",
    "Sadly",
    "Unfortunately",
    "Fortunately",
    "Really",
    "Basically",
    "Recently",
    "Usually",
    "Definitely",
    "Totally",
    "Seriously",
    "Literally",
    "Apparently",
    "Obviously",
    "Clearly",
    "Surprisingly",
    "Personally",
    "Originally",
    "Eventually",
    "Absolutely",
    "Certainly",
    "Anyway",
    "Also",
    "Plus",
    "Yeah",
    "Wow",
    "Oh",
    "Well",
    "So",
)
NOT_A_NAME = {
    "I",
    "He",
    "She",
    "They",
    "We",
    "It",
    "This",
    "That",
    "The",
    "A",
    "An",
    "My",
    "Our",
    "Who",
    "What",
    "Everyone",
    "Nobody",
    "Someone",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Today",
    "Yesterday",
    "Tomorrow",
    # sentence adverbs that start a sentence with a capital ("Thankfully, my son ...")
    *_ADVERBS,
}

Read = tuple[str, int] | None


def read_name(text: str, at: int) -> Read:
    """A proper name starting at `at` (after an optional lowercase "the")."""
    if text.startswith("the ", at):
        at += 4
    match = _NAME_RE.match(text, at)
    if not match:
        return None
    value = match.group(0).rstrip("'’-")
    if not value or value.split(" ")[0] in NOT_A_NAME:
        return None
    return value, at + len(value)


def read_person(text: str, at: int) -> Read:
    """A person's name; "Tom's" is Tom (a possessive belongs to what follows)."""
    found = read_name(text, at)
    if found is None:
        return None
    name = found[0]
    for suffix in ("'s", "’s"):
        name = name.removesuffix(suffix)
    return (name, at + (found[1] - at) - (len(found[0]) - len(name))) if name else None


def clean_name(name: str) -> str | None:
    """`name` without leading words that are not names ("Today Tom" -> "Tom")."""
    words = name.split(" ")
    while words and words[0] in NOT_A_NAME:
        words = words[1:]
    return " ".join(words) or None


def read_tool(text: str, at: int) -> Read:
    """A tool or product: a proper name, or one lowercase word like "neovim"."""
    found = read_name(text, at)
    if found:
        return found
    match = _LOWER_TOOL.match(text, at)
    if not match or match.group(0).lower() in _NOT_A_TOOL:
        return None
    return match.group(0), match.end()


# A verb alone before one of these has its complement after it ("collaborating with
# organizations", "working with trans people"): the phrase goes on through it.
_COMPLEMENT = re.compile(r"\s+(?:with|over)\b", re.I)
_VERB_ALONE = re.compile(r"[a-z]+ing", re.I)


def read_phrase(text: str, at: int) -> Read:
    """A short phrase, up to the end of its clause."""
    end = _PHRASE_END.search(text, at)
    if (
        end
        and _COMPLEMENT.match(end.group(0))
        and _VERB_ALONE.fullmatch(text[at : end.start()].strip())
    ):
        end = _PHRASE_END.search(text, end.end())
    stop = end.start() if end else len(text)
    value = text[at:stop].strip().rstrip(".!")
    if len(value) < 2 or len(value) > 80 or _PRONOUN.match(value):
        return None
    return value, at + len(value)


# A value that is about the listener ("how you use it"), points at what was said before
# ("those", "it"), stops mid-phrase ("a safe", "a few", "to"), names no thing ("something
# exciting", "a ton") or only announces what comes next ("some great news to share", "a
# funny story", "a few plans") states nothing on its own.
_LISTENER = re.compile(r"\b(?:you|your|yours|yourself|y'all)\b", re.I)
_POINTER = re.compile(
    r"^(?:how|what|why|when|whether|those|these|them|it|that|this|to|so|something|anything|"
    r"everything|nothing|somewhere|stuff)\b",
    re.I,
)
_DANGLING = re.compile(
    r"\b(?:a|an|the|to|of|for|with|and|or|my|our|their|his|her|this|that|few|some|safe|"
    r"new|more|other|same|such|very|so|really|about|like|both|all|ago|stuff|things|something|"
    r"anything|everything|lot|lots|ton|tons|bunch|bit|one|idea|myself|on|in|at|up|out|off|"
    r"into|over|from|by)$",
    re.I,
)
_ANNOUNCES = re.compile(
    r"^(?:(?:a|an|some|a few|few|more|any)\s+)?(?:[\w-]+\s+){0,2}"
    r"(?:news|story|stories|update|updates|plans?|ideas?|questions?)"
    r"(?:\s+to (?:share|tell))?$",
    re.I,
)
_REFERS = re.compile(
    r"\b(?:it|its|it's|those|them|these|this|that|there|something|anything|everything|"
    r"nothing)\b",
    re.I,
)
_CLAUSE = re.compile(r"\s(?:is|are|was|were|am|has been|have been)\s", re.I)


def says_something(value: str) -> bool:
    """Whether a value read after a trigger states something about the speaker by itself."""
    value = value.strip()
    return not (
        _LISTENER.search(value)
        or _POINTER.match(value)
        or _DANGLING.search(value)
        or _REFERS.search(value)
        or _CLAUSE.search(f" {value} ")
        or _ANNOUNCES.match(value)
    )


# A thing named by a definite or another's possessive ("the color", "his tech", "all the
# yellow leaves") is one in front of the speakers, what they are looking at or talking
# about: liking it is a reaction to it, not a taste of the speaker's (which names a kind:
# "live music", "hiking", "Mozart").
_DEFINITE = re.compile(r"^(?:(?:all|both|all of|both of)\s+)?(?:the|his|her|their|its)\b", re.I)


def definite(value: str) -> bool:
    """Whether `value` names one particular thing of the context rather than a kind."""
    return _DEFINITE.match(value.strip()) is not None


def read_list(text: str, at: int) -> list[tuple[str, int, int]]:
    """The items of "hiking, climbing and kayaking", each with its span."""
    end = _LIST_END.search(text, at)
    stop = end.start() if end else len(text)
    items = []
    pos = at
    for piece in _LIST_SPLIT.split(text[at:stop]):
        start = text.find(piece, pos)
        pos = start + len(piece)
        value = piece.strip().rstrip(".!")
        if not 2 <= len(value) <= 60 or _PRONOUN.match(value):
            break  # "how you use it ... and teach": after a non-item, no list
        items.append((value, start, start + len(value)))
    return items


def read_tools(text: str, at: int) -> list[tuple[str, int, int]]:
    """The tools of "VS Code and Docker every day", each with its span."""
    found = []
    for _, start, end in read_list(text, at):
        tool = read_tool(text, start)
        if not tool:
            break  # "I use it to ... and push": what follows no tool names none
        found.append((tool[0], start, tool[1]))
        if _PURPOSE.match(text, tool[1], end):
            break  # "whiteboard to stay on track, visualize goals and ...": what it is for
    return found


_PURPOSE = re.compile(r"\s+(?:to|in order to)\s+[a-z]", re.I)


def key(value: str) -> str:
    """What makes two values the same: case, articles, possessives and spaces aside."""
    text = value.lower().replace("’", "'")
    text = re.sub(r"^(?:the|a|an|my|our|to)\s+", "", text.strip())
    return re.sub(r"\s+", " ", text).strip(" .")


def same(a: str, b: str) -> bool:
    """Loosely the same value: equal keys, or one a whole-word part of the other
    ("Acme" and "Acme Corp")."""
    ka, kb = key(a), key(b)
    if ka == kb:
        return True
    short, long = sorted((ka, kb), key=len)
    return bool(short) and re.search(rf"\b{re.escape(short)}\b", long) is not None


def with_article(value: str) -> str:
    """ "software engineer" -> "a software engineer"; values with an article keep theirs."""
    if _ARTICLE.match(value) or not value:
        return value
    return ("an " if value[0].lower() in "aeiou" else "a ") + value
