"""The built-in extractor: what a subject says about themselves, matched by rules, offline.

It reads a memory sentence by sentence (questions and conditionals say nothing about
the subject) and finds three things, each with its character span in the memory:

- facts ("I work at Stripe" -> employer Stripe), in the categories of FACT_CATEGORIES;
- negations ("I left Acme", "I no longer use Jira"): facts that stop holding;
- entities mentioned, with their relationship to the subject ("my manager Sarah").

What a fact does to what was known (supersede, merge, end) is decided by `timeline`,
not here. This is the baseline that an LLM extractor will be measured against on the
quality set in tests/data/synthesis_quality.yaml.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mnemo.synthesis import values
from mnemo.synthesis.attributes import ATTRIBUTES, ROLES, role_attribute
from mnemo.synthesis.names import MENTIONED, names
from mnemo.synthesis.values import NAME as _NAME

NAME = "rules-v2"


@dataclass(frozen=True)
class Finding:
    """A fact about the subject."""

    attribute: str
    value: str
    statement: str
    confidence: float
    span: tuple[int, int]

    @property
    def kind(self) -> str:
        return ATTRIBUTES[self.attribute].kind

    @property
    def category(self) -> str:
        return ATTRIBUTES[self.attribute].category

    @property
    def single(self) -> bool:
        return ATTRIBUTES[self.attribute].single


@dataclass(frozen=True)
class Negation:
    """The subject says a fact no longer holds: of `attribute` (None: whichever has the
    value) and `value` (None: whatever is current)."""

    attribute: str | None
    value: str | None
    span: tuple[int, int]


@dataclass(frozen=True)
class Mention:
    """An entity in the subject's world and how it relates to them."""

    name: str
    type: str
    relationship: str
    confidence: float
    span: tuple[int, int]


@dataclass
class Extraction:
    facts: list[Finding] = field(default_factory=list)
    negations: list[Negation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    # Which extractor read the memory, and why the built-in one did when an LLM was asked.
    extractor: str = NAME
    fallback_reason: str | None = None


# --------------------------------------------------------------------------- rules

Reader = Callable[[str, int], values.Read]
Apply = Callable[["_Sentence", re.Match[str]], None]


@dataclass
class _Sentence:
    text: str
    offset: int
    confidence: float  # lowered when hedged ("I think", "maybe")
    out: Extraction
    quoted: list[tuple[int, int]] = field(default_factory=list)  # in the memory's offsets

    def someone_else(self, at: int) -> bool:
        """Whether the "I" at `at` is not the speaker's: words quoted ("She told me, "I'm
        moving to Berlin"") or a relative clause about a noun (`embedded`)."""
        where = self.offset + at
        return any(a <= where < b for a, b in self.quoted) or embedded(self.text, at)

    def fact(self, attribute: str, value: str, template: str, conf: float, span: range) -> None:
        if not values.says_something(value) or self.someone_else(span.start):
            return
        statement = third_person(template.format(value, a=values.with_article(value)))
        found = Finding(
            attribute,
            value,
            statement[0].upper() + statement[1:],
            round(conf * self.confidence, 2),
            (self.offset + span.start, self.offset + span.stop),
        )
        self.out.facts.append(found)
        spec = ATTRIBUTES[attribute]
        named = spec.entity_type == "tool" or value[:1].isupper() or value[:1].isdigit()
        if spec.entity_type and spec.category != "relations" and named:
            self.mention(value, spec.entity_type, spec.relationship, conf, span)

    def negation(self, attribute: str | None, value: str | None, span: range) -> None:
        if self.someone_else(span.start):
            return
        at = (self.offset + span.start, self.offset + span.stop)
        self.out.negations.append(Negation(attribute, value, at))

    def mention(self, name: str, type_: str, relationship: str, conf: float, span: range) -> None:
        at = (self.offset + span.start, self.offset + span.stop)
        if any(a <= at[0] < b for a, b in self.quoted):
            relationship = MENTIONED  # "my boss Tom" in someone else's words: not theirs
        self.out.mentions.append(
            Mention(name, type_, relationship, round(conf * self.confidence, 2), at)
        )


_RULES: list[tuple[re.Pattern[str], Apply]] = []


def _rule(pattern: str) -> Callable[[Apply], Apply]:
    def register(apply: Apply) -> Apply:
        _RULES.append((re.compile(pattern, re.I), apply))
        return apply

    return register


def fact(attribute: str, pattern: str, read: Reader, template: str, conf: float) -> None:
    """`pattern` ends where the value begins."""

    def apply(s: _Sentence, m: re.Match[str]) -> None:
        if found := read(s.text, m.end()):
            s.fact(attribute, found[0], template, conf, range(m.start(), found[1]))

    _RULES.append((re.compile(pattern, re.I), apply))


def fact_list(attribute: str, pattern: str, template: str, conf: float, tools: bool) -> None:
    """Every item of a list after `pattern` ("I love hiking and kayaking"); a taste names
    kinds of things, so a list that starts with one particular thing ("I love the color and
    texture", said of what the listener shows) is a reaction, and no taste."""

    def apply(s: _Sentence, m: re.Match[str]) -> None:
        read = values.read_tools if tools else values.read_list
        rest = s.text[m.end() :]
        if not tools and re.search(r"\b(?:anymore|any more)\b", rest, re.I):
            return
        for i, (value, _, end) in enumerate(read(s.text, m.end())):
            if not values.says_something(value):
                break  # the list was no list of things ("I love how it's ... and ...")
            if not tools and values.definite(value):
                if i == 0:
                    break
                continue
            s.fact(attribute, value, template, conf, range(m.start(), end))

    _RULES.append((re.compile(pattern, re.I), apply))


def negation(attribute: str | None, pattern: str, read: Reader | None) -> None:
    """`pattern` ends where the value begins; no reader: whatever is current ends."""

    def apply(s: _Sentence, m: re.Match[str]) -> None:
        if read is None:
            s.negation(attribute, None, range(m.start(), m.end()))
        elif found := read(s.text, m.end()):
            s.negation(attribute, found[0], range(m.start(), found[1]))

    _RULES.append((re.compile(pattern, re.I), apply))


def negation_list(attribute: str | None, pattern: str, tools: bool) -> None:
    def apply(s: _Sentence, m: re.Match[str]) -> None:
        read = values.read_tools if tools else values.read_list
        for value, _, end in read(s.text, m.end()):
            s.negation(attribute, value, range(m.start(), end))

    _RULES.append((re.compile(pattern, re.I), apply))


_I = r"\bI"
_IM = r"\bI(?:'m|’m| am)"
_IVE = r"\bI(?:'ve|’ve| have)"
_NOW = r"(?:now |currently |still |also |just |recently |finally |actually |really )*"
_NAME_T = values.read_name
_PHRASE = values.read_phrase
_ROLES = "|".join(sorted((re.escape(r) for r in ROLES), key=len, reverse=True))
_JOBS = (
    r"engineer|developer|designer|manager|teacher|nurse|doctor|lawyer|scientist|analyst|"
    r"consultant|writer|student|researcher|architect|accountant|founder|co-founder|ceo|"
    r"cto|cfo|coo|vp|chef|artist|musician|photographer|programmer|administrator|recruiter|"
    r"marketer|journalist|professor|lecturer|intern|freelancer|pharmacist|therapist|"
    r"electrician|mechanic|pilot|editor|economist|librarian|paramedic|firefighter|"
    r"officer|director|lead|specialist|coordinator|technician|dentist|veterinarian|"
    r"tutor|product owner|data scientist|sre|devops engineer|owner|entrepreneur|barista"
)
_ROLE_VALUE = rf"(?:[a-z][\w-]* ){{0,3}}(?:{_JOBS})s?\b"

# identity -------------------------------------------------------------------------
fact("name", r"\bmy name(?: is|'s|’s) ", _NAME_T, "Name is {}", 0.95)
fact("name", rf"(?:{_IM} called |\bcall me |\bpeople call me )", _NAME_T, "Name is {}", 0.85)


@_rule(rf"(?:{_IM} (?P<a>\d{{1,3}}) (?:years old|yo)\b|{_I} (?:just )?turned (?P<b>\d{{1,3}})\b)")
def _age(s: _Sentence, m: re.Match[str]) -> None:
    s.fact("age", m.group("a") or m.group("b"), "Is {} years old", 0.9, range(m.start(), m.end()))


@_rule(
    rf"(?:{_IM} {_NOW}(?:a )?|{_I} (?:went|became|have become) )"
    rf"(?P<v>vegetarian|vegan|pescatarian)\b"
)
def _diet(s: _Sentence, m: re.Match[str]) -> None:
    s.fact("diet", m.group("v").lower(), "Is {}", 0.9, range(m.start(), m.end()))


negation(
    "diet",
    rf"(?:{_IM} no longer (?:a )?|{_IM} not (?:a )?|{_I} stopped being (?:a )?)"
    rf"(?=vegetarian|vegan|pescatarian)",
    values.read_tool,
)

# work -----------------------------------------------------------------------------
_EMPLOYER = (
    rf"(?:{_I} {_NOW}work (?:at|for) |{_IM} {_NOW}(?:working|employed) (?:at|for|by) |"
    rf"{_IVE} (?:been working|worked) (?:at|for) (?=[^.]*\b(?:since|for)\b)|"
    rf"(?:{_I}|{_I}\b[^.;]*?\band) {_NOW}(?:joined|started (?:a new job |working )?at|"
    rf"got (?:a|the) job at|"
    rf"got hired (?:at|by)|was hired (?:at|by)|accepted (?:an|the) offer (?:from|at)|"
    rf"took (?:a|the) job at|moved to a new job at|started a new (?:job|role|position) at)\s+)"
)
fact("employer", _EMPLOYER, _NAME_T, "Works at {}", 0.85)


@_rule(rf"(?:{_IM} {_NOW}(?:an? |the )|{_I} {_NOW}work as (?:an? |the )?)(?P<v>{_ROLE_VALUE})")
def _role(s: _Sentence, m: re.Match[str]) -> None:
    s.fact("role", m.group("v"), "Works as {a}", 0.8, range(m.start(), m.end()))


fact(
    "role",
    rf"(?:{_I} (?:was|got|have been|just got) promoted to |"
    rf"\bmy (?:new |job )?(?:title|role|position) is (?:now )?)(?:an? )?",
    values.read_phrase,
    "Works as {a}",
    0.85,
)


@_rule(
    rf"{_I} {_NOW}(?:joined|work|started|was hired|got hired|am working|'m working)\b[^.,;]*? "
    rf"as (?:an? |the |our |their )(?P<v>{_ROLE_VALUE})"
)
def _joined_as(s: _Sentence, m: re.Match[str]) -> None:
    s.fact("role", m.group("v"), "Works as {a}", 0.8, range(m.start(), m.end()))


@_rule(rf"{_IM} {_NOW}(?:an? |the )(?P<role>{_ROLE_VALUE}) (?:at|for|with) ")
def _role_at(s: _Sentence, m: re.Match[str]) -> None:
    if org := values.read_name(s.text, m.end()):
        s.fact("employer", org[0], "Works at {}", 0.85, range(m.start(), org[1]))


@_rule(
    rf"(?:{_IM} {_NOW}(?:on|working on)|{_I} {_NOW}(?:work on|joined|moved to|switched to)) "
    rf"the (?P<v>[\w-]+(?: [\w-]+)?) team\b"
)
def _team(s: _Sentence, m: re.Match[str]) -> None:
    s.fact("team", m.group("v"), "Works on the {} team", 0.8, range(m.start(), m.end()))


negation(
    "employer",
    rf"(?:{_I} {_NOW}(?:quit|resigned from|was laid off (?:from|by)|got laid off (?:from|by)|"
    rf"was let go (?:from|by)|got fired from|was fired from|stopped working (?:at|for)) "
    rf"(?:my (?:job|position|role) (?:at|with) )?|{_I} no longer work (?:at|for) |"
    rf"{_IM} no longer (?:at|with|working (?:at|for)) |{_I} (?:don't|do not) work (?:at|for) "
    rf"(?=[^.]*\b(?:anymore|any more)\b)|{_I} left my (?:job|position|role) (?:at|with) )",
    _NAME_T,
)
negation(
    "employer",
    rf"(?:{_I} {_NOW}(?:quit|left|lost) my job\b(?! (?:at|with) )|"
    rf"{_I} (?:got|was) laid off\b(?! (?:from|by) )|"
    rf"{_IM} {_NOW}(?:unemployed|between jobs|out of work)\b|{_I} {_NOW}retired\b)",
    None,
)
negation(None, rf"{_I} {_NOW}left ", _NAME_T)

# tools ----------------------------------------------------------------------------
_USE = (
    rf"(?:(?:{_I}|\bwe) {_NOW}(?:mostly |mainly |always |usually )?use |{_IM} {_NOW}using |"
    rf"{_IVE} (?:been using|started using|switched to) |{_I} {_NOW}(?:started using|switched to|"
    rf"rely on|code in) |{_IM} a (?:heavy |big |daily )?user of |"
    rf"(?:{_I}|\bwe) {_NOW}(?:switched|migrated) (?:over )?from \S+(?: \S+)? to )"
)
fact_list("tool", _USE, "Uses {}", 0.8, tools=True)
negation_list(
    "tool",
    rf"(?:{_I} (?:no longer|don't|do not|never) use |{_I} {_NOW}(?:stopped|quit) using |"
    rf"{_IM} (?:no longer|not) using |(?:{_I}|\bwe) {_NOW}(?:ditched|uninstalled|dropped|"
    rf"moved off|switched (?:away )?from|migrated (?:away )?from|replaced) |"
    rf"(?:{_I}|\bwe) {_NOW}(?:use|are using|'re using|switched to|moved to) [^.;]*?instead of )",
    tools=True,
)
negation(None, rf"{_I} {_NOW}gave up (?:on )?", values.read_phrase)

# places ---------------------------------------------------------------------------
_LIVE = (
    rf"(?:{_I} {_NOW}live in |{_IM} {_NOW}(?:living|based|located|settled) in |"
    rf"{_IVE} (?:been living|lived) in (?=[^.]*\b(?:since|for)\b)|(?:{_I}|\bwe) {_NOW}"
    rf"(?:moved|relocated) (?:back )?(?:to|from \S+(?: \S+)? to) |{_I} call |\bmy home is in )"
)
fact("location", _LIVE, _NAME_T, "Lives in {}", 0.85)
fact(
    "hometown",
    rf"(?:{_IM} (?:originally )?from |{_I} grew up in |{_I} was born in )",
    _NAME_T,
    "Is from {}",
    0.8,
)
negation(
    "location",
    rf"(?:{_I} (?:no longer|don't|do not) live in |{_I} {_NOW}moved (?:out of|away from|from) |"
    rf"{_I} {_NOW}relocated from )",
    _NAME_T,
)

# preferences ----------------------------------------------------------------------
fact_list(
    "preference",
    rf"(?:{_I} {_NOW}(?:absolutely |totally |kind of |do )?(?:like|love|adore|enjoy|prefer) |"
    rf"{_IM} {_NOW}(?:a (?:big |huge )?fan of|into|crazy about|passionate about|obsessed with) )",
    "Likes {}",
    0.75,
    tools=False,
)


@_rule(r"\bmy (?:all-time )?favou?rite (?P<thing>[a-z]+(?: [a-z]+)?) is ")
def _favorite(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_phrase(s.text, m.end()):
        template = f"Favorite {m.group('thing')} is {{}}"
        s.fact("preference", found[0], template, 0.8, range(m.start(), found[1]))


fact_list(
    "dislike",
    rf"(?:{_I} {_NOW}(?:hate|dislike|detest|loathe|can't stand|cannot stand|can’t stand|"
    rf"don't like|do not like|don't enjoy|really don't like) |{_IM} not a (?:big )?fan of )",
    "Dislikes {}",
    0.75,
    tools=False,
)
negation_list(
    "preference",
    rf"(?:{_I} (?:no longer|don't|do not|don't really) (?:like|love|enjoy) "
    rf"(?=[^.]*\b(?:anymore|any more)\b)|{_I} no longer (?:like|love|enjoy) |"
    rf"{_IVE} gone off |{_I} {_NOW}stopped (?:liking|enjoying) |"
    rf"{_IM} (?:no longer|not) into (?=[^.]*\b(?:anymore|any more)\b)|{_IM} no longer into |"
    rf"{_I} fell out of love with |{_IM} over )",
    tools=False,
)

# plans ----------------------------------------------------------------------------
fact(
    "plan",
    rf"(?:{_IM} {_NOW}(?:planning|hoping|intending|preparing|aiming) to |{_I} {_NOW}"
    rf"(?:plan|want|hope|intend|aim) to |"
    rf"{_IM} going to |{_IVE} decided to )(?-i:(?=[a-z]))(?!be |the |a |an |my )",
    _PHRASE,
    "Plans to {}",
    0.7,
)
fact("plan", rf"{_IM} {_NOW}thinking (?:about|of) ", _PHRASE, "Considering {}", 0.6)
fact("plan", rf"{_IM} {_NOW}planning (?-i:(?=[a-z]))(?!to )", _PHRASE, "Planning {}", 0.7)


@_rule(rf"{_IM} {_NOW}moving (?:back )?to (?=[A-Z])")
def _moving(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_name(s.text, m.end()):
        value = f"move to {found[0]}"
        s.fact("plan", value, "Plans to {}", 0.75, range(m.start(), found[1]))


negation(
    "plan",
    rf"(?:{_IM} no longer (?:planning|going|hoping) to |{_I} {_NOW}decided not to |"
    rf"{_I} {_NOW}(?:cancelled|canceled|called off|scrapped) (?:my |our |the )?"
    rf"(?:plans? (?:to|for) )?|"
    rf"{_I} changed my mind about )",
    _PHRASE,
)

# current activities -------------------------------------------------------------------
for _verb, _template in (
    (r"(?:working on|building|developing|designing|prototyping)", "Working on {}"),
    (r"(?:learning|studying|taking (?:a course|classes|lessons) in)", "Learning {}"),
    (r"reading", "Reading {}"),
    (r"writing", "Writing {}"),
    (r"training for", "Training for {}"),
    (r"(?:renovating|remodeling|redecorating)", "Renovating {}"),
    (r"preparing for", "Preparing for {}"),
):
    fact(
        "activity",
        rf"(?:{_IM}|{_IVE} been) {_NOW}(?:busy )?{_verb} "
        rf"(?!to |for (?:a|an|the) (?:company|firm)|the [\w-]+(?: [\w-]+)? team\b)",
        _PHRASE,
        _template,
        0.7,
    )
negation(
    "activity",
    rf"(?:{_I} {_NOW}(?:finished|completed|shipped|launched|wrapped up|abandoned) |"
    rf"{_IM} {_NOW}(?:done|finished) with |{_I} {_NOW}stopped (?:working on|learning|reading|"
    rf"building|writing|studying) |{_IM} no longer (?:working on|learning|reading|building|"
    rf"writing|studying) )",
    _PHRASE,
)

# what they did, have and feel (conversational; LoCoMo-like turns) ---------------------
# what follows such a verb is a thing done or had: an article, a possessive, a number, a name,
# or (after "started") an activity
_OBJECT = (
    r"(?=(?:a|an|the|my|our|some|two|three|four|five|several|new)\s|(?-i:[A-Z])|"
    r"(?<=started )[a-z]+ing\b|(?<=began )[a-z]+ing\b|(?<=took up )[a-z]+ing\b)"
)
_THEN = r"(?:just |recently |finally |actually |really |also |even |once |last \w+ )*"
for _verb, _template in (
    (r"went to", "Went to {}"),
    (r"(?:attended|went to see)", "Attended {}"),
    (r"visited", "Visited {}"),
    (r"(?:took part in|participated in|competed in)", "Took part in {}"),
    (r"signed up for", "Signed up for {}"),
    (r"(?:joined|became a member of)", "Joined {}"),
    (r"(?:started|began|took up)", "Started {}"),
    (r"(?:volunteered|volunteer) (?:at|with|for)", "Volunteers at {}"),
    (r"(?:ran|finished|completed) (?=a |an |the |my )", "Ran {}"),
    (r"(?:painted|drew|made|built|wrote|baked|knitted|created)", "Made {}"),
    (r"(?:met|met up with)", "Met {}"),
    (r"(?:adopted|got|bought|received|picked up)", "Got {}"),
    (r"(?:learned|learnt) (?:how )?to", "Learned to {}"),
):
    fact("experience", rf"{_I} {_THEN}{_verb} {_OBJECT}", _PHRASE, _template, 0.65)
fact(
    "possession",
    rf"(?:{_I} {_NOW}(?:have|own|have got)|{_IVE} got) (?=(?:a|an|two|three|four|five|"
    rf"some|my own|[a-z]+ new) )",
    _PHRASE,
    "Has {}",
    0.7,
)
fact(
    "preference",
    rf"{_I} {_NOW}(?:absolutely |totally )?(?:like|love|adore|enjoy) (?=to [a-z])",
    _PHRASE,
    "Likes {}",
    0.7,
)
fact(
    "experience",
    rf"{_IVE} {_NOW}been (?=[a-z]+ing\b)(?!being|thinking|wanting|feeling|going|getting|doing|"
    rf"trying|meaning|looking|hoping|planning|talking|saying|telling|having)",
    _PHRASE,
    "Has been {}",
    0.65,
)


@_rule(
    rf"{_IM} {_NOW}(?:so |very |really |super |pretty |kind of |a bit |a little )*"
    rf"(?P<feel>excited|thrilled|nervous|proud|grateful|thankful|worried|stressed|"
    rf"anxious|scared|curious|happy|glad) (?P<about>about|of|for|with) "
)
def _feeling(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_phrase(s.text, m.end()):
        template = f"Is {m.group('feel').lower()} {m.group('about').lower()} {{}}"
        s.fact("feeling", found[0], template, 0.6, range(m.start(), found[1]))


# relations --------------------------------------------------------------------------


def _relation(s: _Sentence, m: re.Match[str], name: str, end: int, conf: float) -> None:
    role = m.group("role").lower()
    span = range(m.start(), end)
    if m.groupdict().get("old"):
        s.mention(name, "person", f"former {role.replace('boss', 'manager')}", conf, span)
        s.negation(role_attribute(role), name, span)
        return
    attribute = role_attribute(role)
    s.fact(attribute, name, f"{{}} is their {role}", conf, span)
    s.mention(name, "person", role.replace("boss", "manager"), conf, span)


_ROLE_BEFORE = rf"(?:(?P<old>old|former|ex-?)\s?|new )?(?P<role>{_ROLES})"


@_rule(
    rf"\bmy {_ROLE_BEFORE}(?:'s name is|’s name is| is called| is named| named| called|,| is)?"
    rf" (?=[A-Z])"
)
def _my_role_name(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_person(s.text, m.end()):
        _relation(s, m, found[0], found[1], 0.85)


@_rule(
    rf"(?-i:(?P<name>{_NAME}))(?:,)? (?:is|has been|became|will be) (?:now |also )?"
    rf"my {_ROLE_BEFORE}\b"
)
def _name_is_my_role(s: _Sentence, m: re.Match[str]) -> None:
    if name := values.clean_name(m.group("name")):
        _relation(s, m, name, m.end(), 0.85)


@_rule(rf"(?-i:(?P<name>{_NAME})), my {_ROLE_BEFORE}\b")
def _name_comma_my_role(s: _Sentence, m: re.Match[str]) -> None:
    if name := values.clean_name(m.group("name")):
        _relation(s, m, name, m.end(), 0.8)


@_rule(
    rf"(?:{_I} {_NOW}report to |{_IM} {_NOW}(?:married to|dating|engaged to|seeing) |"
    rf"{_I} {_NOW}(?:married|got engaged to) )(?=[A-Z])"
)
def _report_or_partner(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_person(s.text, m.end()):
        report = "report" in m.group(0).lower()
        attribute = "manager" if report else "partner"
        word = "manager" if report else ("spouse" if "marri" in m.group(0).lower() else "partner")
        span = range(m.start(), found[1])
        s.fact(attribute, found[0], f"{{}} is their {word}", 0.8, span)
        s.mention(found[0], "person", word, 0.8, span)


@_rule(
    rf"(?:(?-i:(?P<name>{_NAME})) (?:is|'s|’s) no longer my |(?-i:(?P<name2>{_NAME})) "
    rf"(?:isn't|is not) my (?=[^.]*\b(?:anymore|any more)\b))(?P<role>{_ROLES})\b"
)
def _no_longer_my_role(s: _Sentence, m: re.Match[str]) -> None:
    name = values.clean_name(m.group("name") or m.group("name2"))
    role = m.group("role").lower()
    if not name:
        return
    s.negation(role_attribute(role), name, range(m.start(), m.end()))


@_rule(
    rf"(?:{_I} {_NOW}(?:broke up with|split up with|divorced|separated from) (?=[A-Z])|"
    rf"{_I} no longer report to (?=[A-Z]))"
)
def _broke_up(s: _Sentence, m: re.Match[str]) -> None:
    if found := values.read_person(s.text, m.end()):
        attribute = "manager" if "report" in m.group(0).lower() else "partner"
        s.negation(attribute, found[0], range(m.start(), found[1]))


@_rule(
    rf"(?:(?-i:(?P<name>{_NAME}))|\bmy (?P<role>{_ROLES})\b[^.;]*?) {_NOW}"
    rf"(?:works|worked|is working) (?:at|for) (?=[A-Z])"
)
def _their_employer(s: _Sentence, m: re.Match[str]) -> None:
    # Related through the person: "employer of their sister" (never a name, which the
    # audit must not see); someone whose role was not said is just mentioned.
    role = m.group("role")
    if name := values.clean_name(m.group("name") or ""):
        known = [x for x in s.out.mentions if x.type == "person" and values.same(x.name, name)]
        role = known[-1].relationship if known else None
    if found := values.read_name(s.text, m.end()):
        relationship = f"employer of their {role.lower()}" if role else "mentioned"
        s.mention(found[0], "organization", relationship, 0.7, range(m.start(), found[1]))


# --------------------------------------------------------------------------- subjects

_DETERMINER = (
    r"the|a|an|this|these|those|that|every|each|some|any|all|no|my|your|his|her|our|their|"
    r"its|one|another"
)
# Nouns a clause after them is a time, manner or reason of (when, how or why, not what):
# "the day I went to the park" says where they went.
_WHEN = (
    r"days?|nights?|mornings?|evenings?|afternoons?|weeks?|weekends?|months?|years?|times?|"
    r"moments?|summers?|winters?|springs?|falls?|autumns?|seasons?|semesters?|hours?|"
    r"minutes?|seconds?|while|way|ways|first|last|reasons?"
)
# Words that end a noun phrase's reach: a clause begins after them.
_CLAUSE_WORD = (
    r"and|but|or|so|because|cause|as|since|when|while|if|then|than|though|although|until|"
    r"before|after|now|also|just|really|actually|honestly|think|thought|know|knew|guess|hope|"
    r"say|said|says|feel|felt|mean|bet|wish|realized|realised|remember|believe|suppose|"
    r"told|tell|figured|noticed|found|glad|sure|afraid|proud|happy|is|was|are|were|be|"
    r"been|'s|am|do|did|does|like|how|where|why|whether"
)
# A noun phrase opens with a determiner, or with a preposition when it has none ("for
# countries I want to visit").
_OPENS = (
    rf"{_DETERMINER}|for|about|of|with|to|from|in|on|at|into|like|between|among|around|"
    rf"without"
)
_NOUN_PHRASE = re.compile(
    rf"(?:^|\s)(?P<det>{_OPENS})\s+(?P<words>(?:(?!(?:{_CLAUSE_WORD})\s)[\w'-]+\s+){{0,3}}?)"
    rf"(?P<head>[\w'-]+)\s+(?:that\s+|which\s+)?$",
    re.I,
)
_NO_NOUN = (
    r"you|him|her|them|us|me|it|that|this|these|those|there|here|then|today|tonight|"
    r"yesterday|lately|recently|too|again|sure|course|fact|instance|example"
)
_PRONOUN_HEAD = re.compile(
    r"(?:^|\s)(?:something|anything|everything|nothing|what|whatever|all)\s+(?:that\s+)?$", re.I
)
# A phrase or clause put first, then the main clause: "At the party I met Sam", "after
# finishing my screenplay I got a letter".
_FRONTED = re.compile(
    r"^\s*(?:(?:and|but|so|then|plus|also|well|oh|yeah)\s+)*(?:at|after|before|during|in|on|"
    r"since|from|with|over|through|throughout|for|by|around|until|till|near|inside|outside|"
    r"like|once|when|while|because|as|though|although)\b",
    re.I,
)
_CLAUSE_START = re.compile(r"[,;:.!?()\"“”]|\s[-–—]\s")


def embedded(sentence: str, at: int) -> bool:
    """Whether the first-person clause starting at `at` ("I ...") says what a noun before
    it is: a relative clause ("a job I enjoy every day", "the progress I've been making",
    "the things I love makes ...", "something I love"). Its verb's object is that noun, so
    what follows the verb is no object of the speaker's; a time ("the day I went to the
    park") or a phrase put first ("After the game I went home") is no such noun."""
    if not sentence.startswith(("I", "i"), at):
        return False
    before = _CLAUSE_START.split(sentence[:at])[-1]
    if _PRONOUN_HEAD.search(before):
        return True
    found = _NOUN_PHRASE.search(before)
    if not found or re.fullmatch(_WHEN, found.group("head"), re.I):
        return False
    if re.fullmatch(rf"{_CLAUSE_WORD}|{_NO_NOUN}", found.group("head"), re.I):
        return False
    return not _FRONTED.match(before)


_FIRST_PERSON = {
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
}
# Case-sensitive: "My Chemical Romance" and "World War I" are names, not the speaker.
_FIRST_PERSON_WORD = re.compile(r"\b(?:I'm|I've|I'd|I'll|I(?= [a-z])|me|my|mine|myself)\b(?!-)")


def third_person(statement: str) -> str:
    """A statement about the speaker in their own words ("Is thankful for my friends")
    written about them ("Is thankful for their friends"); a title in quotes stays as it is."""

    def swap(m: re.Match[str]) -> str:
        return _FIRST_PERSON[m.group(0).lower()]

    parts = re.split(r'("[^"]*"|“[^”]*”)', statement)
    return "".join(p if i % 2 else _FIRST_PERSON_WORD.sub(swap, p) for i, p in enumerate(parts))


# --------------------------------------------------------------------------- reading

# Not after an abbreviation that starts a name ("St. Mary's", "Dr. Patel").
_SENTENCE_END = re.compile(
    r"(?<!\bSt\.)(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMt\.)(?<!\bMrs\.)(?<=[.!?])\s+|\n+"
)
_HEDGE = re.compile(r"\b(?:I think|I guess|probably|maybe|perhaps|might)\b", re.I)
_CONDITIONAL = re.compile(r"^\s*(?:if|unless|when|whether)\b|\b(?:if|unless) I\b", re.I)


# The longest piece of text one rule reads at once. A sentence says a fact in far fewer
# characters; a longer one (a log pasted whole, a list with no full stop) is read in pieces
# cut at a space, so that the rules' work grows with the memory's length, not its square:
# unbounded, a 9 KB memory of capitalised words or numbers held synthesis for 10 s.
MAX_SENTENCE = 400


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence of `text`, none longer than MAX_SENTENCE."""
    found, start = [], 0
    for boundary in _SENTENCE_END.finditer(text):
        found.extend(_pieces(text, start, boundary.start()))
        start = boundary.end()
    found.extend(_pieces(text, start, len(text)))
    return [(o, s) for o, s in found if s.strip()]


def _pieces(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """text[start:end] in pieces of at most MAX_SENTENCE, each cut after its last space."""
    out = []
    while end - start > MAX_SENTENCE:
        cut = text.rfind(" ", start + MAX_SENTENCE // 2, start + MAX_SENTENCE)
        cut = cut + 1 if cut > 0 else start + MAX_SENTENCE
        out.append((start, text[start:cut]))
        start = cut
    out.append((start, text[start:end]))
    return out


_QUOTE = re.compile(r'"[^"]*"|“[^”]*”')


def quotes(text: str) -> list[tuple[int, int]]:
    """The spans of `text` in double quotation marks (one sentence or more)."""
    return [m.span() for m in _QUOTE.finditer(text)]


def extract(text: str) -> Extraction:
    """Facts, negations and mentions in `text`, in order of appearance; each once."""
    out = Extraction()
    normal = text.replace("’", "'")  # same length: spans still index `text`
    quoted = quotes(normal)
    for offset, sentence in sentences(normal):
        if sentence.rstrip().endswith("?") or _CONDITIONAL.search(sentence):
            continue
        hedged = 0.8 if _HEDGE.search(sentence) else 1.0
        s = _Sentence(sentence, offset, hedged, out, quoted)
        for pattern, apply in _RULES:
            for match in pattern.finditer(sentence):
                apply(s, match)
        _in_passing(s, 0.6)
    return dedupe(out)


def _in_passing(s: _Sentence, conf: float) -> None:
    """The names of the sentence that no rule read, as mentions (`mnemo.synthesis.names`)."""
    taken = [m.span for m in s.out.mentions] + [n.span for n in s.out.negations]
    for name in names(s.text):
        at = (s.offset + name.span[0], s.offset + name.span[1])
        if any(a < at[1] and at[0] < b for a, b in taken):
            continue
        s.mention(name.name, name.type, name.relationship, conf, range(*name.span))


def _overlap(a: Finding, b: Finding) -> bool:
    return a.span[0] < b.span[1] and b.span[0] < a.span[1]


def dedupe(out: Extraction) -> Extraction:
    """Each fact, negation and mention once (the first said), in order of appearance."""
    facts: dict[tuple[str, str], Finding] = {}
    for f in sorted(out.facts, key=lambda f: f.span):
        facts.setdefault((f.attribute, values.key(f.value)), f)
    negations: dict[tuple[str | None, str], Negation] = {}
    for n in sorted(out.negations, key=lambda n: n.span):
        negations.setdefault((n.attribute, values.key(n.value or "")), n)
    # A value both said and denied in one memory ("I switched from Jira to Linear" has no
    # such clash; "I left Acme" read as a place and a job does): the denial wins.
    denied = {values.key(n.value) for n in negations.values() if n.value}
    # What a rule of its own read ("I joined Globex": employer) is no experience as well.
    specific = [f for f in facts.values() if f.attribute != "experience"]
    kept = [
        f
        for f in facts.values()
        if not (values.key(f.value) in denied and f.attribute != "dislike")
        and not (f.attribute == "experience" and any(_overlap(f, o) for o in specific))
    ]
    mentions: dict[tuple[str, str], Mention] = {}
    for m in sorted(out.mentions, key=lambda m: m.span):
        mentions.setdefault((m.type, values.key(m.name)), m)
    return Extraction(
        facts=sorted(kept, key=lambda f: f.span),
        negations=sorted(negations.values(), key=lambda n: n.span),
        mentions=sorted(mentions.values(), key=lambda m: m.span),
    )
