"""The glossary (docs/glossary.yml): its page in each language; the checks of the Chinese text: its
terms, and how it writes numbers."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools.comments import load, translation_file
from tools.pages import FRONT_MATTER, pages, prose_lines, read_yaml, title
from tools.project import ROOT, docs_dir
from tools.snippets import snippet_files

HEADERS = {"en": ("English", "中文", "Meaning", "Explained in"), "zh": ("中文", "English", "含义", "详见")}


def terms(root: Path = ROOT) -> list[dict]:
    return read_yaml(root / "docs" / "glossary.yml", root)


def table(lang: str, root: Path = ROOT) -> str:
    """The glossary as a Markdown table in `lang`, each term linked to where it is explained."""
    other = "zh" if lang == "en" else "en"
    rows = [" | ".join(HEADERS[lang]), " | ".join("---" for _ in HEADERS[lang])]
    for term in terms(root):
        page = term["page"]
        link_text = title(docs_dir(lang, root) / page.split("#")[0])
        rows.append(f"**{term[lang]}** | {term[other]} | {term[f'{lang}_def']} | [{link_text}]({page})")
    return "\n".join(f"| {row} |" for row in rows) + "\n"


def chinese_texts(root: Path = ROOT, comments: bool = True) -> list[tuple[Path, int, str]]:
    """The Chinese a reader sees, as (file, number of its first line, text): each run of prose
    lines of a Chinese page (a paragraph may break a term over two lines), each Chinese code
    comment (unless `comments` is False), and each Chinese field of the common mistakes and of
    the glossary."""
    texts = []
    for page in pages("zh", root):
        front = FRONT_MATTER.match(page.read_text(encoding="utf-8"))
        skip = front.group().count("\n") if front else 0
        run: list[tuple[int, str]] = []
        for number, line in [*prose_lines(page), (0, "")]:
            if run and number != run[-1][0] + 1:  # a code block (or the end) ends the run
                texts.append((page, run[0][0], "\n".join(text for _, text in run)))
                run = []
            if number > skip:
                run.append((number, line))
    if comments:
        for snippet in snippet_files(root):
            table = translation_file(snippet, "zh")
            texts += [(table, line, text) for text, line in load(snippet, "zh").values()]
    for path, keys in ((root / "docs" / "mistakes.yml", {"zh"}), (root / "docs" / "glossary.yml", {"zh", "zh_def"})):
        texts += _yaml_fields(path, keys)
    return texts


def _yaml_fields(path: Path, keys: set[str]) -> list[tuple[Path, int, str]]:
    """The values of the fields named `keys` anywhere in a YAML file, as written there."""
    text = path.read_text(encoding="utf-8")
    lines, fields, nodes = text.splitlines(), [], [read_yaml(path, node=True)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(value, yaml.ScalarNode) and key.value in keys:
                    start, end = value.start_mark, value.end_mark
                    raw = "\n".join(lines[start.line : end.line + 1])[start.column :]
                    fields.append((path, start.line + 1, raw[: len(raw) - len(lines[end.line]) + end.column]))
                else:
                    nodes.append(value)
        elif isinstance(node, yaml.SequenceNode):
            nodes += node.value
    return sorted(fields, key=lambda field: field[1])


def _pattern(term: str) -> re.Pattern:
    """`term` in running text: a line break may fall between two of its parts, a space in it
    stands for any space (or none), a code span in it for any code span that starts the same way
    (`with` for `with torch.device("meta")`), and a term that starts or ends with a Latin letter or
    digit is not part of a longer name (`BatchNorm` does not match `nn.BatchNorm1d`)."""
    body, any_space, line_break = "", r"[ \t]*(?:\n[ \t]*)?", r"(?:\n[ \t]*)?"
    for part in re.findall(r"`[^`]*`| +|.", term):
        if part.startswith(" "):
            body += any_space
        else:
            if body and not body.endswith(any_space):
                body += line_break
            body += re.escape(part[:-1]) + "(?:[^`A-Za-z0-9_][^`]*)?`" if part.startswith("`") else re.escape(part)
    head = r"(?<![A-Za-z0-9_.])" if re.match(r"[A-Za-z0-9_]", term[0]) else ""
    tail = r"(?![A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", term[-1]) else ""
    return re.compile(head + body + tail)


def _outside_code(pattern: re.Pattern, text: str):
    """The matches of `pattern` in `text` that are not inside a code span (code keeps its own words)."""
    spans = [m.span() for m in re.finditer(r"`[^`]*`", text)]
    for match in pattern.finditer(text):
        if not any(start <= match.start() and match.end() <= end for start, end in spans):
            yield match


def _line(first: int, text: str, match: re.Match) -> int:
    return first + text.count("\n", 0, match.start())


def terminology_problems(root: Path = ROOT) -> list[str]:
    """Chinese prose, Chinese code comments, the Chinese of the common mistakes and the glossary's
    own Chinese that use a rendering the glossary rules out, with file, line and the right term."""
    glossary, problems = terms(root), []
    patterns = [(term, wrong, _pattern(wrong)) for term in glossary for wrong in term.get("avoid", [])]
    for path, first, text in chinese_texts(root):
        found = sorted((match.start(), f"{path.relative_to(root)}:{_line(first, text, match)}: uses '{wrong}'; "
                        f"the glossary's term for '{term['en']}' is '{term['zh']}' (docs/glossary.yml)")
                       for term, wrong, pattern in patterns for match in _outside_code(pattern, text))
        problems += [problem for _, problem in found if problem not in problems]  # in the order of the text
    return problems


# Four digits or fewer without a separator, more with commas (7946, 16,384): issue numbers
# (#150915, …/issues/150915) and identifiers (CVE-2025-32434, 59986f95b60b) are no numbers.
GROUPED_FOUR = re.compile(r"(?<![A-Za-z0-9_.,#/:-])[0-9],[0-9]{3}(?![A-Za-z0-9_,]|\.[0-9])")
UNGROUPED_LONG = re.compile(r"(?<![A-Za-z0-9_.,#/:-])[0-9]{5,}(?![A-Za-z0-9_]|[.,][0-9])")


def number_problems(root: Path = ROOT) -> list[str]:
    """Numbers in Chinese prose, the common mistakes and the glossary written against the site's one
    rule: up to four digits without a separator (7946), more digits grouped by commas (16,384)."""
    problems = []
    for path, first, text in chinese_texts(root, comments=False):  # comments hold code: range(10000)
        found = sorted((match.start(), f"{path.relative_to(root)}:{_line(first, text, match)}: writes "
                        f"'{match.group()}'; Chinese text writes a number of up to four digits without a separator "
                        "(7946) and a longer one with commas (16,384)")
                       for pattern in (GROUPED_FOUR, UNGROUPED_LONG) for match in _outside_code(pattern, text))
        problems += [problem for _, problem in found]
    return problems
