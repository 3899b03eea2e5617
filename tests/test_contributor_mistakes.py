"""The mistakes of a contributor adding or translating a page, each made on a scratch copy
of the project, and the error that names the file (and line) and what to do."""

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from test_bad_input import edit, line_of
from test_lint import lint

from tools.glossary import terminology_problems
from tools.links import problems as link_problems
from tools.mkdocs_hooks import _stale_translation_notice
from tools.new_page import create
from tools.pages import page_problems, parity_problems
from tools.snippets import main as snippets_main
from tools.snippets import output_differences
from tools.translations import fingerprint, mark, stale

BIN = Path(sys.executable).parent


def test_a_translated_heading_with_another_id(project_copy):
    edit(project_copy / "docs" / "zh" / "layers.md", "{ #nesting-blocks }", "{ #nesting }")
    (problem,) = parity_problems(project_copy)
    assert problem.startswith("docs/zh/layers.md: heading ids [") and "'nesting'" in problem
    assert "differ from docs/en/layers.md: [" in problem and "'nesting-blocks'" in problem


def test_a_translation_that_links_elsewhere(project_copy):
    edit(project_copy / "docs" / "zh" / "index.md", "(parameters.md)", "(custom-layers.md)")
    (problem,) = parity_problems(project_copy)
    assert problem == ("docs/zh/index.md: links to other pages differ from docs/en/index.md's: "
                       "only in en: ['parameters.md'], only in zh: ['custom-layers.md']")


def test_an_english_page_changed_after_its_translation(project_copy):
    english, chinese = project_copy / "docs" / "en" / "layers.md", project_copy / "docs" / "zh" / "layers.md"
    assert stale(project_copy) == []
    edit(english, "## Summary", "## Summary\n\nA new English sentence.")
    (problem,) = stale(project_copy)
    assert problem.startswith("docs/zh/layers.md translates ") and f"which is now {fingerprint(english)}" in problem
    assert problem.endswith("then run `make translated PAGE=layers`")

    page = SimpleNamespace(file=SimpleNamespace(src_uri="layers.md", abs_src_path=str(chinese)), url="layers/")
    notice = _stale_translation_notice("", page, project_copy)
    assert notice.startswith('!!! warning "译文可能已过时"') and 'href="../../layers/"' in notice

    mark(chinese, project_copy)  # the translator updated the page
    assert stale(project_copy) == [] and _stale_translation_notice("", page, project_copy) == ""


def test_a_chinese_page_with_a_term_the_glossary_rules_out(project_copy):
    page = project_copy / "docs" / "zh" / "lazy-initialization.md"
    text = page.read_text(encoding="utf-8")
    page.write_text(text + "\n惰性初始化的层在试运行时确定形状。\n", encoding="utf-8")
    line = line_of(page, "惰性初始化的层")
    assert terminology_problems(project_copy) == [
        f"docs/zh/lazy-initialization.md:{line}: uses '惰性初始化'; the glossary's term for "
        "'lazy (deferred) initialization' is '延后初始化' (docs/glossary.yml)"
    ]


def test_python_that_ruff_rejects(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "import torch\n", "import os\nimport torch\n")
    result = lint(project_copy, str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 1
    assert re.search(r"^snippets/layers\.py:\d+:\d+: F401 (\[\*\] )?`os` imported but unused", result.stdout, re.M)


def test_an_english_misspelling(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, "## Summary", "## Summary\n\nThe seperate layers.")  # codespell:ignore
    result = lint(project_copy, str(BIN / "codespell"), "docs/en")
    assert result.returncode != 0
    assert f"docs/en/layers.md:{line_of(page, 'seperate')}: seperate ==> separate" in result.stdout  # codespell:ignore


def test_a_broken_link_or_anchor_in_the_built_site(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">Here</h2>', encoding="utf-8")
    (tmp_path / "index.html").write_text(
        '<a href="a/#here">ok</a>\n<a href="a/#there">bad anchor</a>\n<a href="b/">missing page</a>\n'
        '<a href="https://example.org/">another host</a>', encoding="utf-8")
    assert link_problems(tmp_path) == [
        "index.html:2: a/#there: no element with id 'there'",
        "index.html:3: b/: no such file",
    ]


def test_a_new_page_passes_the_checks_right_away(project_copy):
    created = create("optimizers", "Optimizers", "优化器", project_copy)
    assert [p.relative_to(project_copy).as_posix() for p in created] == [
        "snippets/optimizers.py", "docs/en/optimizers.md", "docs/zh/optimizers.md"]
    for config, entry in (("mkdocs.yml", "  - Optimizers: optimizers.md\n  - Common mistakes: mistakes.md"),
                          ("mkdocs.zh.yml", "  - 优化器: optimizers.md\n  - 常见错误: mistakes.md")):
        assert entry in (project_copy / config).read_text(encoding="utf-8")
    snippet = project_copy / "snippets" / "optimizers.py"
    assert snippets_main(["update", str(snippet)]) == 0  # what `make new-page` runs for it
    assert output_differences(snippet) == []
    for page in created[1:]:
        assert page_problems(page, project_copy) == []
    assert stale(project_copy) == [] and parity_problems(project_copy) == []
    pages_run = subprocess.run(  # the new pages' code, as pytest-markdown-docs runs it in `make test`
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(p) for p in created[1:])],
        cwd=project_copy, capture_output=True, text=True)
    assert pages_run.returncode == 0 and "2 passed" in pages_run.stdout, pages_run.stdout
