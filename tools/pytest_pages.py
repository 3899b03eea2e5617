"""pytest plugin: pytest-markdown-docs runs the pages as readers see them.

Loaded with `-p tools.pytest_pages`. Each English page under docs/en/ is collected here (instead
of by `--markdown-docs`, which would also import every .py file for docstrings): its include lines
are expanded exactly as the site expands them, folded blocks (an exercise's solution) are opened,
and pytest-markdown-docs makes a test of every Python fence. Every fence continues the one before
it, so that a page runs top to bottom like a notebook. Test ids and line numbers point at the
fence in the page's own source. A page whose includes cannot be expanded fails alone, with one
message naming the page, the file and the section.

The other languages' pages show the same code with their own comments, which
tests/test_languages.py proves token for token: running them again would prove nothing more.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import types
from pathlib import Path

from markdown_it import MarkdownIt
from pytest_markdown_docs._runners import DefaultRunner, register_runner
from pytest_markdown_docs.plugin import FenceSyntax, MarkdownInlinePythonItem, MarkdownTextFile, extract_fence_tests

from tools.pages import PageError, check_includes, expand, unfold
from tools.project import SOURCE, docs_dir
from tools.snippets import SnippetError, running_as_main


class ExpandedParser:
    """A MarkdownIt stand-in whose `parse` sees the page expanded, with fence lines mapped back."""

    def __init__(self, source: str, expanded: str) -> None:
        self._markdown_it = MarkdownIt("commonmark")
        self._source, self._expanded = unfold(source), unfold(expanded)

    def parse(self, _text: str):
        original = [t for t in self._markdown_it.parse(self._source) if t.type == "fence"]
        tokens = self._markdown_it.parse(self._expanded)
        expanded = [t for t in tokens if t.type == "fence"]
        for source, token in zip(original, expanded, strict=True):
            token.map = source.map  # report the page's line, not the expanded text's
            if token.info.split()[:1] == ["python"]:
                token.info += " continuation"
        return tokens


class Page(MarkdownTextFile):
    def collect(self):
        root, lang = self.path.parents[2], self.path.parent.name
        source = self.path.read_text(encoding="utf-8")
        try:
            check_includes(self.path, root)
            expanded = expand(source, root, lang)
        except (PageError, SnippetError) as error:
            raise self.CollectError(str(error)) from None
        syntax = FenceSyntax(self.config.option.markdowndocs_syntax)
        tests = extract_fence_tests(ExpandedParser(source, expanded), source, source_path=self.path,
                                    start_line_offset=0, markdown_type="md", fence_syntax=syntax)
        for number, test in enumerate(tests, 1):
            yield MarkdownInlinePythonItem.from_parent(
                self, name=f"[CodeFence#{number}][line:{test.start_line}]", test_definition=test)


def pytest_collect_file(file_path: Path, parent):
    """The English pages (docs/en/**/*.md) of this project or a copy of it."""
    if file_path.suffix == ".md" and file_path.is_relative_to(docs_dir(SOURCE, Path(parent.config.rootpath))):
        return Page.from_parent(parent, path=file_path)
    return None


@register_runner(default=True)
class PageRunner(DefaultRunner):
    """Runs a page's fences in one namespace, each only once.

    With `continuation`, the source of fence N is the source of fences 1..N. When fence N-1
    of the same page has just passed, only the new part runs, in the namespace fence N-1
    left (line numbers kept); otherwise the whole chain runs from a fresh namespace. The code
    runs as `__main__`, as a reader's script does, so that the classes it pickles load again.
    What the fences print is kept out of the test log; tests/test_snippets.py checks it.
    """

    def __init__(self) -> None:
        self._pages: dict[str, tuple[str, types.ModuleType]] = {}  # page -> (source run so far, its module)

    def runtest(self, test, args, **kwargs):
        page = str(test.source_path)
        done, namespace = self._pages.pop(page, ("", None))
        if namespace is None or not test.source.startswith(done):
            done, namespace = "", types.ModuleType("__main__")
            namespace.__dict__.update({k: v for k, v in args.items() if k != "__name__"})
        remainder = "\n" * done.count("\n") + test.source[len(done):]
        part = dataclasses.replace(test, source=remainder)
        with contextlib.redirect_stdout(io.StringIO()), running_as_main(namespace):
            super().runtest(part, namespace.__dict__, **kwargs)
        self._pages[page] = (test.source, namespace)

