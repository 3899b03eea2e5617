"""The languages in step: the same pages, includes, headings and links; the same code, with
each language's comments; the glossary's terms in Chinese prose and comments."""

import io
import textwrap
import tokenize

import pytest

from tools.comments import comments
from tools.comments import problems as comment_problems
from tools.glossary import terminology_problems
from tools.pages import expand, fences, pages, parity_problems, rel
from tools.project import ROOT, SOURCE, TRANSLATIONS


def test_both_languages_have_the_same_pages_includes_headings_and_links():
    problems = parity_problems()
    assert not problems, "\n".join(problems)


def test_every_comment_in_the_code_has_its_translation():
    problems = comment_problems()
    assert not problems, "\n".join(problems)


def test_chinese_prose_and_comments_use_the_glossary_terms():
    problems = terminology_problems()
    assert not problems, "\n".join(problems)


def code_blocks(page, lang):
    """Each Python block of a page: what it includes, and its code as the site shows it in `lang`."""
    blocks = []
    for fence in fences(page.read_text(encoding="utf-8")):
        if fence.language == "python" and not fence.is_output and fence.includes:
            include = fence.includes[0].strip()
            blocks.append((include, expand(f'--8<-- "{include}"\n', ROOT, lang)))
    return blocks


def without_comments(code):
    tokens = tokenize.generate_tokens(io.StringIO(textwrap.dedent(code)).readline)
    return [(t.type, t.string) for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)]


@pytest.mark.parametrize("lang", TRANSLATIONS)
@pytest.mark.parametrize("page", pages(SOURCE), ids=rel)
def test_translated_page_shows_the_same_code_token_for_token(page, lang):
    translated = ROOT / "docs" / lang / page.relative_to(ROOT / "docs" / SOURCE)
    source_blocks, translated_blocks = code_blocks(page, SOURCE), code_blocks(translated, lang)
    assert [include for include, _ in translated_blocks] == [include for include, _ in source_blocks]
    for (include, code), (_, shown) in zip(source_blocks, translated_blocks):
        assert without_comments(shown) == without_comments(code), (
            f"{rel(translated)}: the code of {include} differs from the English page's, comments aside")
        english, chinese = (comment.text for comment in comments(code)), (c.text for c in comments(shown))
        same = [text for text, other in zip(english, chinese) if text == other and text.isascii()]
        assert not same, f"{rel(translated)}: {include} shows English comments: {same}"
