"""Page rules: code only through includes of the page's own snippet file, outputs under their code."""

import pytest

from tools.mistakes import problems as mistake_problems
from tools.pages import nav_problems, page_link_problems, page_problems, pages, rel
from tools.project import LANGUAGES

ALL_PAGES = [page for lang in LANGUAGES for page in pages(lang)]


@pytest.mark.parametrize("page", ALL_PAGES, ids=rel)
def test_page_follows_the_rules(page):
    problems = page_problems(page)
    assert not problems, "\n".join(problems)


def test_common_mistakes_are_complete_and_link_to_headings_that_exist():
    problems = mistake_problems()
    assert not problems, "\n".join(problems)


def test_every_link_leads_to_a_page_heading_or_figure_of_its_language():
    problems = page_link_problems()
    assert not problems, "\n".join(problems)


def test_every_page_is_in_both_navigations_in_the_same_order():
    problems = nav_problems()
    assert not problems, "\n".join(problems)
