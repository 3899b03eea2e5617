"""pytest plugin: pytest-markdown-docs runs the pages as readers see them.

Loaded with `-p tools.pytest_pages`. The parser it hands to pytest-markdown-docs expands
the `--8<--` include lines first (exactly as the site does), and makes every Python fence
continue the one before it, so that a page runs top to bottom like a notebook. Test ids
and line numbers still point at the fence in the page's own source.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from markdown_it import MarkdownIt
from pytest_markdown_docs._runners import DefaultRunner, register_runner

from tools.pages import expand


class ExpandingParser:
    """A MarkdownIt stand-in whose `parse` sees the page with its includes expanded."""

    def __init__(self) -> None:
        self._markdown_it = MarkdownIt("commonmark")

    def parse(self, text: str):
        original = [t for t in self._markdown_it.parse(text) if t.type == "fence"]
        tokens = self._markdown_it.parse(expand(text))
        expanded = [t for t in tokens if t.type == "fence"]
        for source, token in zip(original, expanded, strict=True):
            token.map = source.map  # report the page's line, not the expanded text's
            if token.info.split()[:1] == ["python"]:
                token.info += " continuation"
        return tokens


@pytest.hookimpl(tryfirst=True)
def pytest_markdown_docs_markdown_it():
    return ExpandingParser()


@register_runner(default=True)
class QuietRunner(DefaultRunner):
    """Keeps what the fences print out of the test log (each fence re-runs the ones before
    it); the printed text is checked against the stored outputs by tests/test_snippets.py."""

    def runtest(self, test, args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            super().runtest(test, args, **kwargs)
