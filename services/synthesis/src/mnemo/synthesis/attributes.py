"""What the built-in synthesis knows about each attribute of a subject: its category, whether
it is a stable trait or current context, whether it holds one value at a time, and which
entity its value names (and how that entity relates to the subject, now and once over)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    name: str
    category: str  # one of mnemo.contracts.FACT_CATEGORIES
    kind: str  # static | dynamic
    single: bool  # one value at a time: a different one supersedes it
    entity_type: str | None = None  # the value names an entity of this type
    relationship: str = ""  # how that entity relates to the subject while the fact holds
    former: str = ""  # ... and after it ended


# Family, work and social roles a person can have to the subject; partner words map to
# one one-value attribute, so a new partner supersedes the old.
SINGLE_ROLES = ("manager", "boss", "mother", "father", "mom", "dad")
PARTNER_ROLES = ("wife", "husband", "partner", "girlfriend", "boyfriend", "fiancé", "fiancée")
MULTI_ROLES = (
    "sister",
    "brother",
    "friend",
    "best friend",
    "colleague",
    "coworker",
    "co-founder",
    "cofounder",
    "mentor",
    "son",
    "daughter",
    "roommate",
    "neighbor",
    "neighbour",
    "cousin",
    "therapist",
    "doctor",
    "coach",
    "direct report",
    "teammate",
    "tech lead",
    "landlord",
)
ROLES = (*SINGLE_ROLES, *PARTNER_ROLES, *MULTI_ROLES)


def role_attribute(role: str) -> str:
    """The attribute a role is kept under ("boss" is a manager, "wife" a partner)."""
    role = role.lower()
    if role in PARTNER_ROLES:
        return "partner"
    return {"boss": "manager", "mom": "mother", "dad": "father", "coworker": "colleague"}.get(
        role, role.replace(" ", "_").replace("-", "")
    )


_FIXED = [
    Attribute("name", "identity", "static", True),
    Attribute("age", "identity", "static", True),
    Attribute("diet", "identity", "static", True),
    Attribute("employer", "work", "static", True, "organization", "employer", "former employer"),
    Attribute("role", "work", "static", True),
    Attribute("team", "work", "static", True),
    Attribute("tool", "work", "static", False, "tool", "uses", "used"),
    Attribute("location", "places", "static", True, "place", "lives in", "lived in"),
    Attribute("hometown", "places", "static", True, "place", "from", "from"),
    Attribute("preference", "preferences", "static", False),
    Attribute("dislike", "preferences", "static", False),
    Attribute("plan", "plans", "dynamic", False),
    Attribute("activity", "activities", "dynamic", False),
    # what they did or went through ("went to a pride parade", "signed up for a class")
    Attribute("experience", "activities", "dynamic", False),
    # what they have ("two kids", "a guinea pig", "new running shoes")
    Attribute("possession", "identity", "static", False),
    # how they feel about something ("excited about the art show")
    Attribute("feeling", "preferences", "dynamic", False),
    Attribute("partner", "relations", "static", True, "person", "partner", "former partner"),
]

ATTRIBUTES: dict[str, Attribute] = {a.name: a for a in _FIXED}
for _role in (*SINGLE_ROLES, *MULTI_ROLES):
    _name = role_attribute(_role)
    ATTRIBUTES.setdefault(
        _name,
        Attribute(
            _name,
            "relations",
            "static",
            _role in SINGLE_ROLES,
            "person",
            _role.replace("boss", "manager"),
            f"former {_role.replace('boss', 'manager')}",
        ),
    )

# Saying the one ends the other for the same value ("I hate X" after "I love X").
OPPOSITES = {"preference": "dislike", "dislike": "preference"}


def attribute(name: str) -> Attribute:
    return ATTRIBUTES[name]
