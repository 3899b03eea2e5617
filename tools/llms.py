"""`llms.txt` and `llms-full.txt` at the root of each language's site (https://llmstxt.org/),
so that a reader's assistant can read the site: the first lists every page of the navigation
with a link and its summary (the page's first paragraph), the second holds every page's full
text as the site shows it (code with that language's comments, and its outputs).
"""

from __future__ import annotations

import re
from pathlib import Path

HEADINGS = {"en": ("Chapters", "Reference"), "zh": ("章节", "参考")}


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def summary(markdown: str) -> str:
    """The first paragraph after the page's title, on one line (Chinese lines joined without a
    space, as the page renders them)."""
    body = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.split("# ", 1)[-1].split("\n", 1)[-1])]
    text = next((p for p in paragraphs if p and not p.startswith(("#", "!!!", "```", "|", "<", "{"))), "")
    joined = ""
    for line in text.split("\n"):
        line = line.strip()
        cjk_join = joined and CJK.match(joined[-1]) and line and CJK.match(line[0])
        joined += line if not joined or cjk_join else " " + line
    return joined


def write(config, pages: dict[str, tuple[str, str, str]], chapters: set[str]) -> list[Path]:
    """`pages`: src_uri -> (title, summary, full text), in navigation order; `chapters`: the
    src_uris of chapter pages, listed first."""
    lang, site_url = config.theme["language"], config.site_url or ""
    listed = {True: [], False: []}
    for uri, (title, text, _) in pages.items():
        url = site_url + ("" if uri == "index.md" else uri.removesuffix(".md") + "/")
        text = re.sub(r"\]\((?!https?:)([^)#]+)\.md(#[^)]*)?\)", lambda m: f"]({site_url}{m[1]}/{m[2] or ''})", text)
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
