"""pytest plugin: pytest-markdown-docs runs the pages as readers see them.

Loaded with `-p tools.pytest_pages`. The parser it hands to pytest-markdown-docs expands
the `--8<--` include lines first (exactly as the site does), and makes every Python fence
continue the one before it, so that a page runs top to bottom like a notebook. Test ids
and line numbers still point at the fence in the page's own source.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
class PageRunner(DefaultRunner):
    """Runs a page's fences in one namespace, each only once.

    With `continuation`, the source of fence N is the source of fences 1..N. When fence N-1
    of the same page has just passed, only the new part runs, in the namespace fence N-1
    left (line numbers kept); otherwise the whole chain runs from a fresh namespace.
    What the fences print is kept out of the test log; tests/test_snippets.py checks it.
    """

    def __init__(self) -> None:
        self._pages: dict[str, tuple[str, dict]] = {}  # page -> (source run so far, namespace)

    def runtest(self, test, args, **kwargs):
        page = str(test.source_path)
        done, namespace = self._pages.pop(page, ("", None))
        if namespace is None or not test.source.startswith(done):
            done, namespace = "", args
        remainder = "\n" * done.count("\n") + test.source[len(done):]
        part = dataclasses.replace(test, source=remainder)
        with contextlib.redirect_stdout(io.StringIO()):
            super().runtest(part, namespace, **kwargs)
        self._pages[page] = (test.source, namespace)
