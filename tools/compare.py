"""The one rule by which a printed output matches the stored one: text exactly, numbers to their
printed precision.

Another CPU, another thread count or a GPU sums floats in another order, so the last printed
digit of a computed number may differ from machine to machine. The rule:

- The text around the numbers must be the same (trailing spaces of a line aside: a page does
  not show them).
- A number with a decimal point and at least one digit after it, or with an exponent (0.949,
  -1.2500, 1.45e-32, 12.5%, the values in `tensor([...])`), matches when it has the same number
  of decimals and the same exponent, and differs by at most one unit in its last printed digit:
  0.949 matches 0.948, not 0.947; 1.45e-32 matches 1.44e-32, not 1.45e-31; -0.0000 matches
  0.0000 and 0.0001, not 0.0002. (Spaces next to a number do not count,
  and runs of spaces count as one: torch pads a tensor's values to one width.)
- Any other number (a count, a shape, a size in bytes, a seed, an index, a float that torch
  prints as `2.` because it is whole) must be the same to the letter.

pytest's doctest option NUMBER works the same way (to the precision written in the expected
output), but compares only a doctest's output and knows no sign or exponent rule; this module
is the project's own rule, used by every comparison of outputs: the build, the tests, the
notebooks' cells, `make gpu` and the statuses of the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

# Not part of a word, a version (2.13.0) or a module path (layers.0.weight).
NUMBER = re.compile(r"(?<![\w.])([-+]?)(\d*\.\d+|\d+\.|\d+)(?:[eE]([-+]?\d+))?(?!\.?\w)")


@dataclass
class Comparison:
    """`problems`: (line number in the stored text, what is wrong) for each line beyond the rule;
    `moved`: (line, which number of the line, stored, printed) for each number that differs
    within the rule."""

    problems: list[tuple[int, str]] = field(default_factory=list)
    moved: list[tuple[int, int, str, str]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.problems


def compare(stored: str, printed: str) -> Comparison:
    """Compare two outputs line by line (outer blank lines and trailing spaces aside)."""
    result = Comparison()
    old, new = _lines(stored), _lines(printed)
    for number, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            _compare_line(number, a, b, result)
    if len(old) != len(new):
        extra = "printed more lines" if len(new) > len(old) else "printed fewer lines"
        result.problems.append((min(len(old), len(new)) + 1, extra))
    return result


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def _text(parts: list[str]) -> list[str]:
    """The text between numbers, runs of spaces as one: torch pads a tensor's values to one width,
    so 9.9999 becoming 10.0000 moves the others."""
    return [re.sub(r" +", " ", part).strip(" ") for part in parts]


def _compare_line(number: int, stored: str, printed: str, result: Comparison) -> None:
    old, new = NUMBER.split(stored), NUMBER.split(printed)
    # split() alternates text and the 3 groups of each number: text, sign, digits, exponent, text, ...
    if len(old) != len(new) or _text(old[::4]) != _text(new[::4]):
        result.problems.append((number, f"the text differs: stored {stored.strip()!r}, printed {printed.strip()!r}"))
        return
    moved = []
    for i in range(1, len(old), 4):
        a, b = old[i : i + 3], new[i : i + 3]
        if a == b:
            continue
        why = _beyond_rule(a, b)
        if why:
            result.problems.append((number, f"stored {_shown(a)}, printed {_shown(b)}: {why}"))
            return
        moved.append((number, i // 4, _shown(a), _shown(b)))
    result.moved += moved


def _exp(exponent: str | None) -> str:
    return f"e{exponent}" if exponent is not None else ""


def _shown(number: list) -> str:
    """A number as printed, from its groups (sign, digits, exponent)."""
    sign, digits, exponent = number
    return sign + digits + _exp(exponent)


def _beyond_rule(stored: list, printed: list) -> str | None:
    """Why a printed number does not match the stored one under the rule, or None if it does."""
    (sign_a, digits_a, exp_a), (sign_b, digits_b, exp_b) = stored, printed
    decimals = len(digits_a.partition(".")[2])
    if not _inexact(stored):
        return "a whole number must be the same"
    if exp_a != exp_b:
        return "the exponent differs"
    if decimals != len(digits_b.partition(".")[2]):
        return "printed with another number of decimals"
    if abs(Decimal(sign_a + digits_a) - Decimal(sign_b + digits_b)) > Decimal(1).scaleb(-decimals):
        return "the sign differs" if sign_a != sign_b else "more than one unit in its last digit"
    return None


def _inexact(number: list) -> bool:
    """A number printed with decimals or an exponent; a whole number printed as such is exact."""
    _, digits, exponent = number
    return bool(digits.partition(".")[2]) or exponent is not None


def numbers(text: str) -> list[tuple[int, Decimal, Decimal | None]]:
    """Each number of a text in order: (its line, its value, one unit in its last printed digit, or
    None for a whole number, which must match exactly)."""
    found = []
    for match in NUMBER.finditer(text):
        sign, digits, exponent = match.groups()
        value = Decimal(sign + digits.rstrip(".") + _exp(exponent))
        decimals = len(digits.partition(".")[2])
        unit = Decimal(1).scaleb(int(exponent or 0) - decimals) if _inexact([sign, digits, exponent]) else None
        found.append((text.count("\n", 0, match.start()) + 1, value, unit))
    return found
