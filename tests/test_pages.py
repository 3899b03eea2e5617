"""Page rules: code only through includes, outputs under their code, languages in step."""

import pytest

from tools.pages import LANGUAGES, page_problems, pages, parity_problems, rel

ALL_PAGES = [page for lang in LANGUAGES for page in pages(lang)]


@pytest.mark.parametrize("page", ALL_PAGES, ids=rel)
def test_page_follows_the_rules(page):
    problems = page_problems(page)
    assert not problems, "\n".join(problems)


def test_both_languages_have_the_same_pages_and_includes():
    problems = parity_problems()
    assert not problems, "\n".join(problems)
