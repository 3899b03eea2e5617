"""Which version of its English page each Chinese page translates.

A Chinese page records, in its front matter, a fingerprint of the English page it was
translated from: `translation_of: <12 hex digits>`. The fingerprint is a hash of the English
page's content (whitespace folded), so any real change to the English page makes it stale,
whatever the commit dates. Stale translations are reported by the tests and flagged on the
Chinese page with a notice that links to the English page, until the translator updates the
page and runs `make translated PAGE=<name>`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from tools.project import ROOT, docs_dir

RECORD = re.compile(r"\A---\n(?:.*\n)*?translation_of:\s*(?P<hash>[0-9a-f]+)\b.*\n(?:.*\n)*?---\n")


def fingerprint(english: Path) -> str:
    text = " ".join(english.read_text(encoding="utf-8").split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def recorded(chinese: Path) -> str | None:
    match = RECORD.match(chinese.read_text(encoding="utf-8"))
    return match["hash"] if match else None


def stale(root: Path = ROOT) -> list[str]:
    """Chinese pages whose English page changed since they were translated."""
    problems = []
    for chinese in sorted(docs_dir("zh", root).rglob("*.md")):
        english = docs_dir("en", root) / chinese.relative_to(docs_dir("zh", root))
        if english.exists() and recorded(chinese) != fingerprint(english):
            problems.append(
                f"{chinese.relative_to(root)} translates {recorded(chinese) or 'no recorded version'} of "
                f"{english.relative_to(root)}, which is now {fingerprint(english)}: update the translation, "
                f"then run `make translated PAGE={chinese.stem}`"
            )
    return problems


def mark(chinese: Path, root: Path = ROOT) -> None:
    """Record that `chinese` now translates the current English page."""
    english = docs_dir("en", root) / chinese.relative_to(docs_dir("zh", root))
    text = chinese.read_text(encoding="utf-8")
    line = f"translation_of: {fingerprint(english)}  # docs/en/{english.name}, see tools/translations.py\n"
    if RECORD.match(text):
        text = re.sub(r"(?m)^translation_of:.*\n", line, text, count=1)
    else:
        text = f"---\n{line}---\n\n{text}"
    chinese.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    names = sys.argv[1:] or [p.stem for p in sorted(docs_dir("zh").glob("*.md"))]
    for name in names:
        mark(docs_dir("zh") / f"{name}.md")
        print(f"docs/zh/{name}.md translates the current docs/en/{name}.md")
