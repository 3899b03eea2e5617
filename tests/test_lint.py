"""Lint: ruff over the Python, codespell over the English text."""

import subprocess
import sys
from pathlib import Path

from tools.project import ROOT

BIN = Path(sys.executable).parent
ENGLISH = [
    "README.md", "CONTRIBUTING.md", "docs/en", "docs/glossary.yml", "docs/mistakes.yml",
    "snippets", "tools", "tests", ".github",
]


def lint(root: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=root, capture_output=True, text=True)


def test_ruff_finds_nothing():
    result = lint(ROOT, str(BIN / "ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_codespell_finds_no_misspelling_in_the_english_text():
    result = lint(ROOT, str(BIN / "codespell"), *[p for p in ENGLISH if (ROOT / p).exists()])
    assert result.returncode == 0, result.stdout + result.stderr
