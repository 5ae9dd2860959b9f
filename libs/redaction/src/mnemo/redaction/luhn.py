"""Card-number plausibility: the Luhn checksum and the issuer prefixes of real cards."""

import re

# Issuer prefixes (IIN ranges) of the major networks. Checking them on top of Luhn keeps
# 13-digit millisecond timestamps, ISBNs and account numbers out: one in ten of those
# passes Luhn by chance, almost none also start like a card.
_ISSUER = re.compile(
    r"4"  # Visa
    r"|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"  # Mastercard
    r"|3[47]"  # American Express
    r"|3(?:0[0-5]|[689])"  # Diners Club
    r"|35"  # JCB
    r"|6(?:011|5|4[4-9]|2)"  # Discover, UnionPay
    r"|5[06-8]|6\d"  # Maestro
)

# How a human writes a card number when they group it.
_GROUPINGS = {(4, 6, 5), (4, 6, 4)}


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) checksum."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def plausible_card(written: str) -> bool:
    """True when `written` (digits, maybe grouped by spaces or dashes) could be a card."""
    groups = re.split(r"[ -]", written)
    digits = "".join(groups)
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    if len(groups) > 1 and not _grouped_like_a_card(groups):
        return False
    return _ISSUER.match(digits) is not None and luhn_valid(digits)


def _grouped_like_a_card(groups: list[str]) -> bool:
    lengths = tuple(len(group) for group in groups)
    if lengths in _GROUPINGS:
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4
