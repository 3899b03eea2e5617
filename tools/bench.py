"""`make bench`: the project's size and speed figures, printed as a table.

Times the whole test suite, a cold build of both languages (no caches) and a warm rebuild
with nothing changed, and reports the largest built page. Figures, not pass/fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.pages import LANGUAGES, pages
from tools.snippets import ROOT, parse_sections, snippet_files

CACHE = ROOT / ".cache" / "mkdocs-jupyter"


def timed(*commands: list[str]) -> float:
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return time.perf_counter() - start


def build_commands(site: Path) -> list[list[str]]:
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]
    return [mkdocs + ["-f", "mkdocs.yml", "-d", str(site)], mkdocs + ["-f", "mkdocs.zh.yml", "-d", str(site / "zh")]]


def main() -> None:
    rows = [("snippet files", str(len(snippet_files()))),
            ("snippet sections", str(sum(len(parse_sections(p)) for p in snippet_files())))]
    rows += [(f"pages ({lang})", str(len(pages(lang)))) for lang in LANGUAGES]
    suite = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    rows.append(("test suite (make test, s)", f"{suite:.1f}"))
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        saved = Path(tmp) / "cache"
        if CACHE.exists():
            shutil.move(CACHE, saved)  # a cold build: no executed notebooks to reuse
        try:
            rows.append(("cold build, both languages (s)", f"{timed(*build_commands(site)):.1f}"))
            rows.append(("warm rebuild, nothing changed (s)", f"{timed(*build_commands(site)):.1f}"))
        finally:
            if saved.exists():
                shutil.rmtree(CACHE, ignore_errors=True)
                shutil.move(saved, CACHE)
        largest = max(site.rglob("*.html"), key=lambda p: p.stat().st_size)
        rows.append(("largest page (KB)", f"{largest.stat().st_size / 1024:.0f} ({largest.relative_to(site)})"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
