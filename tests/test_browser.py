"""The built site as a reader uses it, in a real headless Chromium (Debian's, driven by Playwright).

The `site` fixture's build is served by http.server on 127.0.0.1, under the path of the site's own
address (tools.browser.site_path(): /pytorch-models/ for a local build, /REPOSITORY/ in CI), as
GitHub Pages serves it; in the browser, the site's own address, which the pages name in their
head, llms.txt and the sitemaps, reaches that server. One crawl, in two tabs of one browser,
visits one page of each kind in both languages (the home page, chapters with tables, figures and
output tabs, a notebook, the glossary, the common mistakes, the test report, the 404 page) and
records what a reader meets there; each test below then checks one part of that record: the
language menu (clicked, to the same page in the other language), console errors, requests that
leave the site or fail, sitemaps fetched by Material's script, every address of the site that
the page links or loads (each asked for once), images that do not load, dead in-page links, a
375 px phone screen, screenshots (build/screenshots/), axe-core, and the copy buttons, clicked,
with each language's comments. Search, the light and dark schemes, the language menu under the
mouse, the printable edition (laid out for print and saved as a PDF), missing addresses under
the site's path (the 404 page, with its styles and links), and llms.txt, the sitemaps and
robots.txt (every address they name) are checked in other tabs while the crawl runs.

What every page has in its HTML (its language, alt texts, the links to report a problem, the
language menu's links, the code of every code block) is checked on every page, without a
browser, in tests/test_site.py. That the copied code runs needs no browser either: it is exactly
the snippet sections, which tests/test_snippets.py runs, and tests/test_languages.py proves that
the Chinese pages' code is the English pages' code, comments aside.

`make test` first runs tools/browser_deps.sh, which installs Debian's chromium and
fonts-noto-cjk where they are missing; never `playwright install`. axe-core comes with the
Python package axe-playwright-python.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import multiprocessing
import re
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from axe_playwright_python.base import AXE_SCRIPT

from tools.browser import CHROMIUM_ARGS, chromium, served, site_path
from tools.comments import shown_sections
from tools.notebook_setup import INSTALL_COMMENTS
from tools.notebooks import TRY_IT
from tools.pages import chapters
from tools.project import BUILD, LANGUAGES, ROOT, SEARCH_INDEX, SOURCE, TRANSLATIONS, colab_url, site_dir, site_url
from tools.snippets import parse_sections

pytestmark = pytest.mark.browser
OTHER = {"en": "zh", "zh": "en"}
CHAPTERS = [page.stem for page in chapters(SOURCE)]
SCREENSHOTS = BUILD / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
CRAWL_TIMEOUT = 180  # seconds: a page that never answers fails the tests instead of hanging them
SITE = site_url(SOURCE)  # the site's own address, as its pages name it
# Addresses under the site's path that hold nothing: each gets the site's 404 page (the English
# one, as GitHub Pages serves the root's 404.html for every missing address).
MISSING = ["no-such-page/", "zh/no/such/page"]
MARKDOWN_LINK = r"\]\((https?://[^)\s]+)\)"  # an absolute address in Markdown: llms.txt, notebooks
SETUP = ("Run `make test` (it runs tools/browser_deps.sh), or as root: "
         "apt-get update && apt-get install -y chromium fonts-noto-cjk")

# Each chapter's main word, typed into the search box of its language: the chapter comes first.
SEARCHES = {
    "zh": {"块": "layers", "参数": "parameters", "初始化": "initialization", "延后": "lazy-initialization",
           "自定义层": "custom-layers", "读写": "saving-loading", "保存": "saving-loading", "设备": "devices"},
    "en": {"module": "layers", "parameter": "parameters", "initialization": "initialization",
           "lazy": "lazy-initialization", "custom layer": "custom-layers", "saving": "saving-loading",
           "device": "devices"},
}
# One page of each kind; the copy buttons are clicked on the first chapter and its notebook.
VISITED = ["", "layers/", "initialization/", "devices/", "glossary/", "mistakes/", "test-report/",
           "notebooks/layers/", "404.html"]
COPIED = "layers"
# axe-core, on the pages with each kind of component in English (tables, folded solutions and
# output tabs on chapters, notebook cells, the report's icons), and on the home page and a
# chapter in Chinese (the same components, in the other language). Its contrast rule costs half
# its time, and the theme's colours are the same on every page: it runs on one chapter (and per
# scheme in test_light_and_dark_*).
AXE_ON = {"en": ["", "layers/", "devices/", "notebooks/layers/", "test-report/"],
          "zh": ["", "layers/"]}
CONTRAST_ON = "layers/"


# ----------------------------------------------------------------------------------------------
# What runs in the page

INSPECT_JS = """() => ({
  lang: document.documentElement.getAttribute('lang') || '',
  images: [...document.images].map(i => ({src: i.getAttribute('src'), alt: (i.getAttribute('alt') || '').trim(),
                                         loaded: i.complete && i.naturalWidth > 0})),
  notebookLinks: [...document.querySelectorAll('.notebook-links a')].map(a => a.href),
  title: (document.querySelector('.md-content h1') || {}).textContent || '',
  // In-page links that go nowhere, sections missing from the table of contents, and (on
  // notebook pages) code that a Markdown cell shows again next to the code cell that runs it.
  contents: [
    ...[...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'))
      .filter(h => h === '#' || !document.getElementById(decodeURIComponent(h.slice(1))))
      .map(h => `the link ${h} goes nowhere`),
    ...(toc => [...document.querySelectorAll('.md-content article h2')]
      .filter(h => !h.id || !toc.has('#' + h.id))
      .map(h => `the section "${h.textContent.replace('¶', '').trim()}" is not in the table of contents`))(
      new Set([...document.querySelectorAll('nav.md-nav--secondary a, #print-page-toc a')]
        .map(a => a.getAttribute('href')))),
    ...(cells => [...document.querySelectorAll('.jp-MarkdownCell pre')].map(p => p.textContent.trim())
      .filter(text => text && cells.some(code => code.includes(text)))
      .map(text => `a Markdown cell shows code again: ${JSON.stringify(text.slice(0, 60))}`))(
      [...document.querySelectorAll('.jp-CodeCell .highlight-ipynb pre')].map(p => p.textContent)),
  ],
})"""

# Every address the page links or loads, as the browser resolves it.
ADDRESSES_JS = """() => [...document.querySelectorAll(
    'a[href], link[href], img[src], script[src], source[src], iframe[src]')]
  .map(e => new URL(e.getAttribute('href') ?? e.getAttribute('src'), document.baseURI).href)"""

# The 404 page: its title, and whether Material's styles apply (its header sticks to the top).
MISSING_JS = """() => ({
  title: (document.querySelector('.md-content h1') || {}).textContent || '',
  styled: getComputedStyle(document.querySelector('.md-header')).position === 'sticky',
  sheets: [...document.styleSheets].map(s => { try { return s.cssRules.length; } catch (e) { return 0; } }),
})"""

# At 375 px: the page must not scroll sideways, nothing may stick out past the right edge, and
# no box may scroll sideways unless it holds code (code blocks scroll; text and tables wrap).
PHONE_JS = """() => {
  const width = document.documentElement.clientWidth, problems = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                     [...el.classList].slice(0, 3).map(c => '.' + c).join('');
  const isCode = el => el.closest('pre, code, .highlight, .highlight-ipynb, .jp-OutputArea-output');
  const clipped = el => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement)
      if (getComputedStyle(e).overflowX !== 'visible') return true;
    return false;
  };
  if (document.documentElement.scrollWidth > width)
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide`);
  for (const el of document.querySelectorAll('body *:not(pre *, code *, svg *)')) {
    if (isCode(el)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (['auto', 'scroll'].includes(style.overflowX) && el.clientWidth && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
    const box = el.getBoundingClientRect();
    if (box.width && box.height && box.right > width + 1 && !clipped(el))
      problems.push(`${name(el)} sticks out to ${Math.round(box.right)} px`);
  }
  return problems;
}"""

# Click every copy button (Material's on pages, mkdocs-jupyter's on notebook pages) and read
# what it put on the clipboard, next to the code the block shows. The clipboard is the browser's,
# shared with the other tab at work: a click whose copy has not reached it within two seconds is
# clicked again, twice at most (a CI run under load once read nothing for six blocks in a row), and
# the copy events the page saw are kept, so that a button that never copies says so.
COPY_JS = """async () => {
  document.querySelectorAll('details').forEach(details => { details.open = true; });  // as a reader unfolds them
  let copyEvents = 0;
  document.addEventListener('copy', () => { copyEvents += 1; });
  const copies = [];
  const buttons = document.querySelectorAll('button.md-code__button[data-md-type="copy"], clipboard-copy');
  for (const button of buttons) {
    const shown = button.tagName === 'CLIPBOARD-COPY'
      ? button.closest('.CodeMirror').querySelector('.highlight-ipynb pre')
      : button.closest('pre').querySelector(':scope > code');
    let copied = '', clicks = 0;
    const before = copyEvents;
    while (!copied && clicks < 3) {
      await navigator.clipboard.writeText('');
      button.click();
      clicks += 1;
      const until = Date.now() + 2000;
      while (!copied && Date.now() < until) {
        copied = await navigator.clipboard.readText();
        if (!copied) await new Promise(resolve => setTimeout(resolve, 10));
      }
    }
    copies.push({copied, shown: shown ? shown.textContent : null, clicks, copyEvents: copyEvents - before});
  }
  return copies;
}"""

# Code is left out of axe's contrast rule on these pages, as it costs half of axe's time there:
# the code colours are checked once per scheme instead (CODE_COLORS_JS, test_light_and_dark_*).
AXE_SETUP = "axe.configure({rules: [{id: 'color-contrast', selector: '*:not(pre *)'}]});"
NO_CONTRAST = "axe.configure({rules: [{id: 'color-contrast', enabled: false}]});"
AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v =>
    `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') +
    (v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : ''));
}"""

# The test report's statuses: the theme's icons (inline SVG) with a word, never emoji, which
# show as empty boxes where no emoji font is installed.
STATUS_JS = """() => [...document.querySelectorAll('#snippets ~ .md-typeset__scrollwrap td')].map(td => ({
  icons: td.querySelectorAll('.twemoji svg').length, text: td.textContent.trim()}))
  .filter(cell => /pass|fail|not run|other output|not recorded|通过|失败|未运行|输出不同|无记录/.test(cell.text))"""

# The printable edition, as the print dialog lays it out.
PRINT_JS = """() => {
  const shown = el => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const sections = [...document.querySelectorAll('#print-site-page section.print-page')];
  return {
    titles: [...document.querySelectorAll('#print-site-page section.print-page h1')].map(h => h.id),
    code: [...document.querySelectorAll('#print-site-page pre > code')].filter(shown).length,
    hiddenCode: [...document.querySelectorAll('#print-site-page pre > code')].filter(c => !shown(c)).length,
    outputs: [...document.querySelectorAll('#print-site-page .output pre')].filter(shown).length,
    figures: [...document.querySelectorAll('#print-site-page img')].map(i => ({src: i.getAttribute('src'),
      shown: shown(i), loaded: i.complete && i.naturalWidth > 0})),
    cpuTabs: [...document.querySelectorAll('#print-site-page .tabbed-set')].map(set => {
      const label = set.querySelector('.tabbed-labels label'), block = set.querySelector('.tabbed-block');
      return {first: label ? label.textContent.trim() : '', shown: shown(block)};
    }),
    closedDetails: [...document.querySelectorAll('#print-site-page details:not([open])')].length,
    sections: sections.length,
  };
}"""


# ----------------------------------------------------------------------------------------------
# The record of a crawl

@dataclass
class Visit:
    """What a reader met on one page."""
    lang: str
    path: str  # from the language's root: "", "layers/", "notebooks/layers/", "404.html"
    url: str
    html_lang: str = ""
    landed: str = ""  # where the language menu takes the reader
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    outside: list[str] = field(default_factory=list)  # requests to another site
    failed: list[str] = field(default_factory=list)  # requests that failed or got an error status
    sitemaps: list[str] = field(default_factory=list)  # sitemaps the page's script fetched
    addresses: list[str] = field(default_factory=list)  # addresses of the site it names that do not answer
    images: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)  # dead in-page links, missing contents entries
    phone: list[str] = field(default_factory=list)
    copies: list[dict] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)  # problems with the notebook links
    axe: list[str] | None = None
    statuses: list[dict] = field(default_factory=list)  # the test report's status cells
    screenshot: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.lang}/{self.path or '(home)'}"


@dataclass
class Crawl:
    """The crawl, and the other browser checks, which run at the same time in other tabs."""
    base: str
    visits: dict[tuple[str, str], Visit]
    searches: dict[tuple[str, str], list[str] | str]  # (language, term) -> pages found, or why none
    search_problems: list[str]  # console errors and failed requests while searching
    schemes: list[str]  # what is wrong with the light and dark schemes
    menu: list[str]  # what is wrong with the language menu under the mouse
    printed: dict[str, dict | str]  # language -> what its printable edition shows, or why not
    missing: list[str]  # what is wrong with the 404 page at missing addresses
    files: list[str]  # what is wrong with llms.txt, the sitemaps and robots.txt


def home(base: str, lang: str) -> str:
    """The address of a language's home page on the served site."""
    return base if lang == SOURCE else f"{base}{lang}/"


def chapter_of(path: str) -> str | None:
    return path.strip("/") if path.strip("/") in CHAPTERS else None


def local(url: str, base: str) -> str:
    """An address of the site, as its pages name it, on the tests' server (at `base`)."""
    return base + url[len(SITE):] if url.startswith(SITE) else url


async def new_context(browser, base: str, **options):
    """A browser context in which the site's own address reaches the tests' server."""
    context = await browser.new_context(**options)

    async def served_instead(route):
        from playwright.async_api import Error

        try:
            await route.fulfill(response=await route.fetch(url=local(route.request.url, base)))
        except Error:  # the page that asked has gone on to the next: no one to answer
            pass

    await context.route(lambda url: url.startswith(SITE), served_instead)
    return context


async def unsearched(browser, base: str, **options):
    """A browser context whose pages get their language's search index without its documents.
    A page builds its search index from them as soon as it loads, which costs as much as loading
    the page; the index, and the search built from it, is the same on every page of a language,
    and the search tab (_search_all) tests it with every document, on each language's home page."""
    context = await new_context(browser, base, **options)

    async def without_documents(route):
        body = _index_without_documents(local(route.request.url, base))
        await route.fulfill(content_type="application/json", body=body)

    await context.route(f"**/{SEARCH_INDEX}", without_documents)
    return context


@functools.cache
def _index_without_documents(url: str) -> str:
    with urllib.request.urlopen(url) as response:  # this process serves the site: an instant answer
        return json.dumps({**json.load(response), "docs": []})


# ----------------------------------------------------------------------------------------------
# The browser checks run in a process of their own, started by tests/conftest.py as soon as the
# site is built: Chromium and the server work on the second core while the other tests run on
# the first, and the tests below, which pytest runs last, read what they found.

def start(site: Path) -> concurrent.futures.Future:
    """Serve the site on 127.0.0.1 and drive Chromium over it, in a new process; the future's
    result is the Crawl."""
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    future = pool.submit(_run, str(site))
    pool.shutdown(wait=False)
    return future


def _run(site: str) -> Crawl:
    return asyncio.run(_everything(Path(site)))


async def _everything(site: Path) -> Crawl:
    executable = chromium()
    if not executable:
        raise MissingBrowser(f"The browser tests need Debian's chromium on PATH. {SETUP}")
    from playwright.async_api import async_playwright

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    for lang in LANGUAGES:
        (SCREENSHOTS / lang).mkdir(parents=True)
    with served(site, site_path()) as base:
        visits = {(lang, path): Visit(lang, path, home(base, lang) + path)
                  for lang in LANGUAGES for path in VISITED}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            addresses = Addresses(await playwright.request.new_context(), base)
            _, (searches, search_problems), schemes, menu, printed, missing, files = await asyncio.gather(  # in tabs
                asyncio.wait_for(_crawl(browser, base, visits, addresses), CRAWL_TIMEOUT),
                _search_all(browser, base),
                _guarded(_schemes(browser, base)),
                _guarded(_menu_under_the_mouse(browser, base)),
                _print_editions(browser, base, addresses),
                _guarded(_missing(browser, base, addresses)),
                _guarded(_site_files(base, addresses)))
            await addresses.request.dispose()
            await browser.close()
    return Crawl(base, visits, searches, search_problems, schemes, menu, printed, missing, files)


class Addresses:
    """Addresses of the site that pages name, each asked for once (HEAD) from the tests' server:
    each must be under the site's path and answer 200 (after redirects, as a browser follows
    them). Addresses of other sites are not followed."""

    def __init__(self, request, base: str) -> None:
        self.request, self.base = request, base
        self.site = {_origin(base), _origin(SITE)}
        self.answers: dict[str, asyncio.Task] = {}

    async def problems(self, addresses: list[str]) -> list[str]:
        problems, asked = [], {}
        for address in dict.fromkeys(address.split("#")[0] for address in addresses):
            if _origin(address) not in self.site:
                continue
            url = local(address, self.base)
            if not url.startswith(self.base):
                problems.append(f"{address} is outside the site's path {urlsplit(self.base).path}")
                continue
            if url not in self.answers:
                self.answers[url] = asyncio.ensure_future(self.request.head(url))
            asked[address] = self.answers[url]
        for address, answer in asked.items():
            status = (await answer).status
            if status != 200:
                problems.append(f"{address}: HTTP {status}")
        return problems


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class MissingBrowser(Exception):
    """No Chromium to drive."""


@pytest.fixture(scope="module")
def crawl(request, site):
    """What the browser checks found (started by tests/conftest.py, or here if it did not)."""
    future = getattr(request.config, "browser_checks", None) or start(site)
    try:
        return future.result(timeout=CRAWL_TIMEOUT + 60)
    except MissingBrowser as missing:
        pytest.fail(str(missing), pytrace=False)


def listen(tab, base: str, current):
    """Record console errors and requests of a tab into `current()`, the Visit being made."""
    def request(req):
        parts = urlsplit(req.url)
        if parts.scheme in ("http", "https", "ws", "wss") and not req.url.startswith((_origin(base), SITE)):
            current().outside.append(req.url)
        if parts.path.endswith("/sitemap.xml"):  # Material's script, for link[rel=alternate] (tools/language_links.py)
            current().sitemaps.append(req.url)

    def failed(req):
        if "ERR_ABORTED" not in (req.failure or ""):  # a navigation cut short by the next one
            current().failed.append(f"{req.url}: {req.failure}")

    tab.on("console", lambda m: m.type == "error" and current().errors.append(f"{m.text} ({m.location.get('url')})"))
    tab.on("pageerror", lambda e: current().errors.append(f"uncaught: {e}"))
    tab.on("request", request)
    tab.on("requestfailed", failed)
    tab.on("response", lambda r: r.status >= 400 and current().failed.append(f"{r.url}: HTTP {r.status}"))


# ----------------------------------------------------------------------------------------------
# The crawl

async def _switch(tab, lang: str) -> str:
    """Choose `lang` in the header's language menu; return where it lands.

    The link is clicked from the page's script, which is quicker than moving the mouse over
    the menu; test_language_menu_opens_under_the_mouse clicks it as a reader does.
    """
    async with tab.expect_navigation():
        await tab.eval_on_selector(f'.md-header a.md-select__link[hreflang="{lang}"]', "a => a.click()")
    return tab.url


def _check_notebook(data: bytes, href: str, visit: Visit, title: str) -> None:
    """A downloaded notebook: valid, this page's (title, language), with code to run."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - any way it is broken is a failure to report
        visit.notebooks.append(f"{href} is not a valid notebook: {error}")
        return
    first = notebook.cells[0].source.splitlines()[0] if notebook.cells else ""
    if notebook.metadata.get("language") != visit.lang or first.lstrip("# ").strip() != title:
        visit.notebooks.append(f"{href} starts with {first!r} (language {notebook.metadata.get('language')}), "
                               f"not this page's title {title!r} in {visit.lang}")
    if not any(c.cell_type == "code" and c.source.strip() for c in notebook.cells):
        visit.notebooks.append(f"{href} has no code to run")


async def _at_desktop_width(tab, visit: Visit, addresses: Addresses) -> None:
    """What is checked on a page at desktop width: language, images, the addresses it names, a
    screenshot, notebook links on chapter pages, axe, the test report's statuses; then the copy
    buttons (last: the "Copied" notice they show would be in the screenshot and in axe's way)."""
    seen = await tab.evaluate(INSPECT_JS)
    visit.addresses = await addresses.problems(await tab.evaluate(ADDRESSES_JS))
    visit.html_lang, visit.contents = seen["lang"], seen["contents"]
    for image in seen["images"]:
        if not image["loaded"]:
            visit.images.append(f"{image['src']} did not load")
    name = (visit.path.strip("/").replace("/", "-") or "index").removesuffix(".html")
    visit.screenshot = SCREENSHOTS / visit.lang / f"{name}.png"
    await tab.screenshot(path=visit.screenshot)
    if visit.path == "test-report/":
        visit.statuses = await tab.evaluate(STATUS_JS)
    if chapter_of(visit.path):
        await _notebook_links(tab, visit, seen, addresses)
    if visit.path in AXE_ON[visit.lang]:
        await tab.evaluate(AXE_SCRIPT + AXE_SETUP + ("" if visit.path == CONTRAST_ON else NO_CONTRAST))
        visit.axe = await tab.evaluate(AXE_JS)


async def _notebook_links(tab, visit: Visit, seen: dict, addresses: Addresses) -> None:
    """A chapter page: its two notebook links, then Colab's where the site has a repository on
    github.com (not followed: it is outside the site; tests/test_colab.py checks its address), and
    the addresses of the site that the downloaded notebook links (absolute: a download is read anywhere)."""
    title = seen["title"].replace("¶", "").strip()
    links = seen["notebookLinks"]
    colab = colab_url(visit.lang, visit.path.strip("/"))
    if colab:
        if links[2:] != [colab]:
            visit.notebooks.append(f"expected the link to {colab} last: {links}")
        links = links[:2]
    if len(links) != 2 or not links[1].endswith(".ipynb"):
        visit.notebooks.append(f"expected a link to the notebook page, then one to download it: {links}")
    for href in links:
        response = await tab.request.get(href)
        if not response.ok:
            visit.notebooks.append(f"{href}: HTTP {response.status}")
        elif href.endswith(".ipynb"):
            _check_notebook(await response.body(), href, visit, title)
            named = re.findall(MARKDOWN_LINK, await response.text())
            visit.notebooks += [f"{href}: {problem}" for problem in await addresses.problems(named)]
        elif "jupyter-wrapper" not in await response.text():
            visit.notebooks.append(f"{href} is not a notebook page")


async def _crawl(browser, base: str, visits: dict, addresses: Addresses) -> None:
    context = await unsearched(browser, base, viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    copy_lock = asyncio.Lock()  # one clipboard for both tabs
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in sorted({path for _, path in visits}, key=lambda p: (not chapter_of(p), p)):
        queue.put_nowait(path)  # chapters first: they take longest

    async def at_desktop_width(tab, visit):
        await _at_desktop_width(tab, visit, addresses)
        if visit.path in (f"{COPIED}/", f"notebooks/{COPIED}/"):
            async with copy_lock:
                await tab.bring_to_front()  # the tab that copies is the one in front, as a reader's is
                visit.copies = await tab.evaluate(COPY_JS)

    async def worker():
        tab = await context.new_page()
        current = [None]
        listen(tab, base, lambda: current[0])
        while not queue.empty():
            # English at desktop width, then at phone width; its menu to Chinese, which is seen
            # at phone width, then at desktop width; its menu back is read, not followed (the
            # menu's links of every page are checked in tests/test_site.py).
            path = queue.get_nowait()
            en, zh = visits[("en", path)], visits[("zh", path)]
            current[0] = en
            await tab.goto(en.url)
            await at_desktop_width(tab, en)
            await tab.set_viewport_size(PHONE)
            en.phone = await tab.evaluate(PHONE_JS)
            current[0] = zh
            en.landed = await _switch(tab, "zh")
            if tab.url != zh.url:  # the menu failed; see the page anyway
                await tab.goto(zh.url)
            zh.phone = await tab.evaluate(PHONE_JS)
            await tab.set_viewport_size(DESKTOP)
            await at_desktop_width(tab, zh)
            zh.landed = await tab.eval_on_selector('.md-header a.md-select__link[hreflang="en"]', "a => a.href")
        await tab.close()

    await asyncio.gather(worker(), worker())
    await context.close()


async def _guarded(check) -> list[str]:
    """A check's problems, or the error that stopped it, as a problem."""
    try:
        return await check
    except Exception as error:  # noqa: BLE001 - reported by the test that reads it
        return [f"stopped by {error!r}"]


async def _print_editions(browser, base: str, addresses: Addresses) -> dict[str, dict | str]:
    """Each language's printable edition, laid out for print, and saved as a PDF."""
    context = await unsearched(browser, base, viewport=DESKTOP)
    tab = await context.new_page()
    visit = Visit("", "print", base)
    listen(tab, base, lambda: visit)
    printed: dict[str, dict | str] = {}
    for lang in LANGUAGES:
        try:
            await tab.emulate_media(media="print")  # before loading: the page is laid out once, for print
            await tab.goto(f"{home(base, lang)}print_page/")
            printed[lang] = await tab.evaluate(PRINT_JS)
            pdf = await tab.pdf(format="A4", page_ranges="1-3")  # what "save as PDF" writes, its first pages
            printed[lang]["pdf"] = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) if pdf.startswith(b"%PDF") else 0
            printed[lang]["problems"] = visit.errors + visit.outside + visit.failed + visit.sitemaps
            printed[lang]["problems"] += await addresses.problems(await tab.evaluate(ADDRESSES_JS))
            visit.errors, visit.outside, visit.failed, visit.sitemaps = [], [], [], []
        except Exception as error:  # noqa: BLE001 - reported by the test of this language
            printed[lang] = f"not checked: {error!r}"
    await context.close()
    return printed


def problems_of(crawl: Crawl, attribute: str) -> list[str]:
    return [f"{v.name}: {item}" for v in crawl.visits.values() for item in getattr(v, attribute)]


# ----------------------------------------------------------------------------------------------
# Every page

def test_every_page_declares_its_language(crawl):
    wrong = [f"{v.name}: <html lang={v.html_lang!r}>" for v in crawl.visits.values() if v.html_lang != v.lang]
    assert not wrong, "\n".join(wrong)


def test_language_menu_leads_to_the_same_page_and_back(crawl):
    wrong = []
    for (lang, path), visit in crawl.visits.items():
        other = crawl.visits.get((OTHER[lang], path))
        # A 404 page stands for every missing address: its menu leads to the other home page.
        expected = crawl.base + ("zh/" if lang == "en" else "") if path == "404.html" else other.url
        if visit.landed != expected:
            wrong.append(f"{visit.name}: choosing {OTHER[lang]} leads to {visit.landed}, not {expected}")
    assert not wrong, "\n".join(wrong)


async def _menu_under_the_mouse(browser, base: str) -> list[str]:
    """The language menu used with the mouse: on a desktop screen, then on a phone's."""
    context = await unsearched(browser, base, viewport=DESKTOP)
    tab = await context.new_page()
    english, chinese = f"{base}{CHAPTERS[0]}/", f"{base}zh/{CHAPTERS[0]}/"
    problems = []
    for start, lang, end, screen in ((english, "zh", chinese, DESKTOP), (chinese, "en", english, PHONE)):
        await tab.set_viewport_size(screen)
        await tab.goto(start)
        await tab.click(".md-header .md-select button")
        async with tab.expect_navigation():
            await tab.click(f'.md-header a.md-select__link[hreflang="{lang}"]')
        if tab.url != end:
            problems.append(f"at {screen['width']} px, {start} -> {lang} lands on {tab.url}, not {end}")
    await context.close()
    return problems


def test_language_menu_opens_under_the_mouse(crawl):
    assert not crawl.menu, "\n".join(crawl.menu)


def test_no_console_errors(crawl):
    errors = problems_of(crawl, "errors")
    assert not errors, "\n".join(errors)


def test_no_request_leaves_the_site(crawl):
    outside = problems_of(crawl, "outside")
    assert not outside, "\n".join(outside)


def test_no_request_fails(crawl):
    failed = problems_of(crawl, "failed")
    assert not failed, "\n".join(failed)


def test_every_address_of_the_site_that_a_page_links_or_loads_answers_under_the_sites_path(crawl):
    """Links, styles, scripts, images, and the head's canonical and language links (absolute:
    the site's own address, reaching the tests' server)."""
    problems = problems_of(crawl, "addresses")
    assert not problems, "\n".join(problems)


def test_no_page_fetches_a_sitemap(crawl):
    """Material's script would fetch sitemap.xml next to each language link of the head, where
    there is none (tools/language_links.py stops it)."""
    fetched = problems_of(crawl, "sitemaps")
    assert not fetched, "\n".join(fetched)


def test_images_load(crawl):
    problems = problems_of(crawl, "images")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_in_page_links_and_the_table_of_contents_work(crawl, lang):
    problems = [f"{v.name}: {item}" for v in crawl.visits.values() if v.lang == lang for item in v.contents]
    assert not problems, "\n".join(problems)


def test_phone_screen_scrolls_sideways_only_in_code_blocks(crawl):
    problems = problems_of(crawl, "phone")
    assert not problems, "\n".join(problems)


def test_every_page_has_a_screenshot(crawl):
    for visit in crawl.visits.values():
        data = visit.screenshot.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, visit.name


# ----------------------------------------------------------------------------------------------
# Copying code

@pytest.mark.parametrize("lang", LANGUAGES)
def test_copy_buttons_copy_exactly_the_code_shown_with_the_languages_comments(crawl, lang):
    page, notebook = crawl.visits[(lang, f"{COPIED}/")], crawl.visits[(lang, f"notebooks/{COPIED}/")]
    problems = []
    for visit in (page, notebook):
        for number, copy in enumerate(visit.copies, 1):
            if copy["copied"] != (copy["shown"] or "").rstrip("\n"):
                problems.append(f"{visit.name}: block {number} copies {copy['copied']!r} ({copy['clicks']} clicks, "
                                f"{copy['copyEvents']} copy events), but shows {copy['shown']!r}")
    copied, sections = [c["copied"] for c in page.copies], shown_sections(ROOT / "snippets" / f"{COPIED}.py", lang)
    if copied != sections:
        problems.append(f"{page.name}: the copy buttons give {len(copied)} blocks that are not the "
                        f"{len(sections)} sections of snippets/{COPIED}.py as this language shows them")
    from_notebook = [c["copied"] for c in notebook.copies if c["copied"] != TRY_IT[lang]]
    if not from_notebook or not from_notebook[0].startswith(INSTALL_COMMENTS[lang]["intro"]):
        problems.append(f"{notebook.name}: its first code is not the install cell (tools/notebook_setup.py)")
    if from_notebook[1:] != copied:
        problems.append(f"{notebook.name}: its copy buttons copy other code than the chapter page's")
    for text in copied:
        if re.search(r"^(>>>|\.\.\.|\$) ", text, re.M):
            problems.append(f"{page.name}: a copied block holds a prompt: {text!r}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# Notebooks, accessibility, the test report

def test_notebook_links_give_valid_notebooks(crawl):
    problems = problems_of(crawl, "notebooks")
    assert not problems, "\n".join(problems)


def test_no_serious_accessibility_violations(crawl):
    checked = [v for v in crawl.visits.values() if v.axe is not None]
    assert {(v.lang, v.path) for v in checked} == {(lang, path) for lang, paths in AXE_ON.items() for path in paths}
    problems = [f"{v.name}: {item}" for v in checked for item in v.axe]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_test_report_statuses_are_theme_icons_with_words(crawl, lang):
    cells = crawl.visits[(lang, "test-report/")].statuses
    assert cells, "the test report shows no status"
    assert all(cell["icons"] == 1 for cell in cells), [c for c in cells if c["icons"] != 1][:3]
    emoji = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")
    assert not [cell for cell in cells if emoji.search(cell["text"])]


# ----------------------------------------------------------------------------------------------
# Search

async def _search(tab, home: str, term: str) -> list[str]:
    """Type a term into the search box; return the pages of the results, in order, without repeats."""
    if tab.url != home:
        await tab.goto(home)
    box = tab.locator("input.md-search__input")
    await box.click()
    await box.fill("")
    await tab.wait_for_function("() => !document.querySelector('.md-search-result__list li')")
    await box.fill(term)
    await box.press("End")  # typing Chinese fires no keyup; this key press starts the search
    await tab.wait_for_function("() => document.querySelector('.md-search-result__list li')", timeout=10_000)
    hrefs = await tab.eval_on_selector_all("a.md-search-result__link", "links => links.map(a => a.href)")
    pages = []
    for href in hrefs:
        path = urlsplit(href).path
        if path not in pages:
            pages.append(path)
    return pages


async def _search_all(browser, base: str) -> tuple[dict, list[str]]:
    """Every term of SEARCHES, typed in the search box of its language's home page."""
    context = await new_context(browser, base, viewport=DESKTOP)
    tab = await context.new_page()
    visit = Visit("", "search", base)
    listen(tab, base, lambda: visit)
    found: dict[tuple[str, str], list[str] | str] = {}
    for lang in LANGUAGES:
        for term in SEARCHES[lang]:
            try:
                found[(lang, term)] = await _search(tab, home(base, lang), term)
            except Exception as error:  # noqa: BLE001 - reported by the test of this term
                found[(lang, term)] = f"no results: {error!r}"
    await context.close()
    return found, [f"while searching: {item}" for item in visit.errors + visit.outside + visit.failed]


@pytest.mark.parametrize("lang,term", [(lang, term) for lang in LANGUAGES for term in SEARCHES[lang]])
def test_searching_a_chapters_main_word_lists_that_chapter_first(crawl, lang, term):
    found = crawl.searches[(lang, term)]
    assert isinstance(found, list), f"{term!r}: {found}"
    root = urlsplit(home(crawl.base, lang)).path
    others = tuple(urlsplit(home(crawl.base, other)).path for other in TRANSLATIONS)
    expected = f"{root}{SEARCHES[lang][term]}/"
    hint = ("" if lang == SOURCE else "; Material cuts a Chinese query where its first characters are a word of the "
            "search index: where jieba made one (设 out of 设为), reword that sentence or add the longer word to "
            "docs/search-words.zh.txt")
    assert found[:1] == [expected], f"{term!r} finds {found[:4]}, not {expected} first{hint}"
    assert all(path.startswith(root) and (lang != SOURCE or not path.startswith(others)) for path in found), \
        f"{term!r} finds pages of the other language: {found}"
    assert not crawl.search_problems, "\n".join(crawl.search_problems)


# ----------------------------------------------------------------------------------------------
# The printable edition and llms.txt

@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_printable_edition_shows_every_chapter_with_code_outputs_figures_and_the_cpu_tab(crawl, site, lang):
    printed = crawl.printed[lang]
    assert isinstance(printed, dict), printed
    assert not printed["problems"], printed["problems"]
    for chapter in CHAPTERS:
        title_id = re.search(r'<h1 id="([^"]+)"', (site_dir(lang, site) / chapter / "index.html").read_text("utf-8"))
        assert title_id and any(t.endswith(title_id[1]) for t in printed["titles"]), f"{chapter} is missing"
    sections = sum(len(parse_sections(ROOT / "snippets" / f"{chapter}.py")) for chapter in CHAPTERS)
    assert printed["code"] >= sections and printed["hiddenCode"] == 0 and printed["closedDetails"] == 0
    assert printed["outputs"] > 0
    assert printed["figures"] and all(f["shown"] and f["loaded"] for f in printed["figures"]), printed["figures"]
    assert printed["cpuTabs"] and all(t["first"] == "CPU" and t["shown"] for t in printed["cpuTabs"])
    assert printed["pdf"] == 3, printed["pdf"]  # the print dialog's "save as PDF", done by Chromium


# Each file, and the addresses of the site it names: Markdown links, <loc>, Sitemap: lines.
SITE_FILES = {"llms.txt": MARKDOWN_LINK, "llms-full.txt": MARKDOWN_LINK, "sitemap.xml": r"<loc>([^<]+)</loc>"}


async def _site_files(base: str, addresses: Addresses) -> list[str]:
    """Each language's llms.txt, llms-full.txt and sitemap, and robots.txt, from the tests' server;
    every address of the site they name answers there."""
    files = [(home(base, lang) + name, pattern) for lang in LANGUAGES for name, pattern in SITE_FILES.items()]
    problems = []
    for url, pattern in [*files, (base + "robots.txt", r"(?m)^Sitemap: (\S+)$")]:
        response = await addresses.request.get(url)
        if response.status != 200:
            problems.append(f"{url}: HTTP {response.status}")
            continue
        named = re.findall(pattern, await response.text())
        if not named and not url.endswith("llms-full.txt"):
            problems.append(f"{url} names no address")
        problems += [f"{url}: {problem}" for problem in await addresses.problems(named)]
    return problems


def test_llms_txt_the_sitemaps_and_robots_txt_name_addresses_that_answer_under_the_sites_path(crawl):
    assert not crawl.files, "\n".join(crawl.files)


async def _missing(browser, base: str, addresses: Addresses) -> list[str]:
    """Missing addresses under the site's path: each gets the 404 page, with status 404, styled,
    its links answering. The page itself is the only request that may get a 404."""
    context = await new_context(browser, base, viewport=DESKTOP)
    tab = await context.new_page()
    current = [Visit(SOURCE, "", base)]
    listen(tab, base, lambda: current[0])
    problems = []
    for path in MISSING:
        url = base + path
        visit = current[0] = Visit(SOURCE, path, url)
        response = await tab.goto(url)
        seen = await tab.evaluate(MISSING_JS)
        if response.status != 404 or not seen["title"].startswith("404"):
            problems.append(f"{url}: HTTP {response.status}, title {seen['title']!r}, not the 404 page")
        if not seen["styled"] or not seen["sheets"] or 0 in seen["sheets"]:
            problems.append(f"{url}: the 404 page lacks its styles (rules per style sheet: {seen['sheets']})")
        problems += [f"{url}: {problem}" for problem in await addresses.problems(await tab.evaluate(ADDRESSES_JS))]
        problems += [f"{url}: {item}" for item in visit.errors + visit.outside + visit.failed + visit.sitemaps
                     if not item.startswith(f"{url}: HTTP 404") and not item.endswith(f"({url})")]
    await context.close()
    return problems


def test_a_missing_address_under_the_sites_path_gets_the_404_page_styled_with_links_that_answer(crawl):
    assert not crawl.missing, "\n".join(crawl.missing)


# ----------------------------------------------------------------------------------------------
# Light and dark

SCHEME_JS = """() => {
  const luminance = color => {
    const [r, g, b] = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const colors = selector => {
    const el = document.querySelector(selector);
    if (!el) return null;
    let bg = 'rgba(0, 0, 0, 0)';
    for (let e = el; e && /rgba\\(.*, 0\\)$/.test(bg); e = e.parentElement) bg = getComputedStyle(e).backgroundColor;
    return {fg: luminance(getComputedStyle(el).color), bg: luminance(bg)};
  };
  return {scheme: document.body.getAttribute('data-md-color-scheme'),
          text: colors('.md-content p'), code: colors('.md-content pre :is(code, span)')};
}"""


CODE_COLORS_JS = """() => {
  const code = document.querySelector('.md-content pre > code');
  const rgba = color => { const [r, g, b, a = 1] = color.match(/[\\d.]+/g).map(Number); return [r, g, b, a]; };
  const luminance = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const back = rgba(getComputedStyle(code).backgroundColor), low = [];
  for (const name of ['fg', 'hl-operator', 'hl-punctuation', 'hl-string', 'hl-special', 'hl-number',
                      'hl-keyword', 'hl-name', 'hl-constant', 'hl-function', 'hl-comment',
                      'hl-variable', 'hl-generic']) {
    const probe = document.createElement('span');
    probe.style.color = `var(--md-code-${name}-color)`;
    code.appendChild(probe);
    const color = getComputedStyle(probe).color, fore = rgba(color);
    probe.remove();
    const seen = fore.slice(0, 3).map((v, i) => fore[3] * v + (1 - fore[3]) * back[i]);  // over the background
    const [light, dark] = [luminance(seen), luminance(back)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    if (ratio < 4.5) low.push(`--md-code-${name}-color ${color}: ${ratio.toFixed(2)}:1`);
  }
  return low;
}"""


def _check_scheme(seen: dict, dark: bool, where: str) -> list[str]:
    problems = []
    if seen["scheme"] != ("slate" if dark else "default"):
        problems.append(f"{where}: scheme {seen['scheme']}, expected {'slate' if dark else 'default'}")
    for part in ("text", "code"):
        colors = seen[part]
        if colors is None:
            problems.append(f"{where}: no {part} found")
        elif dark and not (colors["bg"] < 0.1 < colors["fg"]):
            problems.append(f"{where}: {part} is not light on dark: {colors}")
        elif not dark and not (colors["fg"] < 0.3 < colors["bg"]):
            problems.append(f"{where}: {part} is not dark on light: {colors}")
    return problems


# Every text colour of a notebook page's first cells (prose, code of every colour, outputs) against
# what is behind it, as CODE_COLORS_JS does for chapter pages: axe-core's contrast rule takes
# seconds on a page this large, and notebook.css gives every cell the same colours.
CELL_COLORS_JS = """() => {
  const rgba = color => { const [r, g, b, a = 1] = color.match(/[\\d.]+/g).map(Number); return [r, g, b, a]; };
  const luminance = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = el => {
    for (let e = el; e; e = e.parentElement) {
      const color = rgba(getComputedStyle(e).backgroundColor);
      if (color[3] > 0) return color;
    }
    return rgba(getComputedStyle(document.body).backgroundColor);
  };
  const low = new Set();
  const cells = [...document.querySelectorAll('.jp-Cell')].slice(0, 12);
  for (const el of cells.flatMap(cell => [cell, ...cell.querySelectorAll('*')])) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    let shown = true;  // a ¶ link shows only under the mouse (opacity 0 until then)
    for (let e = el; e && shown; e = e.parentElement) shown = getComputedStyle(e).opacity !== '0';
    if (!shown) continue;
    const fore = rgba(getComputedStyle(el).color), back = behind(el);
    const seen = fore.slice(0, 3).map((v, i) => fore[3] * v + (1 - fore[3]) * back[i]);
    const [light, dark] = [luminance(seen), luminance(back)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    if (ratio < 4.5) low.add(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}: ${ratio.toFixed(2)}:1`);
  }
  return [...low];
}"""


async def _schemes(browser, base: str) -> list[str]:
    problems = []
    # The header and the first blocks of a chapter (prose, code, outputs): the colours come from
    # the scheme's CSS, which the rest of the page repeats.
    contrast = "async () => (await axe.run([document.querySelector('.md-header'), ...[...document.querySelectorAll(" \
               "'.md-content article > *')].slice(0, 12)], {runOnly: ['color-contrast']}))" \
               ".violations.flatMap(v => v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary))"
    context = await unsearched(browser, base, viewport=DESKTOP, color_scheme="light")
    tab = await context.new_page()
    visit = Visit("", "schemes", base)
    listen(tab, base, lambda: visit)
    chapter, notebook = f"{base}{CHAPTERS[0]}/", f"{base}zh/notebooks/{CHAPTERS[0]}/"
    for dark in (False, True):
        for url in (chapter, notebook):
            await tab.goto(url)
            if dark and url == chapter:  # the reader's choice, by the header's toggle
                await tab.click("form[data-md-component=palette] label:visible")
                await tab.reload()  # and it is remembered
            where = f"{url} ({'dark' if dark else 'light'})"
            problems += _check_scheme(await tab.evaluate(SCHEME_JS), dark, where)
            if url == chapter:
                problems += [f"{where}: code colour {item}" for item in await tab.evaluate(CODE_COLORS_JS)]
                await tab.evaluate(AXE_SCRIPT)
                problems += [f"{where}: contrast {item}" for item in await tab.evaluate(contrast)]
            else:
                problems += [f"{where}: contrast {item}" for item in await tab.evaluate(CELL_COLORS_JS)]
            name = url.removeprefix(base).strip("/").replace("/", "-")
            await tab.screenshot(path=SCREENSHOTS / f"{name}-{'dark' if dark else 'light'}.png")
    await context.close()
    # A reader whose system is dark gets the dark scheme without choosing it.
    context = await unsearched(browser, base, viewport=DESKTOP, color_scheme="dark")
    tab = await context.new_page()
    await tab.goto(f"{base}zh/{CHAPTERS[-1]}/")
    problems += _check_scheme(await tab.evaluate(SCHEME_JS), True, f"{base}zh/{CHAPTERS[-1]}/ (system dark)")
    await context.close()
    return problems + visit.errors + visit.outside + visit.failed + visit.sitemaps


def test_light_and_dark_schemes_both_work(crawl):
    assert not crawl.schemes, "\n".join(crawl.schemes)
