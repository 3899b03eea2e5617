"""The outputs rule (tools/compare.py) on the real stored outputs: a number moved by one unit in
its last printed digit passes; two units, another sign, exponent or whole number, or a changed
word fails, naming the file, the section and the line."""

import re
from decimal import Decimal

import pytest

from tools.compare import NUMBER, compare, numbers
from tools.snippets import output_differences, output_file, read_outputs, snippet_files, stored_sections

STORED = {f"{s.stem}:{name}": text for s in snippet_files() for name, text in read_outputs(output_file(s)).items()}
WITH_DECIMALS = sorted(key for key, text in STORED.items() if any(unit for _, _, unit in numbers(text)))


def moved(text: str, units: int, only: int | None = None) -> str:
    """Every number with decimals or an exponent (or only the `only`-th of them) moved away from
    zero by `units` units in its last digit, printed with the same decimals and exponent."""
    count = -1

    def move(match: re.Match) -> str:
        nonlocal count
        sign, digits, exponent = match.groups()
        decimals = len(digits.partition(".")[2])
        if not decimals and exponent is None:
            return match[0]
        count += 1
        if only is not None and count != only:
            return match[0]
        new = Decimal(digits) + units * Decimal(1).scaleb(-decimals)
        return f"{sign}{new:.{decimals}f}" + (f"e{exponent}" if exponent is not None else "")

    return NUMBER.sub(move, text)


def test_the_stored_outputs_print_numbers_with_decimals():
    assert len(WITH_DECIMALS) > 50  # the tests below look at real outputs, not at a handful


@pytest.mark.parametrize("key", WITH_DECIMALS)
def test_every_number_moved_by_one_unit_matches(key):
    result = compare(STORED[key], moved(STORED[key], 1))
    assert result.same, result.problems
    assert len(result.moved) == sum(1 for _, _, unit in numbers(STORED[key]) if unit)


@pytest.mark.parametrize("key", WITH_DECIMALS)
def test_one_number_moved_by_two_units_fails_on_its_line(key):
    text = STORED[key]
    line = next(line for line, _, unit in numbers(text) if unit)
    result = compare(text, moved(text, 2, only=0))
    assert [number for number, _ in result.problems] == [line]
    assert "more than one unit in its last digit" in result.problems[0][1]


@pytest.mark.parametrize(("stored", "printed", "why"), [
    ("loss 0.949", "loss 0.947", "more than one unit in its last digit"),
    ("tiny 1.45e-32", "tiny 1.45e-31", "the exponent differs"),
    ("mean -0.0001", "mean +0.0001", "the sign differs"),
    ("mean -0.0001", "mean 0.0001", "the sign differs"),
    ("7946 parameters", "7947 parameters", "a whole number must be the same"),
    ("tensor([1., 2.])", "tensor([1., 3.])", "a whole number must be the same"),
    ("std 0.0442", "std 0.044", "printed with another number of decimals"),
    ("grad is None: True", "grad is None: False", "the text differs"),
    ("torch 2.13.0", "torch 2.14.0", "the text differs"),
    ("12.5%", "12.7%", "more than one unit in its last digit"),
])
def test_what_the_rule_refuses(stored, printed, why):
    assert why in compare(stored, printed).problems[0][1]


@pytest.mark.parametrize(("stored", "printed"), [
    ("0.949", "0.948"), ("1.45e-32", "1.44e-32"), ("12.5%", "12.6%"), ("0.999", "1.000"),
    ("a\nb", "a  \nb\n\n"),  # trailing spaces and blank lines: a page does not show them
    ("layers.0.weight 0.5", "layers.0.weight 0.6"),
    ("mean -0.0000", "mean 0.0000"), ("mean -0.0001", "mean 0.0000"),  # one unit across zero
    ("tensor([ 9.9999,  1.0000])", "tensor([10.0000,  1.0000])"),  # torch pads the others to the new width
])
def test_what_the_rule_accepts(stored, printed):
    assert compare(stored, printed).same


@pytest.mark.scratch
def test_a_stored_number_two_units_off_names_its_file_section_and_line(project_copy):
    snippet = project_copy / "snippets" / "initialization.py"
    path = output_file(snippet)
    start, text = stored_sections(path)["depth"]
    line = next(line for line, _, unit in numbers(text) if unit)
    path.write_text(path.read_text(encoding="utf-8").replace(text, moved(text, 2, only=0)), encoding="utf-8")
    problems = output_differences(snippet)
    assert len(problems) == 1  # only the section that differs, with the stored and the printed text
    assert problems[0].startswith(f"outputs/cpu/initialization.txt:{start + line} [depth]: stored ")
    assert "--- stored: outputs/cpu/initialization.txt [depth]" in problems[0]
    assert "+++ printed now: snippets/initialization.py [depth]" in problems[0]
