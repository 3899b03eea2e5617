"""Page rules: code only through includes of the page's own snippet file, outputs under their code."""

import pytest

from tools.pages import page_problems, pages, rel
from tools.project import LANGUAGES

ALL_PAGES = [page for lang in LANGUAGES for page in pages(lang)]


@pytest.mark.parametrize("page", ALL_PAGES, ids=rel)
def test_page_follows_the_rules(page):
    problems = page_problems(page)
    assert not problems, "\n".join(problems)
