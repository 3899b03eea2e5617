"""The glossary (docs/glossary.yml): its page in each language, and the terminology check."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools.comments import load, translation_file
from tools.pages import pages, prose_lines
from tools.project import ROOT, docs_dir
from tools.snippets import snippet_files

HEADERS = {"en": ("English", "中文", "Meaning", "Explained in"), "zh": ("中文", "English", "含义", "详见")}


def terms(root: Path = ROOT) -> list[dict]:
    return yaml.safe_load((root / "docs" / "glossary.yml").read_text(encoding="utf-8"))


def table(lang: str, root: Path = ROOT) -> str:
    """The glossary as a Markdown table in `lang`, each term linked to where it is explained."""
    other = "zh" if lang == "en" else "en"
    rows = [" | ".join(HEADERS[lang]), " | ".join("---" for _ in HEADERS[lang])]
    for term in terms(root):
        page = term["page"]
        link_text = title(docs_dir(lang, root) / page.split("#")[0])
        rows.append(f"**{term[lang]}** | {term[other]} | {term[f'{lang}_def']} | [{link_text}]({page})")
    return "\n".join(f"| {row} |" for row in rows) + "\n"


def title(page: Path) -> str:
    """A page's H1, without an explicit id."""
    first = next(line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
    return re.sub(r"\s*\{[^}]*\}\s*$", "", first[2:]).strip()


def terminology_problems(root: Path = ROOT) -> list[str]:
    """Chinese prose, Chinese code comments and the Chinese of the common mistakes that use a
    rendering the glossary rules out, with file, line and the right term."""
    texts = [(page, number, re.sub(r"`[^`]*`", "", line))  # code spans keep their own words
             for page in pages("zh", root) for number, line in prose_lines(page)]
    for snippet in snippet_files(root):
        table = translation_file(snippet, "zh")
        texts += [(table, line, text) for text, line in load(snippet, "zh").values()]
    mistakes = root / "docs" / "mistakes.yml"  # both languages; English lines cannot match
    lines = mistakes.read_text(encoding="utf-8").splitlines()
    texts += [(mistakes, number, line) for number, line in enumerate(lines, 1)]
    problems, glossary = [], terms(root)
    for path, number, text in texts:
        for term in glossary:
            for wrong in term.get("avoid", []):
                if wrong in text:
                    problems.append(f"{path.relative_to(root)}:{number}: uses '{wrong}'; the glossary's "
                                    f"term for '{term['en']}' is '{term['zh']}' (docs/glossary.yml)")
    return problems
