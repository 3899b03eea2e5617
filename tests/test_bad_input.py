"""Each mistake a contributor can make stops `make test` with a message naming the file and line.

Every test breaks a scratch copy of the project and runs the same check `make test` runs.
"""

import re
import subprocess
import sys

import pytest
from conftest import mkdocs_build

from tools.pages import page_problems, parity_problems
from tools.snippets import SnippetError, output_differences


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path, text):
    """The number of the last line that contains text."""
    return [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line][-1]


def test_a_snippet_that_raises(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "print(net(X).shape)\n", "print(net(X).shape)\nraise ValueError('broken on purpose')\n")
    with pytest.raises(SnippetError) as error:
        output_differences(snippet)
    line = line_of(snippet, "broken on purpose")
    assert str(error.value).startswith(f"snippets/layers.py:{line}: section 'sequential' raised ValueError")


def test_a_snippet_that_raises_fails_pytest_and_the_page(project_copy):
    """The whole chain: pytest, as `make test` runs it, fails on the snippet and on both pages."""
    edit(project_copy / "snippets" / "layers.py", "print(net(X).shape)\n", "print(net(X).shape)\n1 / 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_snippets.py", "-k", "layers",
         "docs/en/layers.md", "docs/zh/layers.md"],
        cwd=project_copy, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "snippets/layers.py:" in result.stdout and "ZeroDivisionError" in result.stdout
    assert re.search(r"FAILED docs/en/layers\.md::\[CodeFence#2\]\[line:\d+\]", result.stdout)
    assert re.search(r"FAILED docs/zh/layers\.md::\[CodeFence#2\]\[line:\d+\]", result.stdout)


def test_a_snippet_with_a_syntax_error(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    edit(snippet, "net = nn.Sequential(nn.Linear(20, 256)", "net = nn.Sequential(nn.Linear(20, 256)))")
    with pytest.raises(SnippetError) as error:
        output_differences(snippet)
    line = line_of(snippet, "net = nn.Sequential(nn.Linear(20, 256)))")
    assert str(error.value).startswith(f"snippets/layers.py:{line}: syntax error in section 'sequential'")


def test_code_outside_any_section(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    snippet.write_text(snippet.read_text(encoding="utf-8") + "print('never shown')\n", encoding="utf-8")
    with pytest.raises(SnippetError, match=r"^snippets/layers\.py:\d+: code outside any section"):
        output_differences(snippet)


def test_an_include_of_a_missing_file(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, '"snippets/layers.py:mlp"', '"snippets/layer.py:mlp"')
    line = line_of(page, "snippets/layer.py:mlp")
    assert page_problems(page, project_copy) == [
        f'docs/en/layers.md:{line}: include "snippets/layer.py:mlp": there is no file snippets/layer.py '
        "(did you mean 'snippets/layers.py'?)"
    ]
    result = mkdocs_build(project_copy, "mkdocs.yml", project_copy / "site")  # the site build stops too
    assert result.returncode == 1
    assert f"docs/en/layers.md:{line}: include" in result.stdout + result.stderr


def test_an_include_of_a_misspelled_section(project_copy):
    page = project_copy / "docs" / "zh" / "layers.md"
    edit(page, '"snippets/layers.py:mlp"', '"snippets/layers.py:mpl"')
    line = line_of(page, "snippets/layers.py:mpl")
    assert page_problems(page, project_copy) == [
        f'docs/zh/layers.md:{line}: include "snippets/layers.py:mpl": snippets/layers.py has no section '
        "'mpl' (did you mean 'mlp'?)"
    ]


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
    problems = page_problems(page, project_copy)
    expected = f"docs/zh/layers.md:{line}: an output block must be one include line of outputs/cpu/layers.txt"
    assert problems[0] == expected


def test_code_written_on_the_page_instead_of_included(project_copy):
    page = project_copy / "docs" / "en" / "layers.md"
    edit(page, '--8<-- "snippets/layers.py:sequential"', "print('only on this page')")
    line = line_of(page, "only on this page") - 1
    problems = page_problems(page, project_copy)
    expected = f"docs/en/layers.md:{line}: a code block must be one include line of a section of snippets/layers.py"
    assert problems[0] == expected


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
