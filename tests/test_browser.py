"""The built site as a reader uses it, in a real headless Chromium (Debian's, driven by Playwright).

The `site` fixture's build is served by http.server on 127.0.0.1. One crawl, in two tabs of one
browser, visits every page of both languages once and records what a reader meets there; each
test below then checks one part of that record, so that one run reports every broken page:
the language menu (to the same page in the other language, and back), console errors, requests
that leave 127.0.0.1 or fail, `<html lang>`, images, a 375 px phone screen, screenshots
(build/screenshots/), the copy buttons and the code they copy, the notebook links, and axe-core.
Search, the light and dark schemes and the language menu under the mouse are checked in other
tabs while the crawl runs, and the copied code runs in fresh Pythons in the background.

`make test` first runs tools/browser_deps.sh, which installs Debian's chromium, fonts-noto-cjk
and axe-core (into .cache/npm) where they are missing; never `playwright install`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from tools.project import ROOT
from tools.snippets import parse_sections

LANGUAGES = ("en", "zh")
OTHER = {"en": "zh", "zh": "en"}
# Chapter pages, as the issue defines them; discovered, so that new chapters are tested too.
CHAPTERS = sorted(p.stem for p in (ROOT / "docs" / "en").glob("*.md")
                  if p.stem not in {"index", "glossary", "mistakes", "test-report"})
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CRAWL_TIMEOUT = 180  # seconds: a page that never answers fails the tests instead of hanging them
SETUP = ("Run `make test` (it runs tools/browser_deps.sh), or as root: "
         "apt-get update && apt-get install -y chromium fonts-noto-cjk && bash tools/browser_deps.sh")

# Search terms named by the issue, and the pages each must find among the first three pages of
# its results (other pages that use the term may come first: the mistakes page, for one).
SEARCHES = {
    "zh": {"参数": ["parameters", "initialization"], "初始化": ["initialization", "lazy-initialization"],
           "延后初始化": ["lazy-initialization"], "设备": ["devices"]},
    "en": {"tied parameters": ["parameters"], "LazyLinear": ["lazy-initialization"],
           "weights_only": ["saving-loading"]},
}


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
      new Set([...document.querySelectorAll('nav.md-nav--secondary a')].map(a => a.getAttribute('href')))),
    ...(cells => [...document.querySelectorAll('.jp-MarkdownCell pre')].map(p => p.textContent.trim())
      .filter(text => text && cells.some(code => code.includes(text)))
      .map(text => `a Markdown cell shows code again: ${JSON.stringify(text.slice(0, 60))}`))(
      [...document.querySelectorAll('.jp-CodeCell .highlight-ipynb pre')].map(p => p.textContent)),
  ],
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
# what it put on the clipboard, next to the code the block shows.
COPY_JS = """async () => {
  const copies = [];
  const buttons = document.querySelectorAll('button.md-code__button[data-md-type="copy"], clipboard-copy');
  for (const button of buttons) {
    const shown = button.tagName === 'CLIPBOARD-COPY'
      ? button.closest('.CodeMirror').querySelector('.highlight-ipynb pre')
      : button.closest('pre').querySelector(':scope > code');
    await navigator.clipboard.writeText('');
    button.click();
    let copied = '';
    for (let i = 0; i < 50 && !copied; i++) {
      copied = await navigator.clipboard.readText();
      if (!copied) await new Promise(resolve => setTimeout(resolve, 10));
    }
    copies.push({copied, shown: shown ? shown.textContent : null});
  }
  return copies;
}"""

# Code is left out of axe's contrast rule on these pages, as it costs half of axe's time there:
# the code colours are checked once per scheme instead (CODE_COLORS_JS, test_light_and_dark_*).
AXE_SETUP = "axe.configure({rules: [{id: 'color-contrast', selector: '*:not(pre *)'}]});"
AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v =>
    `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') +
    (v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : ''));
}"""

# Each chapter's copied blocks, pasted in order into one fresh Python.
RUNNER = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
for number, block in enumerate(json.load(sys.stdin), 1):
    try:
        exec(compile(block, f"<copied block {number}>", "exec"), namespace)
    except BaseException:
        print(f"copied block {number} failed:\\n{block}\\n", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""


# ----------------------------------------------------------------------------------------------
# The record of a crawl

@dataclass
class Visit:
    """What a reader met on one page."""
    lang: str
    path: str  # from the language's root: "", "layers/", "notebooks/layers/", "404.html"
    url: str
    html_lang: str = ""
    landed: str = ""  # where the language menu took the reader
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    outside: list[str] = field(default_factory=list)  # requests to another host
    failed: list[str] = field(default_factory=list)  # requests that failed or got an error status
    images: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)  # dead in-page links, missing contents entries
    phone: list[str] = field(default_factory=list)
    copies: list[dict] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)  # problems with the notebook links
    axe: list[str] | None = None
    screenshot: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.lang}/{self.path or '(home)'}"


@dataclass
class Crawl:
    """The crawl, and the other browser checks, which run at the same time in other tabs."""
    base: str
    visits: dict[tuple[str, str], Visit]
    runs: dict[str, concurrent.futures.Future]  # chapter -> its copied code, run
    searches: dict[tuple[str, str], list[str] | str]  # (language, term) -> pages found, or why none
    search_problems: list[str]  # console errors and failed requests while searching
    schemes: list[str]  # what is wrong with the light and dark schemes
    menu: list[str]  # what is wrong with the language menu under the mouse


def built_pages(folder: Path) -> list[str]:
    """Every page of one language's built site, as a path from its root ("" is the home page)."""
    pages = []
    for html in sorted(folder.rglob("*.html")):
        relative = html.relative_to(folder).as_posix()
        if folder.name != "zh" and relative.startswith("zh/"):
            continue
        pages.append(relative.removesuffix("index.html"))
    return pages


def chapter_of(path: str) -> str | None:
    return path.strip("/") if path.strip("/") in CHAPTERS else None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site without a log line per request."""

    def log_message(self, *args) -> None:
        pass


# ----------------------------------------------------------------------------------------------
# Fixtures: one event loop, one server, one Chromium

@pytest.fixture(scope="session")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def base_url(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(loop):
    chromium = shutil.which(os.environ.get("CHROMIUM", "chromium"))  # see tools/browser_deps.sh
    if not chromium:
        pytest.fail(f"The browser tests need Debian's chromium on PATH. {SETUP}")
    if not AXE.exists():
        pytest.fail(f"The accessibility tests need axe-core in {AXE.parent}. {SETUP}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("The browser tests need playwright: make install (or pip install -r requirements.txt)")
    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(
        playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS))
    yield browser
    loop.run_until_complete(browser.close())
    loop.run_until_complete(playwright.stop())


def listen(tab, base: str, current):
    """Record console errors and requests of a tab into `current()`, the Visit being made."""
    def request(req):
        host = urlsplit(req.url).hostname
        if urlsplit(req.url).scheme in ("http", "https", "ws", "wss") and host != "127.0.0.1":
            current().outside.append(req.url)

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

async def _switch(tab, lang: str, wait_until: str = "load") -> str:
    """Choose `lang` in the header's language menu; return where it lands.

    The link is clicked from the page's script, which is quicker than moving the mouse over
    the menu; test_language_menu_opens_under_the_mouse clicks it as a reader does.
    """
    async with tab.expect_navigation(wait_until=wait_until):
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


async def _copy(tab, visit: Visit) -> None:
    """Every copy button of an English chapter or notebook page, and what it copies.

    English only: the Chinese pages include the very same snippet sections (tools/pages.py
    checks it), so the code they show and copy is identical.
    """
    if visit.lang == "en" and (chapter_of(visit.path) or visit.path.startswith("notebooks/")):
        visit.copies = await tab.evaluate(COPY_JS)


async def _at_desktop_width(tab, visit: Visit, axe_source: str, copied=None) -> None:
    """What is checked on a page at desktop width: language, images, screenshot, notebook links
    and axe on chapter pages, then the copy buttons (`copied(tab, visit)`)."""
    seen = await tab.evaluate(INSPECT_JS)
    visit.html_lang = seen["lang"]
    visit.contents = seen["contents"]
    for image in seen["images"]:
        if not image["alt"]:
            visit.images.append(f"{image['src']} has no alt text")
        if not image["loaded"]:
            visit.images.append(f"{image['src']} did not load")
    name = (visit.path.strip("/").replace("/", "-") or "index").removesuffix(".html")
    visit.screenshot = SCREENSHOTS / visit.lang / f"{name}.png"
    await tab.screenshot(path=visit.screenshot)
    if chapter_of(visit.path):
        await _notebook_links_and_axe(tab, visit, seen, axe_source)
    if copied:  # last: the "Copied" notice that it shows would be in the screenshot and in axe's way
        await copied(tab, visit)


async def _notebook_links_and_axe(tab, visit: Visit, seen: dict, axe_source: str) -> None:
    """A chapter page: its two notebook links, and axe-core."""
    title = seen["title"].replace("¶", "").strip()
    links = seen["notebookLinks"]
    if len(links) != 2 or not links[1].endswith(".ipynb"):
        visit.notebooks.append(f"expected a link to the notebook page, then one to download it: {links}")
    for href in links:
        response = await tab.request.get(href)
        if not response.ok:
            visit.notebooks.append(f"{href}: HTTP {response.status}")
        elif href.endswith(".ipynb"):
            _check_notebook(await response.body(), href, visit, title)
        elif "jupyter-wrapper" not in await response.text():
            visit.notebooks.append(f"{href} is not a notebook page")
    await tab.evaluate(axe_source + AXE_SETUP)
    visit.axe = await tab.evaluate(AXE_JS)


async def _crawl(browser, base: str, visits: dict, runs: dict, pool, axe_source: str) -> None:
    context = await browser.new_context(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    copy_lock = asyncio.Lock()
    # Chapters first, so that their copied code runs in the background while the crawl goes on.
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in sorted({path for _, path in visits}, key=lambda p: (not chapter_of(p), p)):
        queue.put_nowait(path)

    async def copy_and_run(tab, visit: Visit):
        async with copy_lock:  # one clipboard for both tabs
            await _copy(tab, visit)
        if chapter_of(visit.path) and visit.copies:  # run in the background while the crawl goes on
            runs[chapter_of(visit.path)] = pool.submit(_run_copied, [c["copied"] for c in visit.copies])

    async def worker():
        tab = await context.new_page()
        current = [None]
        listen(tab, base, lambda: current[0])
        while not queue.empty():
            # English at desktop width, then at phone width; its menu to Chinese, which is seen
            # at phone width, then at desktop width; its menu back to English.
            path = queue.get_nowait()
            en, zh = visits[("en", path)], visits[("zh", path)]
            current[0] = en
            await tab.goto(en.url)
            await _at_desktop_width(tab, en, axe_source, copied=copy_and_run)
            await tab.set_viewport_size(PHONE)
            en.phone = await tab.evaluate(PHONE_JS)
            current[0] = zh
            en.landed = await _switch(tab, "zh")
            if tab.url != zh.url:  # the menu failed; see the page anyway
                await tab.goto(zh.url)
            zh.phone = await tab.evaluate(PHONE_JS)
            await tab.set_viewport_size(DESKTOP)
            await _at_desktop_width(tab, zh, axe_source)
            zh.landed = await _switch(tab, "en", wait_until="commit")
        await tab.wait_for_load_state()  # closing a tab in the middle of a navigation can hang
        await tab.close()

    await asyncio.gather(worker(), worker())
    await context.close()


def _run_copied(blocks: list[str]) -> subprocess.CompletedProcess:
    """Paste a chapter's copied blocks, in order, into a fresh Python (the venv's interpreter)."""
    with tempfile.TemporaryDirectory() as cwd:  # the saving chapter writes files
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        return subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks), text=True,
                              capture_output=True, cwd=cwd, env=env, timeout=300)


async def _guarded(check) -> list[str]:
    """A check's problems, or the error that stopped it, as a problem."""
    try:
        return await check
    except Exception as error:  # noqa: BLE001 - reported by the test that reads it
        return [f"stopped by {error!r}"]


@pytest.fixture(scope="module")
def crawl(site, base_url, browser, loop):
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    for lang in LANGUAGES:
        (SCREENSHOTS / lang).mkdir(parents=True)
    visits = {}
    for lang, folder in (("en", site), ("zh", site / "zh")):
        for path in built_pages(folder):
            url = base_url + ("" if lang == "en" else "zh/") + path
            visits[(lang, path)] = Visit(lang, path, url)
    runs: dict[str, concurrent.futures.Future] = {}
    axe_source = AXE.read_text(encoding="utf-8")

    async def everything():  # in separate tabs at once: much of a page load is waiting
        return await asyncio.gather(
            asyncio.wait_for(_crawl(browser, base_url, visits, runs, pool, axe_source), CRAWL_TIMEOUT),
            _search_all(browser, base_url),
            _guarded(_schemes(browser, base_url, axe_source)),
            _guarded(_menu_under_the_mouse(browser, base_url)))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # two Pythons at a time
        _, (searches, search_problems), schemes, menu = loop.run_until_complete(everything())
        yield Crawl(base_url, visits, runs, searches, search_problems, schemes, menu)


def problems_of(crawl: Crawl, attribute: str) -> list[str]:
    return [f"{v.name}: {item}" for v in crawl.visits.values() for item in getattr(v, attribute)]


# ----------------------------------------------------------------------------------------------
# Every page

def test_both_languages_have_the_same_pages(site):
    assert built_pages(site) == built_pages(site / "zh")
    assert {f"{c}/" for c in CHAPTERS} <= set(built_pages(site))


def test_every_page_declares_its_language(crawl):
    wrong = [f"{v.name}: <html lang={v.html_lang!r}>" for v in crawl.visits.values() if v.html_lang != v.lang]
    assert not wrong, "\n".join(wrong)


def test_language_menu_lands_on_the_same_page_and_back(crawl):
    wrong = []
    for (lang, path), visit in crawl.visits.items():
        other = crawl.visits.get((OTHER[lang], path))
        # A 404 page stands for every missing address: its menu leads to the other home page.
        expected = crawl.base + ("zh/" if lang == "en" else "") if path == "404.html" else other.url
        if visit.landed != expected:
            wrong.append(f"{visit.name}: choosing {OTHER[lang]} lands on {visit.landed}, not {expected}")
    assert not wrong, "\n".join(wrong)


async def _menu_under_the_mouse(browser, base: str) -> list[str]:
    """The language menu used with the mouse: on a desktop screen, then on a phone's."""
    context = await browser.new_context(viewport=DESKTOP)
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


def test_no_request_leaves_127_0_0_1(crawl):
    outside = problems_of(crawl, "outside")
    assert not outside, "\n".join(outside)


def test_no_request_fails(crawl):
    failed = problems_of(crawl, "failed")
    assert not failed, "\n".join(failed)


def test_images_have_alt_text_and_load(crawl):
    problems = problems_of(crawl, "images")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["en", "zh"])
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

def test_copy_buttons_copy_exactly_the_code_shown(crawl):
    problems = []
    for chapter in CHAPTERS:
        page, notebook = crawl.visits[("en", f"{chapter}/")], crawl.visits[("en", f"notebooks/{chapter}/")]
        snippet = ROOT / "snippets" / f"{chapter}.py"
        sections = [textwrap.dedent(s.code).rstrip("\n") for s in parse_sections(snippet)]
        copied = [c["copied"] for c in page.copies]
        for visit in (page, notebook):
            for number, copy in enumerate(visit.copies, 1):
                if copy["copied"] != (copy["shown"] or "").rstrip("\n"):
                    problems.append(f"{visit.name}: block {number} copies {copy['copied']!r}, "
                                    f"but shows {copy['shown']!r}")
        if copied != sections:
            problems.append(f"{page.name}: the copy buttons give {len(copied)} blocks that are not "
                            f"the {len(sections)} sections of {snippet.name}, in order")
        if [c["copied"] for c in notebook.copies] != copied:
            problems.append(f"{notebook.name}: its copy buttons copy other code than the chapter page's")
        for text in copied:
            if re.search(r"^(>>>|\.\.\.|\$) ", text, re.M):
                problems.append(f"{page.name}: a copied block holds a prompt: {text!r}")
    assert not problems, "\n".join(problems)


def test_copied_code_runs_in_a_fresh_python(crawl):
    assert set(crawl.runs) == set(CHAPTERS), "every chapter page has copy buttons"
    failures = []
    for chapter, future in sorted(crawl.runs.items()):
        result = future.result()
        if result.returncode != 0:
            failures.append(f"{chapter}: {result.stderr[-3000:]}")
    assert not failures, "\n\n".join(failures)


# ----------------------------------------------------------------------------------------------
# Notebooks and accessibility

def test_notebook_links_give_valid_notebooks(crawl):
    problems = problems_of(crawl, "notebooks")
    assert not problems, "\n".join(problems)


def test_no_serious_accessibility_violations(crawl):
    checked = [v for v in crawl.visits.values() if v.axe is not None]
    assert {(v.lang, v.path) for v in checked} == {(lang, f"{c}/") for lang in LANGUAGES for c in CHAPTERS}
    problems = [f"{v.name}: {item}" for v in checked for item in v.axe]
    assert not problems, "\n".join(problems)


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
    context = await browser.new_context(viewport=DESKTOP)
    tab = await context.new_page()
    visit = Visit("", "search", base)
    listen(tab, base, lambda: visit)
    found: dict[tuple[str, str], list[str] | str] = {}
    for lang in LANGUAGES:
        for term in SEARCHES[lang]:
            try:
                found[(lang, term)] = await _search(tab, base + ("zh/" if lang == "zh" else ""), term)
            except Exception as error:  # noqa: BLE001 - reported by the test of this term
                found[(lang, term)] = f"no results: {error!r}"
    await context.close()
    return found, [f"while searching: {item}" for item in visit.errors + visit.outside + visit.failed]


@pytest.mark.parametrize("lang,term", [(lang, term) for lang in LANGUAGES for term in SEARCHES[lang]])
def test_search_finds_the_right_pages(crawl, lang, term):
    found = crawl.searches[(lang, term)]
    assert isinstance(found, list), f"{term!r}: {found}"
    root = "/" if lang == "en" else "/zh/"
    missing = [page for page in SEARCHES[lang][term] if f"{root}{page}/" not in found[:3]]
    assert not missing, f"{term!r} finds {found[:6]}, not {missing} among the first three"
    assert all(path.startswith(root) and (lang == "zh" or not path.startswith("/zh/")) for path in found), \
        f"{term!r} finds pages of the other language: {found}"
    assert not crawl.search_problems, "\n".join(crawl.search_problems)


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


# Every colour of Material's code highlighting, against the code background (WCAG AA, 4.5:1).
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


async def _schemes(browser, base: str, axe_source: str) -> list[str]:
    problems = []
    contrast = "async () => (await axe.run(document, {runOnly: ['color-contrast']})).violations" \
               ".flatMap(v => v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary))"
    context = await browser.new_context(viewport=DESKTOP, color_scheme="light")
    tab = await context.new_page()
    visit = Visit("", "schemes", base)
    listen(tab, base, lambda: visit)
    pages = [f"{base}{CHAPTERS[0]}/", f"{base}zh/notebooks/{CHAPTERS[0]}/"]
    for dark in (False, True):
        for url in pages:
            await tab.goto(url)
            if dark and url == pages[0]:  # the reader's choice, by the header's toggle
                await tab.click("form[data-md-component=palette] label:visible")
                await tab.reload()  # and it is remembered
            where = f"{url} ({'dark' if dark else 'light'})"
            problems += _check_scheme(await tab.evaluate(SCHEME_JS), dark, where)
            if url == pages[0]:
                problems += [f"{where}: code colour {item}" for item in await tab.evaluate(CODE_COLORS_JS)]
            name = urlsplit(url).path.strip("/").replace("/", "-")
            await tab.screenshot(path=SCREENSHOTS / f"{name}-{'dark' if dark else 'light'}.png")
            await tab.evaluate(axe_source)
            problems += [f"{url} ({'dark' if dark else 'light'}): contrast {item}"
                         for item in await tab.evaluate(contrast)]
    await context.close()
    # A reader whose system is dark gets the dark scheme without choosing it.
    context = await browser.new_context(viewport=DESKTOP, color_scheme="dark")
    tab = await context.new_page()
    await tab.goto(f"{base}zh/{CHAPTERS[-1]}/")
    problems += _check_scheme(await tab.evaluate(SCHEME_JS), True, f"{base}zh/{CHAPTERS[-1]}/ (system dark)")
    await context.close()
    return problems + visit.errors + visit.outside + visit.failed


def test_light_and_dark_schemes_both_work(crawl):
    assert not crawl.schemes, "\n".join(crawl.schemes)
