"""`llms.txt` and `llms-full.txt` at the root of each language's site (https://llmstxt.org/),
so that a reader's assistant can read the site: the first lists every page of the navigation
with a link and its summary (the page's first paragraph), the second holds every page's full
text as the site shows it (code with that language's comments, and its outputs).
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.pages import FRONT_MATTER, join_chinese_lines

HEADINGS = {"en": ("Chapters", "Reference"), "zh": ("章节", "参考")}


def summary(markdown: str) -> str:
    """The first paragraph after the page's title, on one line (Chinese lines joined without a
    space, as the page renders them)."""
    body = FRONT_MATTER.sub("", markdown)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.split("# ", 1)[-1].split("\n", 1)[-1])]
    text = next((p for p in paragraphs if p and not p.startswith(("#", "!!!", "```", "|", "<", "{"))), "")
    return " ".join(line.strip() for line in join_chinese_lines(text).split("\n"))


def page_url(uri: str, site_url: str) -> str:
    """A page's address on the site, from its source path (index.md is its folder's address)."""
    folder, _, name = uri.removesuffix(".md").rpartition("/")
    return site_url + (f"{folder}/" if folder else "") + ("" if name == "index" else f"{name}/")


def write(config, pages: dict[str, tuple[str, str, str]], chapters: set[str]) -> list[Path]:
    """`pages`: src_uri -> (title, summary, full text), in navigation order; `chapters`: the
    src_uris of chapter pages, listed first."""
    lang, site_url = config.theme["language"], config.site_url or ""
    listed = {True: [], False: []}
    for uri, (title, text, _) in pages.items():
        url = page_url(uri, site_url)
        text = re.sub(r"\]\((?!https?:)([^)#]+\.md)(#[^)]*)?\)", lambda m: f"]({page_url(m[1], site_url)}{m[2] or ''})",
                      text)
        listed[uri in chapters].append(f"- [{title}]({url}): {text}")
    index = [f"# {config.site_name}", "", f"> {config.site_description}", ""]
    for heading, items in zip(HEADINGS[lang], (listed[True], listed[False])):
        index += [f"## {heading}", "", *items, ""]
    full = "\n\n".join(text for _, _, text in pages.values())
    written = []
    for name, content in (("llms.txt", "\n".join(index)), ("llms-full.txt", full + "\n")):
        path = Path(config.site_dir) / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
