"""Common mistakes (docs/mistakes.yml): their page in each language, grouped by chapter, each
linked to where it is explained and to the exercise that practises it; and the check that every
entry is complete and every link lands on a heading that exists."""

from __future__ import annotations

from pathlib import Path

from tools.pages import HEADING, heading_ids, prose_lines, read_yaml, title
from tools.project import LANGUAGES, ROOT, SOURCE, docs_dir

HEADERS = {"en": ("#", "The mistake", "What is right", "Explained in", "Practise it"),
           "zh": ("#", "错误做法", "正确做法", "详见", "练习")}
ELSEWHERE = {"en": ("Copying code and outputs", "elsewhere"), "zh": ("复制代码和输出", "elsewhere")}
SEPARATOR = {"en": ", ", "zh": "、"}


def entries(root: Path = ROOT) -> list[dict]:
    return read_yaml(root / "docs" / "mistakes.yml", root)


def entry_lines(root: Path = ROOT) -> list[int]:
    """The line where each entry of docs/mistakes.yml starts, for messages that name it."""
    return [node.start_mark.line + 1 for node in read_yaml(root / "docs" / "mistakes.yml", root, node=True).value]


def _heading(page: Path, heading_id: str) -> str:
    """The text of the heading of a page that has this id."""
    for (_, line), found in zip((pl for pl in prose_lines(page) if HEADING.match(pl[1])), heading_ids(page)):
        if found == heading_id:
            return HEADING.match(line)["text"]
    raise KeyError(f"{page.name} has no heading with id '{heading_id}'")


def tables(lang: str, root: Path = ROOT) -> str:
    """The mistakes as Markdown, a section and a table per chapter, numbered through."""
    docs = docs_dir(lang, root)
    groups: dict[str | None, list[dict]] = {}
    for entry in entries(root):
        groups.setdefault(entry.get("chapter"), []).append(entry)
    out, number = [], 0
    for chapter, rows in groups.items():
        heading, anchor = (title(docs / f"{chapter}.md"), chapter) if chapter else ELSEWHERE[lang]
        out += [f"## {heading} {{ #{anchor} }}", "", "| " + " | ".join(HEADERS[lang]) + " |",
                "|" + "---|" * len(HEADERS[lang])]
        for row in rows:
            number += 1
            see = SEPARATOR[lang].join(f"[{title(docs / target.split('#')[0])}]({target})" for target in row["see"])
            practise = row.get("practise")
            exercise = ""
            if practise:
                page, _, anchor = practise.partition("#")
                exercise = f"[{_heading(docs / page, anchor)}]({practise})"
            out.append(f"| {number} | {row['mistake'][lang]} | {row['right'][lang]} | {see} | {exercise} |")
        out.append("")
    return "\n".join(out)


def problems(root: Path = ROOT) -> list[str]:
    """Entries without both languages, or with a link to a page or heading that does not exist."""
    found = []
    for line, entry in zip(entry_lines(root), entries(root), strict=True):
        where = f"docs/mistakes.yml:{line}: {entry.get('mistake', {}).get(SOURCE, '?')[:40]!r}"
        chapter = entry.get("chapter")
        if chapter and not (docs_dir(SOURCE, root) / f"{chapter}.md").exists():
            found.append(f"{where}: there is no chapter '{chapter}'")
        for field in ("mistake", "right"):
            missing = [lang for lang in LANGUAGES if not str(entry.get(field, {}).get(lang, "")).strip()]
            if missing:
                found.append(f"{where}: '{field}' has no text in {', '.join(missing)}")
        targets = [*entry.get("see", []), *([entry["practise"]] if entry.get("practise") else [])]
        if not entry.get("see"):
            found.append(f"{where}: 'see' names no page where it is explained")
        for target in targets:
            page, _, anchor = target.partition("#")
            for lang in LANGUAGES:
                path = docs_dir(lang, root) / page
                if not path.exists():
                    found.append(f"{where}: links to {target}, but there is no docs/{lang}/{page}")
                elif anchor and anchor not in heading_ids(path):
                    found.append(f"{where}: links to {target}, but docs/{lang}/{page} has no heading '{anchor}'")
        practise = entry.get("practise")
        if practise and not practise.partition("#")[2].startswith("exercise-"):
            found.append(f"{where}: 'practise' must link to an exercise (#exercise-...), not {practise}")
    return found
