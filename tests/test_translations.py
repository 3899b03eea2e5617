"""Every Chinese page records which version of its English page it translates."""

import pytest

from tools.project import ROOT
from tools.translations import RECORD

CHINESE = sorted((ROOT / "docs" / "zh").rglob("*.md"))


@pytest.mark.parametrize("page", CHINESE, ids=lambda p: p.name)
def test_chinese_page_records_the_english_version_it_translates(page):
    assert RECORD.match(page.read_text(encoding="utf-8")), (
        f"docs/zh/{page.name} has no `translation_of:` front matter: once it matches "
        f"docs/en/{page.name}, run `make translated PAGE={page.stem}`")
