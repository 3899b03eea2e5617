"""The languages in step: the same pages, includes, headings and links; the same code, with
each language's comments; the glossary's terms in Chinese prose and comments, and how the
Chinese writes numbers."""

from pathlib import Path

import pytest
from pymdownx.snippets import SnippetMissingError

from tools.comments import code_tokens
from tools.comments import problems as comment_problems
from tools.glossary import number_problems, terminology_problems
from tools.pages import expand, fences, pages, parity_problems, rel
from tools.project import ROOT, SOURCE, TRANSLATIONS, docs_dir


def test_both_languages_have_the_same_pages_includes_headings_and_links():
    problems = parity_problems()
    assert not problems, "\n".join(problems)


def test_every_comment_in_the_code_has_its_translation():
    problems = comment_problems()
    assert not problems, "\n".join(problems)


def test_chinese_prose_and_comments_use_the_glossary_terms():
    problems = terminology_problems()
    assert not problems, "\n".join(problems)


def test_chinese_text_writes_numbers_one_way():
    problems = number_problems()
    assert not problems, "\n".join(problems)


def code_blocks(page, lang):
    """Each Python block of a page, by what it includes: (its line, its code as the site shows it in `lang`)."""
    blocks = {}
    for fence in fences(page.read_text(encoding="utf-8")):
        if fence.language == "python" and not fence.is_output and fence.includes:
            include = fence.includes[0].strip()
            try:
                blocks[include] = (fence.line, expand(f'--8<-- "{include}"\n', ROOT, lang))
            except SnippetMissingError:  # the page rules name it, with its line: one message for one mistake
                continue
    return blocks


@pytest.mark.parametrize("lang", TRANSLATIONS)
@pytest.mark.parametrize("page", pages(SOURCE), ids=rel)
def test_translated_page_shows_the_same_code_token_for_token(page, lang):
    """The includes are the same, in the same order (the parity test): what they show is compared here."""
    translated = docs_dir(lang) / page.relative_to(docs_dir(SOURCE))
    english = code_blocks(page, SOURCE)
    for include, (line, shown) in code_blocks(translated, lang).items():  # by name: the parity test checks the order
        if include in english:
            assert code_tokens(shown) == code_tokens(english[include][1]), (
                f"{rel(translated)}:{line}: the code of {include} differs from the English page's "
                f"(docs/{SOURCE}/{page.name}:{english[include][0]}), comments aside")


def test_the_chinese_search_reads_this_projects_word_list_from_any_working_directory(tmp_path, monkeypatch):
    """Material reads `jieba_dict_user` relative to the working directory: the hooks make it the
    project's own file, so a build started elsewhere (a test on a project copy) uses that copy's."""
    from mkdocs.config import load_config

    from tools.mkdocs_hooks import on_config
    from tools.project import config_file

    monkeypatch.chdir(tmp_path)
    config = on_config(load_config(str(config_file("zh")), site_dir=str(tmp_path / "site")))
    path = Path(config.plugins["material/search"].config["jieba_dict_user"])
    assert path.is_absolute() and path == ROOT / "docs" / "search-words.zh.txt" and path.is_file()
