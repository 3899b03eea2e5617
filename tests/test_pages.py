"""Page rules: code only through includes of the page's own snippet file, outputs under their code."""

import pytest

from tools.mistakes import problems as mistake_problems
from tools.pages import page_problems, pages, rel
from tools.project import LANGUAGES

ALL_PAGES = [page for lang in LANGUAGES for page in pages(lang)]


@pytest.mark.parametrize("page", ALL_PAGES, ids=rel)
def test_page_follows_the_rules(page):
    problems = page_problems(page)
    assert not problems, "\n".join(problems)


def test_common_mistakes_are_complete_and_link_to_headings_that_exist():
    problems = mistake_problems()
    assert not problems, "\n".join(problems)
