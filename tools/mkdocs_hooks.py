"""MkDocs hooks: check each page's includes, show each language its own code comments, turn
every chapter into an executed notebook, and fill in the generated parts of pages: which runs
printed a chapter's outputs, CPU/CUDA output tabs and the test report (tools/report.py), the
glossary table (tools/glossary.py), the common mistakes (tools/mistakes.py) and the notice on a
stale translation. The head's language links get each language's address, and Material's script
is served changed so that it fetches no sitemap for them (tools/language_links.py).

For each chapter page (a page with a snippet file of its name) this writes
`.cache/notebooks/<lang>/notebooks/<name>.ipynb`, which mkdocs-jupyter renders, and a copy
under `downloads/` that readers download; a line under the page's title links to both, and
where the site has a repository on github.com, to that notebook in Colab (published by
tools/publish_notebooks.py).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import sys
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.structure.toc import get_toc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # MkDocs loads hooks by path

from tools.comments import translated_root  # noqa: E402
from tools.glossary import table as glossary_table  # noqa: E402
from tools.language_links import BUNDLE, roots, without_sitemap_fetch  # noqa: E402
from tools.llms import summary  # noqa: E402
from tools.llms import write as write_llms_txt  # noqa: E402
from tools.mistakes import tables as mistakes_tables  # noqa: E402
from tools.notebooks import NotebookError, chapter_notebooks, execute  # noqa: E402
from tools.pages import PageError, check_includes, expand, heading_ids, join_chinese_lines, pages, rel, snippet_for  # noqa: E402
from tools.project import (  # noqa: E402
    CACHE,
    LANGUAGES,
    RENDERS,
    SEARCH_INDEX,
    SITE,
    SOURCE,
    colab_url,
    docs_dir,
    repo_url,
    site_dir,
    site_url,
    under,
)
from tools.report import device_tabs, report_tables, run_line  # noqa: E402
from tools.snippets import SnippetError  # noqa: E402
from tools.translations import fingerprint, recorded  # noqa: E402

REPORT_MARKER = "<!-- test-report -->"
GLOSSARY_MARKER = "<!-- glossary -->"
MISTAKES_MARKER = "<!-- mistakes -->"
STALE_NOTICE = (
    '!!! warning "译文可能已过时"\n'
    '    本页的英文原文在翻译之后有过修改，下面的译文可能与之不一致。'
    '请以<a href="{href}" hreflang="en" lang="en">英文原文</a>为准。\n\n'
)
NOTEBOOK_LINE = {
    "en": "Run this chapter yourself: [open it as a notebook](notebooks/{name}.ipynb) "
    "or [download {name}.ipynb](downloads/{name}.ipynb).",
    "zh": "想自己运行本章？可以[以 Notebook 形式查看](notebooks/{name}.ipynb)，"
    "或[下载 {name}.ipynb](downloads/{name}.ipynb)。",
}
# With a repository on github.com (tools/project.colab_url), the executed notebook in Colab too
NOTEBOOK_LINE_COLAB = {
    "en": "Run this chapter yourself: [open it as a notebook](notebooks/{name}.ipynb), "
    "[download {name}.ipynb](downloads/{name}.ipynb) or [open it in Colab]({colab}).",
    "zh": "想自己运行本章？可以[以 Notebook 形式查看](notebooks/{name}.ipynb)、"
    "[下载 {name}.ipynb](downloads/{name}.ipynb)，或[在 Colab 中打开]({colab})。",
}

logging.getLogger("jieba").setLevel(logging.WARNING)  # its start-up lines say nothing to a reader
_texts: dict[str, tuple[str, str, str]] = {}  # page -> (title, summary, text as shown), for llms.txt


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


@event_priority(100)  # before the plugins, which read the addresses (print-site makes its page here)
def on_config(config):
    """A translated language reads the snippets with its own comments (tools/comments.py), and
    is built into its own folder of the site. mkdocs-jupyter keeps the pages it renders from the
    notebooks in a cache per language (it evicts what one build did not use): its key is the
    notebook's bytes, which hold the outputs, so new outputs render anew."""
    root, lang = _root(config), config.theme["language"]
    config.site_url, config.repo_url = site_url(lang), repo_url()
    config.extra["language_roots"] = roots()  # for the head's language links (overrides/main.html)
    config.repo_name = config.repo_url.rstrip("/").split("/", 3)[-1] if config.repo_url else None
    if not config.repo_url:
        config.edit_uri = None  # no repository: no "Edit this page"
    search = config.plugins["material/search"].config if "material/search" in config.plugins else {}
    if search.get("jieba_dict_user"):  # Material reads it from the working directory: this project's own
        search["jieba_dict_user"] = str(root / search["jieba_dict_user"])
    if "mkdocs-jupyter" in config.plugins:
        config.plugins["mkdocs-jupyter"].config["cache_dir"] = str(under(root, RENDERS) / lang)
    if lang != SOURCE:
        try:
            translated = translated_root(lang, root)
        except SnippetError as error:
            raise PluginError(str(error)) from None
        config.mdx_configs["pymdownx.snippets"]["base_path"].insert(0, str(translated))
        if Path(config.site_dir) == site_dir(SOURCE, under(root, SITE)):  # inherited from mkdocs.yml
            config.site_dir = str(site_dir(lang, under(root, SITE)))
    return config


@event_priority(100)  # before mkdocs-jupyter, so that it takes the notebooks made here
def on_files(files, config):
    root, lang = _root(config), config.theme["language"]
    _without_sitemap_fetch(files)
    out_dir = under(root, CACHE) / "notebooks" / lang
    for page in pages(lang, root):
        try:
            check_includes(page, root)
        except PageError as error:
            raise PluginError(str(error)) from None
    notebooks = {}
    # The rendered notebook sits at notebooks/<name>/; a download is read anywhere.
    try:
        for folder, link_base in (("notebooks", "../../"), ("downloads", config.site_url or "../")):
            made = chapter_notebooks(lang, root, link_base)
            notebooks.update({(folder, page): notebook for page, notebook in made.items()})
        ran = execute({f"{rel(page, root)} ({folder})": nb for (folder, page), nb in notebooks.items()}, root)
    except NotebookError as error:
        raise PluginError(str(error)) from None
    if ran:  # a stage of its own, the slow one: a newcomer should see why the build waits
        chapters = sorted({name.split(" ")[0] for name in ran})
        print(f"  ran the notebook of {', '.join(chapters)} in Jupyter kernels")
    for (folder, page), notebook in notebooks.items():
        path = out_dir / folder / f"{page.stem}.ipynb"
        text = nbformat.v4.writes(notebook)  # as nbformat.writes, without validating: the tests do
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        files.append(File(f"{folder}/{page.stem}.ipynb", str(out_dir), config.site_dir, config.use_directory_urls))
    return files


def _without_sitemap_fetch(files) -> None:
    """The site serves Material's script changed to fetch no sitemap next to the head's language
    links (tools/language_links.py)."""
    bundles = [file for file in files if fnmatch.fnmatchcase(file.src_uri, BUNDLE.format("*"))]
    if len(bundles) != 1:
        raise PluginError(f"expected one file {BUNDLE.format('*')} in Material's theme, found "
                          f"{[file.src_uri for file in bundles]}")
    try:
        bundles[0].content_string = without_sitemap_fetch(bundles[0].content_string, bundles[0].src_uri)
    except ValueError as error:
        raise PluginError(str(error)) from None


def on_page_markdown(markdown, page, config, files):
    """Output tabs per device, the test report's tables, the glossary, and under a chapter's
    title the runs that printed its outputs and the links to its notebook. The page's text, as
    shown, is kept for llms-full.txt."""
    markdown = join_chinese_lines(_generated_parts(markdown, page, config, files))
    root, lang = _root(config), config.theme["language"]
    if page.file.src_uri.endswith(".md"):
        source = Path(page.file.abs_src_path).read_text(encoding="utf-8")
        _texts[page.file.src_uri] = (page.title, summary(source), expand(markdown, root, lang).strip())
    return markdown


@event_priority(-100)  # after the plugins: the search plugin writes its index, print-site its page
def on_post_build(config):
    """llms.txt and llms-full.txt, pages in the order of the navigation (tools/llms.py); the
    printable edition, which mkdocs-print-site writes just before: it opens every folded block
    (exercises' solutions), since paper cannot unfold them, and its links to the notebooks (left
    out of it) go to the notebooks' pages; and the search index as UTF-8 text."""
    _search_index_as_utf8(Path(config.site_dir) / SEARCH_INDEX)
    printable = Path(config.site_dir) / "print_page" / "index.html"
    if printable.exists():
        html = re.sub(r'href="#notebooks-([\w-]+)"', r'href="../notebooks/\1/"', printable.read_text(encoding="utf-8"))
        html = re.sub(r"<details(?![^>]*\bopen\b)", "<details open", html.replace('href="#print_page"', 'href="./"'))
        printable.write_text(html, encoding="utf-8")
    order = [next(iter(entry.values())) for entry in config.nav if isinstance(entry, dict)]
    texts = {uri: _texts[uri] for uri in order if uri in _texts}
    chapters = {uri for uri in texts if snippet_for(Path(config.docs_dir) / uri).exists()}
    write_llms_txt(config, texts, chapters)
    if config.theme["language"] == SOURCE:  # the site's root: where crawlers look for robots.txt
        sitemaps = "".join(f"Sitemap: {site_url(lang)}sitemap.xml\n" for lang in LANGUAGES)
        (Path(config.site_dir) / "robots.txt").write_text(f"User-agent: *\nAllow: /\n\n{sitemaps}", encoding="utf-8")


def _search_index_as_utf8(path: Path) -> None:
    """Material writes the index with Python's json.dumps, which escapes every character beyond
    ASCII: a Chinese character, and each zero-width space it puts between the words jieba finds,
    take six bytes (\\u53c2) instead of three, half the Chinese index. The same data as UTF-8,
    JSON's own encoding, which the browser's search reads as it reads the escapes."""
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _generated_parts(markdown, page, config, files):
    root, lang = _root(config), config.theme["language"]
    markdown = device_tabs(markdown, root, lang)
    if REPORT_MARKER in markdown:
        markdown = markdown.replace(REPORT_MARKER, report_tables(root, lang))
    if GLOSSARY_MARKER in markdown:
        markdown = markdown.replace(GLOSSARY_MARKER, glossary_table(lang, root))
    if MISTAKES_MARKER in markdown:
        markdown = markdown.replace(MISTAKES_MARKER, mistakes_tables(lang, root))
    if lang != SOURCE:
        markdown = _stale_translation_notice(markdown, page, root) + markdown
    name = Path(page.file.src_uri).stem
    if page.file.src_uri.endswith(".md") and files.get_file_from_path(f"notebooks/{name}.ipynb"):
        title_end = markdown.find("\n", markdown.find("# ")) + 1
        runs = run_line(snippet_for(Path(page.file.abs_src_path)), root, lang)
        line = notebook_line(lang, name)
        return (f"{markdown[:title_end]}\n{runs}\n{{ .run-line }}\n\n{line}\n{{ .notebook-links }}\n"
                f"{markdown[title_end:]}")
    return markdown


def notebook_line(lang: str, name: str) -> str:
    """The line under a chapter's title that links its notebook: to read, to download, and where
    the site has a repository on github.com, to open in Colab (the notebook published there)."""
    colab = colab_url(lang, name)
    return NOTEBOOK_LINE_COLAB[lang].format(name=name, colab=colab) if colab else NOTEBOOK_LINE[lang].format(name=name)


def _stale_translation_notice(markdown, page, root: Path) -> str:
    """A notice on a translated page whose English page changed after it was translated."""
    english = docs_dir(SOURCE, root) / page.file.src_uri
    translated = Path(page.file.abs_src_path or "")
    if not english.exists() or not translated.is_file() or recorded(translated) == fingerprint(english):
        return ""
    href = "../" * (page.url.count("/") + 1) + page.url  # from /zh/<page>/ to /<page>/
    return STALE_NOTICE.format(href=href)


def on_page_content(html, page, config, files):
    """A notebook page edits its chapter page, and its table of contents links the ids its
    headings really have.

    mkdocs-jupyter computes the contents with another slugify than the one that gives the
    rendered headings their ids (code in a heading, Chinese headings), so its links miss.
    """
    if page.file.src_uri.startswith("notebooks/"):
        chapter = Path(page.file.src_uri).stem + ".md"
        if page.edit_url:  # the notebook is made from the chapter page: edit that
            page.edit_url = page.edit_url.replace(page.file.src_uri, chapter)
        # nbconvert gives a Chinese title an empty id (and its ¶ link "#"): use the chapter's
        title_id = heading_ids(Path(config.docs_dir) / chapter)[0]
        html = re.sub(r'<h1 id="">(.*?)<a class="anchor-link" href="#">',
                      rf'<h1 id="{title_id}">\1<a class="anchor-link" href="#{title_id}">', html, count=1, flags=re.S)
        tokens: list[dict] = []
        for match in re.finditer(r'<h([2-4]) id="([^"]+)"[^>]*>(.*?)</h\1>', html, re.S):
            level, name = int(match[1]), re.sub(r"<[^>]+>|¶", "", match[3]).strip()
            siblings = tokens
            while siblings and siblings[-1]["level"] < level:
                siblings = siblings[-1]["children"]
            siblings.append({"level": level, "id": match[2], "name": name, "children": []})
        page.toc = get_toc(tokens)
    return html


@event_priority(100)  # before the search plugin indexes the page
def on_page_context(context, page, config, nav):
    """Notebook pages stay out of search: each repeats its chapter page, which readers should
    find, and mkdocs-jupyter's headings give garbled result titles (¶, stray <mark> tags)."""
    if page.file.src_uri.endswith(".ipynb"):
        page.meta["search"] = {"exclude": True}
    return context


def on_post_page(output, page, config):
    """Notebook pages: drop what mkdocs-jupyter inlines that they do not use (~590 KB of
    JupyterLab CSS, the Mermaid loader, an empty require.js tag), and link
    overrides/assets/stylesheets/notebook.css, which styles them in both schemes instead.
    Code blocks get Material's highlighting, and code and outputs, as scrollable regions, a tab
    stop."""
    if not page.file.src_uri.endswith(".ipynb"):
        return output
    from mkdocs.utils import get_relative_url

    def jupyter_only(match: re.Match) -> str:
        css = match[1]
        unused = (".jupyter-wrapper" in css or ".highlight-ipynb" in css or ".jp-Mermaid" in css
                  or css.lstrip().startswith("['"))  # mkdocs-jupyter prints a Python list here
        return "" if unused else match[0]

    output = re.sub(r"<style[^>]*>(.*?)</style>", jupyter_only, output, flags=re.S)
    if 'class="jp-Mermaid' not in output:
        output = re.sub(r'<script type="module">(?:(?!</script>).)*?mermaid.*?</script>', "", output, flags=re.S)
    output = output.replace('<script src=""></script>', "")
    output = re.sub(r'<div class="highlight-ipynb (hl-[\w-]+)"><pre>',
                    r'<div class="highlight highlight-ipynb \1"><pre tabindex="0">', output)
    output = re.sub(r'(<div class="jp-RenderedText[^"]*"[^>]*>\s*)<pre>', r'\1<pre tabindex="0">', output)
    href = get_relative_url("assets/stylesheets/notebook.css", page.url)
    return output.replace("</head>", f'  <link rel="stylesheet" href="{href}">\n  </head>', 1)

