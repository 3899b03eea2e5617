"""Each mistake a contributor can make stops `make test` with a message that names the file
(and line) and says what to do.

Every test breaks a scratch copy of the project (the `project_copy` fixture) and runs over it
the check that `make test` runs over the real one.
"""

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from conftest import copy_project

from tools.build import BuildError, build
from tools.comments import problems as comment_problems
from tools.glossary import number_problems, terminology_problems
from tools.links import problems as link_problems
from tools.mistakes import problems as mistake_problems
from tools.mkdocs_hooks import _stale_translation_notice
from tools.new_page import create
from tools.pages import nav_problems, page_link_problems, page_problems, parity_problems
from tools.results import record, write_outputs
from tools.snippets import SnippetError, output_differences
from tools.translations import fingerprint, mark, stale

pytestmark = pytest.mark.scratch


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path, text):
    """The number of the last line that contains text."""
    return [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line][-1]


def pytest_in(root, *arguments):
    """pytest, as `make test` runs it, in the project at root."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
                          cwd=root, capture_output=True, text=True)


# ----------------------------------------------------------------------------------------------
# Snippets and their outputs

def error_of_changed_layers(project_copy, old, new) -> str:
    """What running snippets/layers.py says once `old` in it is replaced by `new`."""
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, old, new)
    with pytest.raises(SnippetError) as error:
        output_differences(snippet)
    return str(error.value)


def test_a_snippet_that_raises(project_copy):
    error = error_of_changed_layers(project_copy, "print(net(X).shape)\n",
                                    "print(net(X).shape)\nraise ValueError('broken on purpose')\n")
    line = line_of(project_copy / "snippets" / "layers.py", "broken on purpose")
    assert error.startswith(f"snippets/layers.py:{line}: section 'sequential' raised ValueError")


def test_make_outputs_names_the_section_that_failed_and_its_line(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "print(net(X).shape)", "print(nett(X).shape)")
    result = subprocess.run([sys.executable, "-m", "tools.results", "outputs", "layers"], cwd=project_copy,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith(f"snippets/layers.py:{line_of(snippet, 'nett(X)')}: section ")
    assert "raised NameError: name 'nett' is not defined" in result.stderr.splitlines()[0]


def test_make_check_runs_a_changed_snippet_again_and_reads_back_an_unchanged_one(project_copy, monkeypatch):
    import tools.snippets

    snippet = project_copy / "snippets" / "layers.py"
    first = tools.snippets.printed(snippet, reuse=True)
    monkeypatch.setattr(tools.snippets, "run_file", lambda path: pytest.fail("an unchanged snippet ran again"))
    assert tools.snippets.printed(snippet, reuse=True) == first  # read back
    monkeypatch.undo()
    edit(snippet, "nn.Dropout(p=0.5)", "nn.Dropout(p=0.25)")
    assert output_differences(snippet, reuse=True)[0].startswith("outputs/cpu/layers.txt:")  # ran, and differs


def test_a_snippet_that_warns(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "print(net(X).shape)", "import warnings; warnings.warn('check this'); print(net(X).shape)")
    with pytest.raises(SnippetError) as error:
        output_differences(snippet)
    line = line_of(snippet, "check this")
    section = error.value.section
    assert str(error.value) == (
        f"snippets/layers.py:{line}: section '{section}' wrote to stderr: UserWarning: check this\n"
        "A reader would see it under the code, and the page does not show it: remove its cause, or, if the section "
        "shows it on purpose, end the section's name with '-warns' (its output then shows the warning)")


def test_a_snippet_with_a_syntax_error(project_copy):
    error = error_of_changed_layers(project_copy, "net = nn.Sequential(nn.Linear(20, 256)",
                                    "net = nn.Sequential(nn.Linear(20, 256)))")
    line = line_of(project_copy / "snippets" / "layers.py", "net = nn.Sequential(nn.Linear(20, 256)))")
    assert error.startswith(f"snippets/layers.py:{line}: syntax error in section 'sequential'")


def test_a_section_that_ends_with_a_value_its_notebook_would_display(project_copy):
    error = error_of_changed_layers(project_copy, "print(net(X).shape)\n",
                                    "print(net(X).shape)\nnet(X).shape  # displayed by accident\n")
    line = line_of(project_copy / "snippets" / "layers.py", "displayed by accident")
    assert error.startswith(
        f"snippets/layers.py:{line}: section 'sequential' ends with an expression whose value (Size) its notebook "
        "would display")


def test_code_outside_any_section(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    snippet.write_text(snippet.read_text(encoding="utf-8") + "print('never shown')\n", encoding="utf-8")
    with pytest.raises(SnippetError, match=r"^snippets/layers\.py:\d+: code outside any section"):
        output_differences(snippet)


def test_a_stored_output_that_no_longer_matches(project_copy):
    stored = project_copy / "outputs" / "cpu" / "layers.txt"
    edit(stored, "7946", "7947")
    problems = output_differences(project_copy / "snippets" / "layers.py")
    assert len(problems) == 1
    assert "stored: outputs/cpu/layers.txt [mlp]" in problems[0]
    assert "printed now: snippets/layers.py [mlp]" in problems[0]
    assert "-7947" in problems[0] and "+7946" in problems[0]


def test_a_changed_snippet_whose_output_was_not_regenerated(project_copy):
    edit(project_copy / "snippets" / "layers.py", "nn.Dropout(p=0.5)", "nn.Dropout(p=0.25)")
    problems = output_differences(project_copy / "snippets" / "layers.py")
    assert len(problems) == 1 and "[dropout-modes]" in problems[0]
    with pytest.raises(BuildError, match=r"(?s)\[dropout-modes\].*make outputs"):  # `make build` stops too
        build(project_copy / "site", project_copy, say=lambda *_: None)


def test_a_preview_warns_of_an_output_it_cannot_match_and_builds_with_the_stored_one(project_copy):
    stored = project_copy / "outputs" / "cpu" / "layers.txt"
    edit(stored, "7946", "7947")
    said = []
    site = build(project_copy / "site", project_copy, check_outputs=False, say=said.append, languages=("en",),
                 plugins=[])
    warning = next(line for line in said if line.startswith("warning: outputs/cpu/layers.txt:"))
    assert f"layers.txt:{line_of(stored, '7947')} [mlp]: stored 7947, printed 7946" in warning
    assert "7947" in (site / "layers" / "index.html").read_text(encoding="utf-8")  # the stored output
    with pytest.raises(BuildError, match=r"layers.txt:\d+ \[mlp\]"):  # make build stops
        build(project_copy / "site", project_copy, say=lambda *_: None, languages=("en",), plugins=[])


def test_make_test_on_another_python_says_which_python_it_needs(project_copy):
    for path in (project_copy / "outputs" / "cpu").glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"Python \d+\.\d+\.\d+", "Python 3.99.0", text, count=1), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tools.results", "python"], cwd=project_copy,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("make test needs Python 3.99, which printed the stored outputs (outputs/cpu/); "
                                    f"this is Python {sys.version.split()[0]}. Run:\n")
    assert "make test PYTHON=python3.99" in result.stderr


# ----------------------------------------------------------------------------------------------
# Pages and includes

def test_an_include_of_a_missing_file(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, '"snippets/layers.py:mlp"', '"snippets/layer.py:mlp"')
    line = line_of(page, "snippets/layer.py:mlp")
    message = (f'docs/en/layers.md:{line}: include "snippets/layer.py:mlp": there is no file snippets/layer.py '
               "(did you mean 'snippets/layers.py'?)")
    assert page_problems(page, project_copy) == [message]
    with pytest.raises(BuildError, match=re.escape(message)):  # the site build stops too
        build(project_copy / "site", project_copy, say=lambda *_: None)


def test_an_include_of_a_misspelled_section(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    edit(page, '"snippets/layers.py:mlp"', '"snippets/layers.py:mpl"')
    line = line_of(page, "snippets/layers.py:mpl")
    message = (f'docs/zh/layers.md:{line}: include "snippets/layers.py:mpl": snippets/layers.py has no section '
               "'mpl' (did you mean 'mlp'?)")
    assert page_problems(page, project_copy) == [message]
    with pytest.raises(BuildError, match=re.escape(message)):  # from the process that builds the Chinese pages
        build(project_copy / "site", project_copy, say=lambda *_: None, plugins=[])


def test_a_displayed_output_under_the_wrong_code(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, '"outputs/cpu/layers.txt:mlp"', '"outputs/cpu/layers.txt:sequential"')
    fence = line_of(page, '"outputs/cpu/layers.txt:sequential"') - 1
    assert page_problems(page, project_copy) == [
        f"docs/en/layers.md:{fence}: shows the output of 'sequential' after the code of 'mlp'",
        "docs/en/layers.md: section 'mlp' prints something; show outputs/cpu/layers.txt:mlp under its code",
    ]


def test_a_hand_written_output(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    edit(page, '--8<-- "outputs/cpu/layers.txt:sequential"', "torch.Size([2, 10])")
    line = line_of(page, "torch.Size([2, 10])") - 1
    expected = f"docs/zh/layers.md:{line}: an output block must be one include line of outputs/cpu/layers.txt"
    assert page_problems(page, project_copy)[0] == expected


def test_code_written_on_the_page_instead_of_included(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, '--8<-- "snippets/layers.py:sequential"', "print('only on this page')")
    line = line_of(page, "only on this page") - 1
    expected = f"docs/en/layers.md:{line}: a code block must be one include line of a section of snippets/layers.py"
    assert page_problems(page, project_copy)[0] == expected


def test_an_exercise_without_a_solution(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    text = page.read_text(encoding="utf-8")
    exercise = text.rindex("\n### ") + 1
    page.write_text(text[:exercise] + text[exercise:].replace("??? success", "!!! note", 1), encoding="utf-8")
    line = text[:exercise].count("\n") + 1
    assert page_problems(page, project_copy) == [
        f'docs/en/layers.md:{line}: the exercise has no folded solution (`??? success "..."`)']


def test_a_common_mistake_that_links_to_a_heading_that_does_not_exist(project_copy):
    table = project_copy / "docs" / "mistakes.yml"
    edit(table, "layers.md#a-first-network", "layers.md#a-first-netwrok")
    problems = mistake_problems(project_copy)
    assert [p.split(": ", 2)[2] for p in problems] == [
        f"links to layers.md#a-first-netwrok, but docs/{lang}/layers.md has no heading 'a-first-netwrok'"
        for lang in ("en", "zh")]
    first = table.read_text(encoding="utf-8").splitlines().index("- chapter: layers") + 1  # the entry's first line
    assert all(p.startswith(f"docs/mistakes.yml:{first}: '`nn.ReLU` without parentheses") for p in problems)


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


# ----------------------------------------------------------------------------------------------
# The two languages

def test_a_page_missing_from_one_navigation(project_copy):
    edit(project_copy / "mkdocs.zh.yml", "  - 层和块: layers.md\n", "")
    assert nav_problems(project_copy) == [
        "mkdocs.zh.yml: the navigation (nav:) has no entry for layers.md: add '  - 层和块: layers.md' "
        "where the other language lists it"]


def test_navigations_in_another_order(project_copy):
    config = project_copy / "mkdocs.zh.yml"
    layers, parameters = "  - 层和块: layers.md\n", "  - 参数管理: parameters.md\n"
    edit(config, layers + parameters, parameters + layers)
    assert nav_problems(project_copy) == [
        f"mkdocs.zh.yml:{line_of(config, '参数管理')}: the navigation lists parameters.md where "
        f"mkdocs.yml:{line_of(project_copy / 'mkdocs.yml', ': layers.md')} lists layers.md: "
        "list the pages in the same order"]


def test_a_link_broken_in_both_languages(project_copy):
    pages = [project_copy / "docs" / lang / "saving-loading.md" for lang in ("en", "zh")]
    for page in pages:
        edit(page, "(parameters.md#tied-parameters)", "(parameter.md#tied-parameters)")
    lines = [line_of(page, "(parameter.md") for page in pages]
    assert page_link_problems(project_copy) == [
        f"docs/en/saving-loading.md:{lines[0]}: the link (parameter.md#tied-parameters) leads to no file of the "
        "English pages (docs/en/parameter.md): correct the link, or add the page",
        f"docs/zh/saving-loading.md:{lines[1]}: the link (parameter.md#tied-parameters) leads to no file of the "
        "中文 pages (docs/zh/parameter.md): correct the link, or add the page"]


def test_an_anchor_broken_in_one_language(project_copy):
    page = project_copy / "docs" / "en" / "saving-loading.md"
    edit(page, "(parameters.md#tied-parameters)", "(parameters.md#tied-parameter)")
    assert page_link_problems(project_copy) == [
        f"docs/en/saving-loading.md:{line_of(page, 'tied-parameter)')}: the link (parameters.md#tied-parameter): "
        "docs/en/parameters.md has no heading with the id 'tied-parameter' (did you mean 'tied-parameters'?)"]


def test_a_page_in_one_language_only(project_copy):
    (project_copy / "docs" / "en" / "extra.md").write_text("# Extra\n", encoding="utf-8")
    assert parity_problems(project_copy) == ["docs/en/extra.md has no counterpart docs/zh/extra.md"]


def test_languages_including_different_snippets(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    text = page.read_text(encoding="utf-8")
    first, second = "snippets/layers.py:nesting\"", "snippets/layers.py:nesting-wrong-size\""
    page.write_text(text.replace(first, "@@").replace(second, first).replace("@@", second), encoding="utf-8")
    problems = parity_problems(project_copy)
    assert len(problems) == 1
    assert re.fullmatch(
        r'docs/en/layers\.md:\d+ includes "snippets/layers\.py:nesting" where '
        r'docs/zh/layers\.md:\d+ includes "snippets/layers\.py:nesting-wrong-size"', problems[0])


def test_a_translated_heading_with_another_id(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    edit(page, "{ #nesting-blocks }", "{ #nesting }")
    heading = next(line for line in page.read_text(encoding="utf-8").splitlines() if "{ #nesting }" in line)
    english = project_copy / "docs" / "en" / "layers.md"
    english_line = next(n for n, line in enumerate(english.read_text(encoding="utf-8").splitlines(), 1)
                        if line.startswith("#") and "Nesting" in line)
    assert parity_problems(project_copy) == [
        f"docs/zh/layers.md:{line_of(page, '{ #nesting }')}: the heading '{heading.split(' {')[0].lstrip('# ')}' "
        f"has the id 'nesting' where docs/en/layers.md:{english_line} has 'nesting-blocks': "
        "end it with { #nesting-blocks }"]


def test_a_translation_that_links_elsewhere(project_copy):
    edit(project_copy / "docs" / "zh" / "index.md", "(parameters.md)", "(custom-layers.md)")
    (problem,) = parity_problems(project_copy)
    assert problem == ("docs/zh/index.md: links to other pages differ from docs/en/index.md's: "
                       "only in en: ['parameters.md'], only in zh: ['custom-layers.md']")


def test_an_english_page_changed_after_its_translation(project_copy):
    """Not a failure (see the policy in tests/conftest.py): listed, and flagged on the page."""
    english, chinese = project_copy / "docs" / "en" / "layers.md", project_copy / "docs" / "zh" / "layers.md"
    before = stale(project_copy)
    edit(english, "## Summary", "## Summary\n\nA new English sentence.")
    (problem,) = set(stale(project_copy)) - set(before)
    assert problem.startswith("docs/zh/layers.md translates ") and f"which is now {fingerprint(english)}" in problem
    assert problem.endswith("then run `make translated PAGE=layers`")

    page = SimpleNamespace(file=SimpleNamespace(src_uri="layers.md", abs_src_path=str(chinese)), url="layers/")
    notice = _stale_translation_notice("", page, project_copy)
    assert notice.startswith('!!! warning "译文可能已过时"') and 'href="../../layers/"' in notice

    mark(chinese, project_copy)  # the translator updated the page
    assert stale(project_copy) == [p for p in before if not p.startswith("docs/zh/layers.md")]
    assert _stale_translation_notice("", page, project_copy) == ""


def test_a_chinese_page_with_a_term_the_glossary_rules_out(project_copy):
    page = project_copy / "docs" / "zh" / "lazy-initialization.md"
    text = page.read_text(encoding="utf-8")
    page.write_text(text + "\n惰性初始化的层在试运行时确定形状。\n", encoding="utf-8")
    line = line_of(page, "惰性初始化的层")
    assert terminology_problems(project_copy) == [
        f"docs/zh/lazy-initialization.md:{line}: uses '惰性初始化'; the glossary's term for "
        "'lazy (deferred) initialization' is '延后初始化' (docs/glossary.yml)"
    ]


def test_every_rendering_the_glossary_rules_out_is_caught_on_a_page(project_copy):
    page = project_copy / "docs" / "zh" / "lazy-initialization.md"
    ruled_out = [(term, wrong) for term in yaml.safe_load((project_copy / "docs" / "glossary.yml").read_text("utf-8"))
                 for wrong in term.get("avoid", [])]
    first = len(page.read_text(encoding="utf-8").splitlines()) + 2
    lines = "".join(f"这一行写了{wrong}。\n" for _, wrong in ruled_out)
    page.write_text(page.read_text(encoding="utf-8") + "\n" + lines, encoding="utf-8")
    problems = terminology_problems(project_copy)
    for line, (term, wrong) in enumerate(ruled_out, first):
        assert (f"docs/zh/lazy-initialization.md:{line}: uses '{wrong}'; the glossary's term for '{term['en']}' is "
                f"'{term['zh']}' (docs/glossary.yml)") in problems
    assert all(int(problem.split(":")[1]) >= first for problem in problems), problems


def test_a_ruled_out_term_broken_over_two_lines_or_around_code(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    page.write_text(page.read_text(encoding="utf-8") + (
        "\n离开 `with`\n块时，钩子被移除；在 `with torch.device(\"meta\")` 块里也一样。\n"
        "`nn.BatchNorm1d`、nn.BatchNorm2d 和 LazyBatchNorm3d 是类名，不算；它们是 BatchNorm 的缓冲区\n"  # names pass
        "和汇\n总表里的主\n体。\n"), encoding="utf-8")
    lines = {text: line_of(page, text) for text in ("离开 `with`", "块里也一样", "的缓冲区", "和汇", "总表里的主")}
    term = "the glossary's term for"
    assert terminology_problems(project_copy) == [
        f"docs/zh/layers.md:{lines['离开 `with`']}: uses '`with` 块'; {term} '`with` block' is '`with` 代码块' "
        "(docs/glossary.yml)",
        f"docs/zh/layers.md:{lines['块里也一样']}: uses '`with` 块'; {term} '`with` block' is '`with` 代码块' "
        "(docs/glossary.yml)",
        f"docs/zh/layers.md:{lines['的缓冲区']}: uses 'BatchNorm'; {term} 'batch normalization' is '批量规范化' "
        "(docs/glossary.yml)",
        f"docs/zh/layers.md:{lines['总表里的主']}: uses '主体'; {term} 'body (backbone)' is '主干' (docs/glossary.yml)",
    ]


def test_a_ruled_out_term_in_a_common_mistake_or_a_glossary_definition(project_copy):
    mistakes, glossary = project_copy / "docs" / "mistakes.yml", project_copy / "docs" / "glossary.yml"
    edit(mistakes, "    zh: 用 torchsummary 生成汇总表", "    zh: 用 torchsummary 生成摘要")
    edit(mistakes, "    en: Summaries with torchsummary", "    en: BatchNorm summaries with torchsummary")  # English
    edit(glossary, "  zh_def: 批量规范化层在训练模式下更新", "  zh_def: BatchNorm 在训练模式下更新")
    assert terminology_problems(project_copy) == [
        f"docs/mistakes.yml:{line_of(mistakes, '生成摘要')}: uses '摘要'; the glossary's term for 'summary table' is "
        "'汇总表' (docs/glossary.yml)",
        f"docs/glossary.yml:{line_of(glossary, 'zh_def: BatchNorm')}: uses 'BatchNorm'; the glossary's term for "
        "'batch normalization' is '批量规范化' (docs/glossary.yml)",
    ]


def test_a_chinese_number_written_another_way(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n共 7,946 个参数，16384 个权重；"
                    "1,024,000 字节、7946 个参数、`16384` 和 #150915 都没问题。\n", encoding="utf-8")
    line, rule = line_of(page, "共 7,946"), ("Chinese text writes a number of up to four digits without a separator "
                                            "(7946) and a longer one with commas (16,384)")
    assert number_problems(project_copy) == [f"docs/zh/layers.md:{line}: writes '7,946'; {rule}",
                                             f"docs/zh/layers.md:{line}: writes '16384'; {rule}"]


# ----------------------------------------------------------------------------------------------
# Comments in code, per language

def test_a_new_english_comment_without_a_translation(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "print(net(X).shape)\n", "print(net(X).shape)  # a brand-new comment\n")
    line = line_of(snippet, "a brand-new comment")
    assert comment_problems(project_copy) == [
        f"snippets/layers.py:{line}: the comment 'a brand-new comment' has no translation in "
        "snippets/layers.zh.yml: run `make comments`, then translate it there"
    ]


def test_a_translation_left_in_english(project_copy):
    table = project_copy / "snippets" / "layers.zh.yml"
    entry = "every submodule, then net itself: every submodule, then net itself"
    edit(table, "every submodule, then net itself: 先是每个子模块，最后是 net 自身", entry)
    line = table.read_text(encoding="utf-8").splitlines().index(entry) + 1
    assert comment_problems(project_copy) == [
        f"snippets/layers.zh.yml:{line}: the translation of 'every submodule, then net itself' is the English "
        "comment itself"
    ]


def test_a_translation_whose_english_comment_is_gone(project_copy):
    table = project_copy / "snippets" / "layers.zh.yml"
    table.write_text(table.read_text(encoding="utf-8") + "a comment nobody wrote: 没有人写过的注释\n", encoding="utf-8")
    line = line_of(table, "a comment nobody wrote")
    assert comment_problems(project_copy) == [
        f"snippets/layers.zh.yml:{line}: translates 'a comment nobody wrote', which is no comment of "
        "snippets/layers.py any more (`make comments` drops it)"
    ]


def test_a_chinese_comment_with_a_term_the_glossary_rules_out(project_copy):
    table = project_copy / "snippets" / "lazy-initialization.zh.yml"
    english = next(line for line in table.read_text(encoding="utf-8").splitlines() if line and line[0] != "#")
    key = english.split(": ", 1)[0]
    edit(table, english, f"{key}: 惰性初始化")
    problems = terminology_problems(project_copy)
    assert problems == [f"snippets/lazy-initialization.zh.yml:{line_of(table, '惰性初始化')}: uses '惰性初始化'; "
                        "the glossary's term for 'lazy (deferred) initialization' is '延后初始化' (docs/glossary.yml)"]


# ----------------------------------------------------------------------------------------------
# A new page

def test_a_new_page_lacks_only_its_other_exercises(project_copy):
    created = create("optimizers", "Optimizers", "优化器", project_copy)
    assert [p.relative_to(project_copy).as_posix() for p in created] == [
        "snippets/optimizers.py", "snippets/optimizers.zh.yml", "docs/en/optimizers.md", "docs/zh/optimizers.md"]
    for config, entry in (("mkdocs.yml", "  - Optimizers: optimizers.md\n  - Common mistakes: mistakes.md"),
                          ("mkdocs.zh.yml", "  - 优化器: optimizers.md\n  - 常见错误: mistakes.md")):
        assert entry in (project_copy / config).read_text(encoding="utf-8")
    snippet = project_copy / "snippets" / "optimizers.py"
    write_outputs(record(project_copy, [snippet]), project_copy / "outputs", project_copy)  # as `make new-page`
    assert output_differences(snippet) == []
    for page in created[2:]:  # all that a new page lacks: three more exercises
        assert page_problems(page, project_copy) == [
            f"{page.relative_to(project_copy)}:{line_of(page, '{ #exercises }')}: 1 exercise; a chapter has 4 to 6"]
    assert parity_problems(project_copy) == [] and comment_problems(project_copy) == []
    assert not [p for p in stale(project_copy) if "optimizers" in p]


# ----------------------------------------------------------------------------------------------
# The whole chain, as `make test` runs it: one pytest over one broken copy of the project

@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """pytest, run as `make test` runs it, over a copy with three changes: the layers snippet
    raises, a section marker of the parameters chapter's stored outputs is broken, and a new
    page was added with `make new-page`. Each test below reads one part of its report."""
    copy = copy_project(tmp_path_factory.mktemp("broken") / "project")
    edit(copy / "snippets" / "layers.py", "print(net(X).shape)\n", "print(net(X).shape)\n1 / 0\n")
    stored = copy / "outputs" / "cpu" / "parameters.txt"
    name = re.search(r"\[end:([^\]]+)\]", stored.read_text(encoding="utf-8"))[1]
    edit(stored, f"[end:{name}]", f"[end:{name}-broken]")
    create("optimizers", "Optimizers", "优化器", copy)
    write_outputs(record(copy, [copy / "snippets" / "optimizers.py"]), copy / "outputs", copy)
    snippet_tests = [f"tests/test_snippets.py::test_snippet_prints_its_stored_outputs[{page}.py]"
                     for page in ("layers", "optimizers")]
    pages = [f"docs/en/{page}.md" for page in ("layers", "optimizers", "parameters", "lazy-initialization")]
    result = pytest_in(copy, "-rA", *snippet_tests, *pages)
    return result, line_of(stored, f"[end:{name}-broken]"), name


def test_a_snippet_that_raises_fails_its_test_and_its_page(broken_run):
    result, _, _ = broken_run
    assert result.returncode == 1
    assert re.search(r"FAILED tests/test_snippets\.py::\S+\[layers\.py\]", result.stdout)
    assert "snippets/layers.py:" in result.stdout and "ZeroDivisionError" in result.stdout
    assert re.search(r"FAILED docs/en/layers\.md::\[CodeFence#2\]\[line:\d+\]", result.stdout)


def test_a_broken_marker_in_an_output_file_fails_its_page_alone_with_one_message(broken_run):
    result, line, name = broken_run
    assert re.findall(r"^ERROR (docs/\S+)", result.stdout, re.M) == ["docs/en/parameters.md"]
    report = re.search(r"_ ERROR collecting docs/en/parameters\.md _+\n(.*?)\n(?:_{3}|={3})", result.stdout, re.S)
    message = f"outputs/cpu/parameters.txt:{line}: end of section '{name}-broken', which is not open"
    assert report and report[1].strip() == message, report and report[1]  # one line, no library traceback
    assert re.search(r"^PASSED docs/en/lazy-initialization\.md::", result.stdout, re.M)  # the others still ran


def test_a_new_page_runs_right_away(broken_run):
    result, _, _ = broken_run
    assert re.search(r"^PASSED tests/test_snippets\.py::\S+\[optimizers\.py\]", result.stdout, re.M)
    assert re.search(r"^PASSED docs/en/optimizers\.md::", result.stdout, re.M), result.stdout[-3000:]


@pytest.mark.parametrize("name", ["glossary.yml", "mistakes.yml"])
def test_a_yaml_error_in_the_glossary_or_the_mistakes_names_the_file_and_line(project_copy, name):
    from tools.glossary import terms
    from tools.mistakes import entries

    table = project_copy / "docs" / name
    original = table.read_text(encoding="utf-8")
    broken = original.count("\n") + 1  # the line added below
    table.write_text(original + "- en: a term: with a second colon\n", encoding="utf-8")
    try:
        with pytest.raises(yaml.YAMLError, match=rf'in "docs/{name}", line {broken}, column'):
            (terms if name == "glossary.yml" else entries)(project_copy)
    finally:
        table.write_text(original, encoding="utf-8")
