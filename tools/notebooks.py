"""Turn an expanded chapter page into a Jupyter notebook.

Python fences become code cells, output fences are dropped (the kernel prints them again),
and the prose becomes Markdown cells, with Material-only syntax made plain for Jupyter.
A notebook stands on its own: images become cell attachments, and links to other pages
point at `link_base` (the site's root for that language, as seen from where the notebook is).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import nbformat

from tools.pages import HEADING, fences

ADMONITION = re.compile(r"^(?:!!!|\?\?\?\+?)\s+\w+(?:\s+\"(?P<title>[^\"]*)\")?\s*$")
LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s#:]*\.(?:md|png|svg|jpg)|)(?P<anchor>#[^)\s]*)?\)"
)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def page_to_notebook(expanded: str, lang: str, page: Path, link_base: str) -> nbformat.NotebookNode:
    """`page`: the page's file (its images are beside it); `link_base`: what links are made relative to."""
    expanded = FRONT_MATTER.sub("", expanded)
    lines = expanded.splitlines()
    cells, prose_start = [], 0
    for fence in fences(expanded):
        if fence.indent:  # inside a tab or an admonition: part of the prose around it
            continue
        _add_prose(cells, lines[prose_start : fence.line - 1])
        prose_start = fence.end_line
        if fence.language == "python" and not fence.is_output:
            cells.append(nbformat.v4.new_code_cell("\n".join(fence.body).strip("\n")))
        elif not fence.is_output:
            _add_prose(cells, lines[fence.line - 1 : fence.end_line])
    _add_prose(cells, lines[prose_start:])
    for cell in cells:
        if cell.cell_type == "markdown":
            _self_contained(cell, page, link_base)
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # not random: the same page gives the same bytes, and a cache hit
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["language"] = lang
    return notebook


def _self_contained(cell, page: Path, link_base: str) -> None:
    def replace(match):
        target, anchor = match["target"] or page.name, match["anchor"] or ""  # `(#id)`: this page
        if match["image"]:
            name = Path(target).name
            data = base64.b64encode((page.parent / target).read_bytes()).decode("ascii")
            cell.setdefault("attachments", {})[name] = {"image/png": data}
            return f"![{match['text']}](attachment:{name})"
        url = "" if target == "index.md" else target.removesuffix(".md") + "/"
        return f"[{match['text']}]({link_base}{url}{anchor})"

    cell.source = LINK.sub(replace, cell.source)


def _add_prose(cells: list, lines: list[str]) -> None:
    text = "\n".join(_plain(lines)).strip("\n")
    if text:
        cells.append(nbformat.v4.new_markdown_cell(text))


def _plain(lines: list[str]) -> list[str]:
    """Material's admonitions become block quotes; headings with an explicit id become HTML
    headings that keep it (the title stays Markdown, for mkdocs-jupyter to find it)."""
    out, in_admonition = [], False
    for line in lines:
        heading = HEADING.match(line)
        heading = heading if heading and heading["id"] else None  # only `## Title { #id }`
        admonition = ADMONITION.match(line)
        if heading and len(heading[1]) == 1:
            out.append(f"# {heading['text']}")
        elif heading:  # Jupyter has no `{ #id }`: an HTML heading keeps the id that links use
            level, text = len(heading[1]), html.escape(heading["text"], quote=False)
            text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
            out.append(f'<h{level} id="{heading["id"]}">{text}</h{level}>')
        elif admonition:
            in_admonition = True
            out.append(f"> **{admonition['title']}**" if admonition["title"] else ">")
        elif in_admonition and (line.startswith("    ") or not line.strip()):
            out.append("> " + line[4:] if line.strip() else ">")
        else:
            in_admonition = False
            out.append(line)
    return out
