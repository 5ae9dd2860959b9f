"""Names said in passing: the people, pets, places, organisations, products and events a
sentence names without saying anything the rules read as a fact ("we got another cat
named Bailey", "a gift from my grandma in my home country, Sweden", "I loved "Becoming
Nicole" by Amy Ellis Nutt").

A name is a run of capitalised words that does not start its sentence (there, a capital
says nothing), or a title in quotes. Its type comes from the words around it: what
introduces it ("my dog", "in", "the book"), what ends it ("Park", "University",
"Festival"), or what follows ("meteor shower"); a name in a list takes the type of the one
before it ("my dogs Pepper, Precious and Panda"). Anything else capitalised mid-sentence
is taken for a person. Each is related to the speaker as introduced ("pet", "friend") or
as "mentioned".
"""

import re
from dataclasses import dataclass

from mnemo.synthesis import values
from mnemo.synthesis.attributes import ROLES

MENTIONED = "mentioned"

_PETS = (
    "dog|dogs|puppy|puppies|pup|pups|cat|cats|kitten|kittens|kitty|pet|pets|horse|horses|"
    "pony|bird|birds|parrot|hamster|hamsters|rabbit|rabbits|bunny|bunnies|fish|turtle|"
    "tortoise|guinea pig|guinea pigs|snake|lizard|gecko|ferret|goldfish|pup"
)
_KIN = (
    "kid|kids|son|sons|daughter|daughters|child|children|grandma|grandpa|grandmother|"
    "grandfather|aunt|uncle|niece|nephew|husband|wife|partner|sister|brother|mom|mum|dad|"
    "mother|father|cousin|friend|friends|buddy|pal|boss|manager|colleague|coworker|"
    "neighbor|neighbour|teacher|mentor|coach|therapist|doctor|boyfriend|girlfriend|"
    "fiancé|fiancée|roommate|classmate|teammate|bestie|bff"
)
_ROLE_WORDS = "|".join(sorted({*_KIN.split("|"), *ROLES}, key=len, reverse=True))
_TITLES = (
    "book|books|novel|song|songs|album|record|movie|movies|film|films|show|series|game|"
    "app|podcast|painting|poem|play|musical|documentary|track|single|artwork|piece|"
    "memoir|story|magazine|blog|channel"
)
_GROUPS = "group|club|team|band|organization|organisation|charity|company|community|org"

# Introduced by (the words just before the name).
_PET_BEFORE = re.compile(
    rf"(?:\b(?:my|our|his|her|their|the|a|an|new|another|little|sweet|old)\s+(?:[a-z]+\s+)?"
    rf"(?:{_PETS})(?:,|\s+(?:named|called|is|was))?|\b(?:{_PETS})\s+(?:named|called))\s*$",
    re.I,
)
_ROLE_BEFORE = re.compile(
    rf"\b(?:my|our|his|her|their)\s+(?:(?:new|old|former|best|little|big|younger|older|"
    rf"late|dear|good|close)\s+)*(?:{_ROLE_WORDS})(?:'s|,|\s+(?:named|called|is|was))?\s*$",
    re.I,
)
_TITLE_BEFORE = re.compile(
    rf"(?:\b(?:{_TITLES})(?:\s+(?:called|named|titled))?,?|\b(?:reading|read|re-reading|"
    rf"watching|watched|listening to|listened to|binged|binge-watching|finished))\s+$",
    re.I,
)
_TITLE_AFTER = re.compile(rf"^\s+(?:{_TITLES}|movies|films|books|songs|music|games|shows)\b", re.I)
_TOOL_BEFORE = re.compile(
    r"\b(?:learning|coding in|programming in|written in|built with)\s+$", re.I
)
_GROUP_BEFORE = re.compile(rf"\b(?:{_GROUPS})(?:\s+(?:called|named))?,?\s*$", re.I)
_PLACE_BEFORE = re.compile(
    r"\b(?:in|to|from|near|around|across|through|visit|visited|visiting|toward|towards|"
    r"into|outside|country|city|town|state|trip|moved|move|moving|flew|drove|travel|"
    r"traveled|travelled|traveling|travelling)\s*,?\s+(?:the\s+)?$",
    re.I,
)

# Said by their last word.
_PLACE_WORDS = (
    "City|Park|Lake|River|Mountain|Mountains|Mount|Beach|Canyon|Island|Islands|Street|"
    "Avenue|Road|Valley|Falls|Bay|County|State|Forest|Coast|Desert|Harbor|Harbour|Square|"
    "Bridge|Trail|Peak|Hills|Village|Gardens|Zoo|Museum|Airport|Station"
)
_ORG_WORDS = (
    "Inc|Corp|Corporation|LLC|Ltd|University|College|School|Academy|Institute|Center|"
    "Centre|Club|Church|Foundation|Association|Society|Group|Company|Bank|Hospital|Clinic|"
    "Library|Agency|Studio|Studios|Labs|Press|Records|Network|Council|Alliance|Shelter"
)
_EVENT_WORDS = (
    "Festival|Fest|Day|Month|Week|Conference|Parade|Marathon|Fair|Con|Summit|Games|"
    "Olympics|Championship|Cup|Expo|Gala|Week|Eve|Carnival|Tour|Concert|Show|Race"
)
_HOLIDAYS = {
    *[
        "Christmas",
        "Xmas",
        "Halloween",
        "Thanksgiving",
        "Easter",
        "Hanukkah",
        "Diwali",
        "Ramadan",
        "Eid",
        "Passover",
    ],
    *["Pride", "Kwanzaa", "Juneteenth"],
}
_ADJECTIVES = {
    *[
        "English",
        "American",
        "British",
        "Spanish",
        "French",
        "German",
        "Italian",
        "Chinese",
        "Japanese",
        "Korean",
    ],
    *[
        "Indian",
        "Mexican",
        "Canadian",
        "Australian",
        "Irish",
        "Scottish",
        "Swedish",
        "Dutch",
        "Greek",
        "Russian",
    ],
    *[
        "Brazilian",
        "African",
        "European",
        "Asian",
        "Latin",
        "Christian",
        "Jewish",
        "Muslim",
        "Catholic",
    ],
    *["Internet", "TV", "Wi-Fi"],
}
_AT_BEFORE = re.compile(r"\bat\s+(?:the\s+)?$", re.I)
# "Oscar, my guinea pig", "Sam is my sister": introduced after the name.
_PET_AFTER = re.compile(rf"^\s*(?:,|\s+is|\s+was)\s+(?:my|our)\s+(?:[a-z]+\s+)?(?:{_PETS})\b", re.I)
_ROLE_AFTER = re.compile(
    rf"^\s*(?:,|\s+is|\s+was)\s+(?:my|our)\s+(?:(?:new|old|best|little|big)\s+)*"
    rf"(?P<role>{_ROLE_WORDS})\b",
    re.I,
)
_LAST_PLACE = re.compile(rf"(?:{_PLACE_WORDS})$")
_LAST_ORG = re.compile(rf"(?:{_ORG_WORDS})$")
_LAST_EVENT = re.compile(rf"(?:{_EVENT_WORDS})$")
_EVENT_AFTER = re.compile(
    r"^\s+(?:meteor shower|festival|parade|concert|conference|marathon|fair|celebration|"
    r"party|ceremony|march|rally|tournament|game|match|race|exhibition|show)\b",
    re.I,
)
_ORG_AFTER = re.compile(r"^\s+(?:group|club|team|band|company|charity|organization)\b", re.I)

# A capitalised word, or a run of them joined by a few particles ("Amy Ellis Nutt", "Bank of
# America"); all-capital words are names only inside such a run ("Connected LGBTQ Activists").
_CAP = r"[A-Z][a-z][\w'’-]*"
_ANY = r"[A-Z][\w'’-]*"
_RUN = re.compile(rf"\b{_ANY}(?:\s+(?:(?:of|the|de|da|van|von|la|le|del)\s+){{0,2}}{_ANY})*")
_QUOTED = re.compile(r"[\"“'‘](?P<t>[A-Z][^\"“”'‘’]{1,60}?)[\"”'’](?!\w)")

# Capitalised words that name nothing: values.NOT_A_NAME (pronouns, days, sentence
# adverbs) and what else starts a chat line ("Thanks", "Wow", "Mom", months).
_NOT_NAMES = {
    *values.NOT_A_NAME,
    *(  # noqa: SIM905 (a list of 110 one-word strings reads worse)
        "I'm I've I'll I'd Im Ive Ill Id Me Mine You Your Them His Her Their Its These Those "
        "There Here And But Or If When Why How Where Which Yes No Yep Nope Ok Okay OK Hey Hi "
        "Hello Thanks Thank Please Sorry Sure Just God Lol Omg Haha Aww Awesome Great Cool "
        "Nice Congrats Congratulations Love Hope Mom Dad Mum Grandma Grandpa January "
        "February March April May June July August September October November December "
        "Tonight Anyone Everything Nothing Something Anything Mr Mrs Ms Dr St Mt Mon Tue "
        "Tues Wed Thu Thur Thurs Fri Sat Sun Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov "
        "Dec"
    ).split(),
}
_SELF_BEFORE = re.compile(r"\b(?:I'm|I am|my name is|my name's|call me|this is)\s+$", re.I)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(])\s*$")


@dataclass(frozen=True)
class Name:
    name: str
    type: str  # one of mnemo.contracts.ENTITY_TYPES
    relationship: str
    span: tuple[int, int]


def names(sentence: str) -> list[Name]:
    """The names in one sentence, each with its type and span (in the sentence)."""
    found: list[Name] = []
    quoted: list[tuple[int, int]] = []
    for m in _QUOTED.finditer(sentence):
        title = m.group("t").strip()
        if len(title.split()) > 8 or title in _NOT_NAMES:
            continue
        start, end = m.start("t"), m.start("t") + len(title)
        quoted.append((m.start(), m.end()))
        before = sentence[: m.start()]
        type_ = "organization" if _GROUP_BEFORE.search(before) else "product"
        found.append(Name(title, type_, MENTIONED, (start, end)))
    previous: Name | None = None
    for m in _RUN.finditer(sentence):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        words = m.group(0).split()
        while words and words[0].rstrip("'’s") in _NOT_NAMES:
            words = words[1:]
        while words and (words[-1] in _NOT_NAMES or words[-1].lower() in {"and", "of", "the"}):
            words = words[:-1]
        if not words:
            continue
        text = " ".join(words)
        start = sentence.index(text, m.start())
        if text.endswith(("'s", "’s")):
            text = text[:-2]
        if (text.isupper() and " " not in text) or text in _ADJECTIVES:
            continue  # an acronym alone ("LOL", "LGBTQ") or a word like "English"
        before, after = sentence[:start], sentence[start + len(text) :]
        if _SELF_BEFORE.search(before):
            continue  # "I'm Kim": the speaker, not someone they mention
        introduced = _PET_AFTER.search(after) or _ROLE_AFTER.search(after)
        if _SENTENCE_START.search(before) and not introduced:
            previous = None
            continue  # a capital that starts a sentence says nothing
        name = Name(text, *_kind(text, before, after, previous), (start, start + len(text)))
        found.append(name)
        previous = name
    return found


def _kind(text: str, before: str, after: str, previous: "Name | None") -> tuple[str, str]:
    """(type, relationship) of a name from the words around it."""
    before = re.sub(r"\b(?:the|a|an)\s+$", "", before, flags=re.I)
    if _PET_BEFORE.search(before) or _PET_AFTER.search(after):
        return "pet", "pet"
    if role_after := _ROLE_AFTER.search(after):
        return "person", role_after.group("role").lower()
    if role := _ROLE_BEFORE.search(before):
        word = re.sub(r"^(?:my|our|his|her|their)\s+", "", role.group(0).strip(), flags=re.I)
        word = re.sub(r"(?:'s|,|\s+(?:named|called|is|was))$", "", word, flags=re.I)
        return "person", word.lower().strip()
    last = text.split()[-1]
    if text in _HOLIDAYS:
        return "event", MENTIONED
    if _LAST_EVENT.search(last) or _EVENT_AFTER.search(after):
        return "event", MENTIONED
    if _LAST_ORG.search(last) or _ORG_AFTER.search(after) or _GROUP_BEFORE.search(before):
        return "organization", MENTIONED
    if _LAST_PLACE.search(last) or _PLACE_BEFORE.search(before):
        return "place", MENTIONED
    if _AT_BEFORE.search(before):
        return "organization", MENTIONED
    if _TITLE_BEFORE.search(before) or _TITLE_AFTER.search(after):
        return "product", MENTIONED
    if _TOOL_BEFORE.search(before):
        return "tool", MENTIONED
    if previous is not None and re.fullmatch(
        r"\s*(?:,|,?\s*(?:and|or)|&)\s*", before[previous.span[1] :]
    ):
        return previous.type, previous.relationship
    if " " not in text and re.search(r"[a-z][A-Z]|\d", text):
        return "tool", MENTIONED  # "JavaScript", "BullMQ", "iPhone15"
    return "person", MENTIONED
