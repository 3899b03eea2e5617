"""The built site: every page in both languages, executed notebooks, no outside requests."""

import html
import json
import posixpath
import re
from urllib.parse import quote, urlsplit

import nbformat
import pytest

from tools.comments import shown_sections
from tools.compare import compare
from tools.language_links import OPT_IN, SELECTOR
from tools.links import problems as link_problems
from tools.notebook_setup import INSTALL_ID
from tools.notebooks import TRY_IT
from tools.pages import CJK, chapters, pages, snippet_for
from tools.project import LANGUAGES, SEARCH_INDEX, SOURCE, docs_dir, repo_url, site_dir, site_url
from tools.snippets import output_file, parse_sections, read_outputs

PAGES = {lang: [p.relative_to(docs_dir(lang)) for p in pages(lang)] for lang in LANGUAGES}
CHAPTERS = [p.relative_to(docs_dir(SOURCE)) for p in chapters(SOURCE)]


def page_dir(site, lang, page):
    """The folder of a page's built index.html."""
    return site_dir(lang, site) / ("" if page.stem == "index" else f"{page.with_suffix('')}/")


def html_of(site, lang, page):
    return (page_dir(site, lang, page) / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_is_built_and_declares_its_language(site, lang):
    for page in PAGES[lang]:
        assert f'<html lang="{lang}"' in html_of(site, lang, page), page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_menu_links_the_same_page_in_each_language(site, lang):
    for page in PAGES[lang]:
        page_html = html_of(site, lang, page)
        for other in LANGUAGES:
            link = re.search(rf'<a href="([^"]*)" hreflang="{other}"[^>]*class="md-select__link"', page_html)
            target = (page_dir(site, lang, page) / link[1]).resolve()
            expected = page_dir(site, other, page).resolve()
            assert target == expected, f"{lang}/{page}: menu entry {other} goes to {link[1]}"


def test_headings_have_the_same_readable_ids_in_both_languages(site):
    for page in PAGES["en"]:
        ids = {}
        for lang in LANGUAGES:
            ids[lang] = re.findall(r'<h[1-4] id="([^"]+)"', html_of(site, lang, page))
            assert not [i for i in ids[lang] if re.fullmatch(r"_\d+", i)], f"{lang}/{page}: numbered ids"
        assert ids["en"] == ids["zh"], f"{page}: heading ids differ between languages"


def test_no_request_leaves_the_site(site):
    """No fonts, scripts, styles or images from another host (links to other sites are fine)."""
    loads = re.compile(
        r'<(?:script|img|iframe|source)\b[^>]*\bsrc="(?:https?:)?//[^"]*"'
        r'|<link\b(?=[^>]*\brel="(?:stylesheet|icon|preload|modulepreload|manifest|prefetch)")[^>]*\bhref="(?:https?:)?//[^"]*"',
        re.I,
    )
    for path in site.rglob("*.html"):
        found = loads.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(site)} loads from another host: {found}"
    for path in site.rglob("*.css"):
        assert not re.search(r"(@import|url\()\s*['\"]?(https?:)?//", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_index_holds_the_pages_and_nothing_that_repeats_them(site, lang):
    """Each page of docs/<lang>/ is indexed, for a search in its own language; the notebook pages
    and the one-page print edition, which repeat the chapters, are not (they would double the
    index and outrank the chapters)."""
    index = json.loads((site_dir(lang, site) / SEARCH_INDEX).read_text(encoding="utf-8"))
    assert index["config"]["lang"] == [lang]  # the search's word rules: lunr.<lang>
    indexed = {doc["location"].split("#")[0] for doc in index["docs"]}
    expected = {"" if page.stem == "index" else f"{page.stem}/" for page in PAGES[lang]}
    assert indexed == expected, f"indexed, not a page: {indexed - expected}; a page not indexed: {expected - indexed}"


def test_chinese_search_index_is_utf8_text_not_escapes(site):
    """tools/mkdocs_hooks.py rewrites Material's index, in which each Chinese character took six bytes."""
    raw = (site / "zh" / SEARCH_INDEX).read_text(encoding="utf-8")
    assert "参数" in raw and "\\u53c2" not in raw  # 参, as text and not as an escape


def test_chinese_search_index_is_segmented_into_words(site):
    index = json.loads((site / "zh" / SEARCH_INDEX).read_text(encoding="utf-8"))
    assert index["config"]["lang"] == ["zh"]
    text = " ".join(doc["text"] for doc in index["docs"])
    words = set(re.split(index["config"]["separator"], text))
    assert {"缓冲区", "子模块", "参数"} <= words  # whole words, not single characters


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_chapter_notebook_is_executed_and_downloadable(site, lang, chapter):
    folder = site_dir(lang, site)
    notebook = nbformat.read(folder / "downloads" / f"{chapter.stem}.ipynb", as_version=4)
    nbformat.validate(notebook)
    snippet = snippet_for(docs_dir(lang) / chapter)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells[0].id == INSTALL_ID and not code_cells[0].outputs  # nothing was missing here
    code_cells = [c for c in code_cells[1:] if c.source != TRY_IT[lang]]
    assert len(code_cells) == len(parse_sections(snippet))
    printed = read_outputs(output_file(snippet))
    for cell, section in zip(code_cells, parse_sections(snippet)):
        shown = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        result = compare(printed.get(section.name, ""), shown)  # the outputs rule: this machine's kernel printed it
        assert result.same, f"{lang}/{chapter.stem}: cell {section.name}: {result.problems}"
        # Only what the page shows: no value of a last expression (`<torch._C.Generator at 0x...>`).
        assert not [o for o in cell.outputs if o.output_type != "stream"], (
            f"{lang}/{chapter.stem}: the cell of section {section.name} displays a value the page does not show; "
            "end the section with a statement (assign it, or print what matters)")
    notebook_html = (folder / "notebooks" / chapter.stem / "index.html").read_text(encoding="utf-8")
    rendered = html.unescape(re.sub(r"<[^>]+>", "", notebook_html))
    for section, text in printed.items():
        assert text.strip().splitlines()[0] in rendered, f"notebook {lang}/{chapter.stem} lacks the output of {section}"
    page_html = html_of(site, lang, chapter)
    assert f'href="../downloads/{chapter.stem}.ipynb"' in page_html
    assert f'href="../notebooks/{chapter.stem}/"' in page_html


def test_every_internal_link_and_anchor_resolves(site):
    broken = link_problems(site)
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_edit_link_opens_the_page_in_its_own_language(site, lang):
    folder = site_dir(lang, site)
    built = [(html_of(site, lang, page), page) for page in PAGES[lang]]
    built += [((folder / "notebooks" / c.stem / "index.html").read_text(encoding="utf-8"), c) for c in CHAPTERS]
    for page_html, source in built:  # a chapter's notebook is edited through its chapter page
        edit = re.search(r'<a href="([^"]+)"[^>]*rel="edit"', page_html)
        if repo_url() is None:  # a local build: no repository to edit in
            assert not edit, f"{lang}/{source}: {edit[1]}"
            continue
        expected = f"{repo_url()}/edit/main/docs/{lang}/{source}"
        assert edit and edit[1] == expected, f"{lang}/{source}: {edit and edit[1]}"


def built(site):
    """Every built page of both languages, notebook pages and the printable edition included: (name, html)."""
    for lang in LANGUAGES:
        folder = site_dir(lang, site)
        for path in sorted(folder.rglob("*.html")):
            if lang == SOURCE and path.relative_to(folder).parts[0] in LANGUAGES:
                continue  # another language's page
            yield f"{lang}/{path.relative_to(folder).as_posix()}", path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_pages(site):
    paths = {lang: [name.removeprefix(f"{lang}/") for name, _ in built(site) if name.startswith(f"{lang}/")]
             for lang in LANGUAGES}
    assert all(found == paths[SOURCE] for found in paths.values()), paths
    assert {f"{chapter.stem}/index.html" for chapter in CHAPTERS} <= set(paths[SOURCE])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_llms_txt_lists_every_chapter_and_llms_full_txt_holds_them(site, lang):
    folder = site_dir(lang, site)
    index, full = ((folder / name).read_text(encoding="utf-8") for name in ("llms.txt", "llms-full.txt"))
    assert index.startswith("# ") and "\n> " in index
    for chapter in CHAPTERS:
        line = re.search(rf"^- \[([^\]]+)\]\(https?://[^)]*/{chapter.stem}/\): (.+)$", index, re.M)
        assert line and len(line[2]) > 40, f"{chapter.stem} has no line with a summary in {lang}/llms.txt"
        assert f"# {line[1]}" in full, f"{lang}/llms-full.txt lacks the chapter {line[1]}"
    first = shown_sections(snippet_for(docs_dir(SOURCE) / CHAPTERS[0]), lang)[0]
    assert "--8<--" not in full and first in full  # the code as the page shows it


def test_every_image_has_alt_text(site):
    missing = [f"{name}: {tag}" for name, page_html in built(site)
               for tag in re.findall(r"<img\b[^>]*>", page_html) if not re.search(r'\balt="[^"]+"', tag)]
    assert not missing, "\n".join(missing)


def test_every_page_links_to_the_issue_forms_with_its_address(site):
    problems = []
    for name, page_html in built(site):
        if name.endswith("/404.html"):  # it stands for every missing address, and has none of its own
            continue
        canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page_html)[1]
        block = re.search(r'<p class="report-problem">(.*?)</p>', page_html, re.S)
        links = re.findall(r'href="([^"]+)"', block[1]) if block else []
        if repo_url() is None:  # a local build: no repository whose issue forms it could name
            problems += [f"{name}: links to issue forms, with no repository: {links}"] if links else []
            continue
        for form in ("wrong-output.yml", "translation-error.yml"):
            expected = f"{repo_url()}/issues/new?page={quote(canonical, safe='/')}&template={form}"
            if not [link for link in links if html.unescape(link) == expected]:
                problems.append(f"{name}: no link to the issue form {form} with its address: {links}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("chapter", CHAPTERS, ids=str)
def test_code_blocks_show_the_chapters_sections_with_the_languages_comments(site, lang, chapter):
    """What a copy button copies: the code of each block, here as the HTML holds it."""
    page_html = html_of(site, lang, chapter)
    code = r'<div class="language-python highlight"><pre[^>]*>(?:<span></span>)?<code>(.*?)</code>'
    blocks = re.findall(code, page_html, re.S)
    shown = [html.unescape(re.sub(r"<[^>]+>", "", block)).rstrip("\n") for block in blocks]
    assert shown == shown_sections(snippet_for(docs_dir(lang) / chapter), lang)


def test_no_line_break_between_two_chinese_characters_in_prose(site):
    """A browser shows such a break as a space, which Chinese text does not have."""
    breaks = []
    for name, page_html in built(site):
        prose = re.sub(r"<(pre|script|style)\b.*?</\1>", "", page_html, flags=re.S)
        prose = re.sub(r"<code\b.*?</code>", "`code`", prose, flags=re.S)  # inline code stands between
        breaks += [f"{name}: …{m[0]!r}…" for m in re.finditer(CJK + "\n" + CJK, prose)]
    assert not breaks, "\n".join(breaks[:20])



def test_the_test_server_takes_a_dropped_connection_quietly(tmp_path, capfd):
    import socket
    import urllib.request

    from tools.browser import served

    (tmp_path / "big.bin").write_bytes(b"x" * 8_000_000)
    with served(tmp_path) as base:
        host, port = base.removeprefix("http://").rstrip("/").split(":")
        with socket.create_connection((host, int(port))) as client:  # asks for a big file, then hangs up
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1024)
        assert urllib.request.urlopen(base + "big.bin").read(10) == b"x" * 10  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_sitemaps_list_absolute_addresses_and_robots_txt_names_them(site):
    for lang in LANGUAGES:
        sitemap = (site_dir(lang, site) / "sitemap.xml").read_text(encoding="utf-8")
        locations = re.findall(r"<loc>([^<]*)</loc>", sitemap)
        assert locations and all(loc.startswith(site_url(lang)) for loc in locations)
    robots = (site / "robots.txt").read_text(encoding="utf-8")
    assert [f"Sitemap: {site_url(lang)}sitemap.xml" for lang in LANGUAGES] == re.findall(r"Sitemap: \S+", robots)


HEAD_LINK = re.compile(r'<link rel="(canonical|alternate)" href="([^"]*)"(?: hreflang="([^"]*)")?>')


def test_every_page_links_itself_in_each_language_by_absolute_addresses_and_has_a_canonical_address(site):
    """For search engines: the same page in each language, and x-default (the source language's),
    by absolute addresses (a relative one fails Lighthouse's hreflang audit), each reaching a page
    of that language. 404.html stands for every missing address: no address, no alternates."""
    problems = []
    for name, page_html in built(site):
        lang, path = name.split("/", 1)
        head = page_html[:page_html.index("</head>")]
        links = HEAD_LINK.findall(head)
        if path == "404.html":
            problems += [f"{name}: {link}" for link in links]
            continue
        path = path.removesuffix("index.html")
        if [href for rel, href, _ in links if rel == "canonical"] != [site_url(lang) + path]:
            problems.append(f"{name}: canonical {[link for link in links if link[0] == 'canonical']}, "
                            f"expected {site_url(lang) + path}")
        alternates = [(hreflang, href) for rel, href, hreflang in links if rel == "alternate"]
        expected = [(other, site_url(other) + path) for other in LANGUAGES] + [("x-default", site_url(SOURCE) + path)]
        if alternates != expected:
            problems.append(f"{name}: alternates {alternates}, expected {expected}")
        for hreflang, href in alternates:
            other = SOURCE if hreflang == "x-default" else hreflang
            target = site_dir(other, site) / href.removeprefix(site_url(other)) / "index.html"
            if not href.startswith(site_url(other)) or not target.is_file():
                problems.append(f"{name}: {hreflang} {href} is no page of the site")
            elif f'<html lang="{other}"' not in target.read_text(encoding="utf-8"):
                problems.append(f"{name}: {hreflang} {href} is not a page in {other}")
    assert not problems, "\n".join(problems[:20])


def test_materials_script_fetches_no_sitemap_next_to_the_language_links(site):
    """tools/language_links.py: every page's script, in both languages, is the changed copy."""
    for lang in LANGUAGES:
        scripts = [path for path in (site_dir(lang, site) / "assets" / "javascripts").glob("bundle.*.min.js")]
        assert len(scripts) == 1, scripts
        text = scripts[0].read_text(encoding="utf-8")
        assert OPT_IN in text and SELECTOR not in text, scripts[0]
        assert f"assets/javascripts/{scripts[0].name}" in html_of(site, lang, CHAPTERS[0])


def test_no_file_of_the_site_names_a_placeholder_address(site):
    placeholders = ("example.org", "example.com", "pytorch-models/pytorch-models")
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".xml", ".txt", ".json", ".ipynb", ".js"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [p for p in placeholders if p in text], path


def test_the_404_page_says_so_in_each_language_its_own_first_each_linking_to_its_home_page(site):
    """GitHub Pages answers every missing address, in either language, with the root's 404.html."""
    for lang in LANGUAGES:
        page_html = (site_dir(lang, site) / "404.html").read_text(encoding="utf-8")
        said = re.findall(r'<p lang="([^"]+)">([^<]+)<a href="([^"]+)" hreflang="\1">', page_html)
        assert [said_lang for said_lang, _, _ in said] == [lang, *(other for other in LANGUAGES if other != lang)]
        for said_lang, text, href in said:
            assert bool(re.search(CJK, text)) == (said_lang != SOURCE), f"{lang}/404.html: {said_lang}: {text!r}"
            assert posixpath.normpath(href) + "/" == urlsplit(site_url(said_lang)).path, f"{lang}/404.html: {href}"
