"""Each chapter as a Jupyter notebook: made from the expanded page, executed once for all languages.

Python fences become code cells, output fences are dropped (the kernel prints them again),
and the prose becomes Markdown cells, with Material-only syntax made plain for Jupyter. An
exercise's folded solution (`??? success "Solution"`) opens into its prose and code cells,
after an empty code cell where the reader tries first. A notebook stands on its own: images
become cell attachments, links to other pages point at `link_base`, and its code opens with
a note on which torch printed the outputs and the install of what a reader's Python lacks
(tools/notebook_setup.py), for Colab say.

The languages' notebooks of a chapter differ only in prose and comments, so their code runs
once: in a Jupyter kernel, keyed by the code without comments, the torch release and the
device. The outputs are kept in .cache/notebooks/executed/ and copied into every language's
notebook; a change to the code, a torch upgrade or another device runs it again.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import html
import json
import os
import platform
import re
import tempfile
import threading
from pathlib import Path

import nbformat

from tools.comments import code_tokens
from tools.notebook_setup import ABOUT_ID, INSTALL_ID, setup_sources
from tools.pages import (
    FRONT_MATTER,
    HEADING,
    LINK,
    SOLUTION,
    chapters,
    expand,
    fences,
    join_chinese_lines,
    rel,
)
from tools.project import CACHE, ROOT, pins, under

ADMONITION = re.compile(r"^(?:!!!|\?\?\?\+?)\s+\w+(?:\s+\"(?P<title>[^\"]*)\")?\s*$")
OPENED = "\x00solution:"  # stands for an opened solution's title until the prose is cut into cells
TRY_IT = {
    "en": "# Your turn: write and run your answer here, then compare it with the solution below.",
    "zh": "# 动手试一试：先在这里写出并运行你的答案，再对照下面的参考答案。",
}
RUN_FORMAT = 2  # how a run is stored (2: each stream's pieces joined); a new format runs anew
PARALLEL_KERNELS = os.cpu_count() or 2  # one per core; each runs torch on one thread


def page_to_notebook(expanded: str, lang: str, page: Path, link_base: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """`page`: the page's file (its images are beside it) in the project at `root`; `link_base`:
    what links are made relative to."""
    expanded = _open_solutions(FRONT_MATTER.sub("", expanded))
    lines = expanded.splitlines()
    cells, prose_start = [], 0
    for fence in fences(expanded):
        if fence.indent:  # inside a tab or an admonition: part of the prose around it
            continue
        _add_prose(cells, lines[prose_start : fence.line - 1], lang)
        prose_start = fence.end_line
        if fence.language == "python" and not fence.is_output:
            cells.append(_cell("code", "\n".join(fence.body).strip("\n")))
        elif not fence.is_output:
            _add_prose(cells, lines[fence.line - 1 : fence.end_line], lang)
    _add_prose(cells, lines[prose_start:], lang)
    for cell in cells:
        if cell.cell_type == "markdown":
            _self_contained(cell, page, link_base)
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # not random: the same page gives the same bytes
    _add_setup(cells, lang, page, root)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["language"] = lang
    return notebook


def _add_setup(cells: list, lang: str, page: Path, root: Path) -> None:
    """Before the first code cell: which torch printed the outputs, and the install of what the
    code imports and a reader's Python lacks (tools/notebook_setup.py)."""
    code = [cell.source for cell in cells if cell.cell_type == "code"]
    try:
        about, install = setup_sources(code, lang, pins(root), printed_by())
    except ValueError as error:
        raise NotebookError(f"{rel(page, root)}: {error}") from None
    first_code = next((n for n, cell in enumerate(cells) if cell.cell_type == "code"), len(cells))
    cells[first_code:first_code] = [_cell("markdown", about), _cell("code", install)]
    cells[first_code].id, cells[first_code + 1].id = ABOUT_ID, INSTALL_ID


def printed_by() -> dict[str, str]:
    """The torch, device and Python that run the notebooks here: what their outputs depend on
    besides the code (code_key), and what each notebook says printed them."""
    import torch

    from tools.snippets import current_device

    return {"torch": torch.__version__, "device": current_device(), "python": platform.python_version()}


def _cell(kind: str, source: str) -> nbformat.NotebookNode:
    """A cell, as nbformat.v4.new_*_cell makes it, without validating each one: tests/test_site.py
    validates every notebook the build writes."""
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return nbformat.from_dict(cell)


def _open_solutions(text: str) -> str:
    """Each folded solution at the top level: its first line becomes a marker with its title,
    and its body loses the indentation, so that its code fences become code cells."""
    out, inside = [], False
    for line in text.splitlines():
        match = SOLUTION.match(line)
        if match:
            out.append(OPENED + (match["title"] or ""))
            inside = True
        elif inside and (line.startswith("    ") or not line.strip()):
            out.append(line[4:])
        else:
            inside = False
            out.append(line)
    return "\n".join(out) + "\n"


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


def _add_prose(cells: list, lines: list[str], lang: str) -> None:
    """Markdown cells; where a solution was opened, first an empty code cell to try in."""
    chunk: list[str] = []
    for line in [*lines, None]:
        if line is None or line.startswith(OPENED):
            text = join_chinese_lines("\n".join(_plain(chunk))).strip("\n")
            if text:
                cells.append(_cell("markdown", text))
            chunk = []
        if line is not None and line.startswith(OPENED):
            cells.append(_cell("code", TRY_IT[lang]))
            chunk = [f"**{line.removeprefix(OPENED)}**", ""]
        elif line is not None:
            chunk.append(line)


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


# ----------------------------------------------------------------------------------------------
# Running the code once

class NotebookError(Exception):
    """A chapter's notebook whose code failed in the kernel; the message names the page and cell."""


def code_key(notebook: nbformat.NotebookNode) -> str:
    """What the outputs depend on: the code without its comments, the torch release, the device,
    the other pinned packages (the layers chapter prints a torchinfo summary) and Python's release."""
    code = [code_tokens(cell.source + "\n") for cell in notebook.cells if cell.cell_type == "code"]
    packages = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    run = printed_by()
    material = json.dumps([RUN_FORMAT, run["torch"], run["device"], packages, run["python"], code], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def executed_dir(root: Path = ROOT) -> Path:
    return under(root, CACHE) / "notebooks" / "executed"


def chapter_notebooks(lang: str, root: Path, link_base: str) -> dict[Path, nbformat.NotebookNode]:
    """Each chapter page of a language as a notebook whose links point at `link_base`."""
    notebooks = {}
    for page in chapters(lang, root):
        text = expand(page.read_text(encoding="utf-8"), root, lang)
        notebooks[page] = page_to_notebook(text, lang, page, link_base, root)
    return notebooks


# Runs started by run_ahead(), each in a thread with its own event loop: the build starts them
# before it runs the snippets, and the hooks' execute() waits for them instead of running that
# code again; a build that stops first stops them (stop_ahead).
_AHEAD: list[tuple[asyncio.AbstractEventLoop, asyncio.Task, threading.Thread]] = []


def run_ahead(notebooks: dict[str, nbformat.NotebookNode], root: Path = ROOT) -> list[str]:
    """Start running in the background the notebooks ({page: notebook}) whose code has not run;
    returns their pages. `wait_ahead` waits for them."""
    return _start(notebooks, {page: code_key(notebook) for page, notebook in notebooks.items()}, root)


def _start(notebooks: dict[str, nbformat.NotebookNode], keys: dict[str, str], root: Path) -> list[str]:
    """`run_ahead`, given each notebook's key ({page: key})."""
    missing = {}
    for page, key in keys.items():
        if not (executed_dir(root) / f"{key}.json").exists():
            missing.setdefault(key, page)
    if missing:
        loop = asyncio.new_event_loop()
        task = loop.create_task(_run_all({key: notebooks[page] for key, page in missing.items()}, missing, root))
        thread = threading.Thread(target=_drive, args=(loop, task), name="notebooks")
        thread.start()
        _AHEAD.append((loop, task, thread))
    return sorted(missing.values())


def _drive(loop: asyncio.AbstractEventLoop, task: asyncio.Task) -> None:
    """Run the task, then end what it left running (as asyncio.run does), and close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(task)
    except BaseException:  # noqa: BLE001 - the task keeps its outcome: wait_ahead raises it
        pass
    left = asyncio.all_tasks(loop)
    for leftover in left:
        leftover.cancel()
    loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def wait_ahead() -> None:
    """Wait for every run that `run_ahead` started; then raise the first error of one that
    failed (a NotebookError names its chapter)."""
    for _, _, thread in _AHEAD:
        thread.join()
    runs = _AHEAD[:]
    _AHEAD.clear()
    for _, task, _ in runs:
        if not task.cancelled() and task.exception():
            raise task.exception()


def stop_ahead() -> None:
    """Stop the runs that `run_ahead` started (their kernels are shut down), and wait for them."""
    for loop, task, _ in _AHEAD:
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # its loop is closed: the run is over
            pass
    try:
        wait_ahead()
    except Exception:  # noqa: BLE001 - what stopped the build is the error to report
        pass


def execute(notebooks: dict[str, nbformat.NotebookNode], root: Path = ROOT) -> list[str]:
    """Give every code cell of the notebooks ({page: notebook}) its outputs, running in a kernel
    only the code not run before (nor running now); returns the pages whose code ran here."""
    wait_ahead()
    keys = {page: code_key(notebook) for page, notebook in notebooks.items()}
    ran = _start(notebooks, keys, root)
    wait_ahead()
    for page, notebook in notebooks.items():
        outputs = json.loads((executed_dir(root) / f"{keys[page]}.json").read_text(encoding="utf-8"))
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        for cell, (count, cell_outputs) in zip(code_cells, outputs, strict=True):
            cell.execution_count = count
            cell.outputs = [nbformat.from_dict(output) for output in cell_outputs]
    return ran


def _joined(outputs: list) -> list:
    """Outputs with consecutive pieces of one stream joined: the kernel may send one print in two
    messages, depending on timing, and a notebook should not depend on that."""
    joined: list = []
    for output in outputs:
        last = joined[-1] if joined else None
        if last and output["output_type"] == last["output_type"] == "stream" and output["name"] == last["name"]:
            last["text"] += output["text"]
        else:
            joined.append(output)
    return joined


async def _run_all(by_key: dict[str, nbformat.NotebookNode], page_of: dict[str, str], root: Path) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    limit = asyncio.Semaphore(PARALLEL_KERNELS)

    async def run(key: str, notebook: nbformat.NotebookNode) -> None:
        notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))  # a copy: run it, keep the outputs
        async with limit:
            with tempfile.TemporaryDirectory() as cwd:  # what the code writes stays out of the project
                # Unix sockets in that folder, not ports open on TCP (and no warning about them)
                local = Config({"KernelManager": {"transport": "ipc", "ip": f"{cwd}/kernel"}})
                client = NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=False,
                                        resources={"metadata": {"path": cwd}}, config=local)
                manager = client.km = client.create_kernel_manager()  # see `finally` below
                try:
                    # one thread each: the kernels share the cores, and torch's idle threads spin;
                    # the kernel's own stderr goes to a file, read when the kernel fails
                    with open(f"{cwd}/kernel.log", "w", encoding="utf-8") as log:
                        await client.async_execute(env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=log)
                except CellExecutionError as error:
                    raise NotebookError(f"{page_of[key]}: its notebook failed in the kernel:\n{error}") from None
                except Exception as error:  # noqa: BLE001 - a kernel that did not start, say
                    said = Path(f"{cwd}/kernel.log").read_text(encoding="utf-8").strip()[-3000:]
                    raise NotebookError(f"{page_of[key]}: its notebook could not run: {error!r}"
                                        + (f"\nThe kernel said:\n{said}" if said else "")) from None
                finally:  # nbclient shuts the kernel down, unless stopped (stop_ahead) while it starts
                    if manager.has_kernel:
                        await manager.shutdown_kernel(now=True)
                    # nbclient's exit hook for this kernel, left registered when a run was stopped:
                    # at exit it would fail ("assert self.km is not None") with a traceback
                    atexit.unregister(client._cleanup_kernel)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        target = executed_dir(root) / f"{key}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        runs = [[cell.execution_count, _joined(cell.outputs)] for cell in code_cells]
        partial = target.with_suffix(".partial")  # a run stopped while writing leaves no broken file
        partial.write_text(json.dumps(runs), encoding="utf-8")
        partial.replace(target)

    try:  # a task group: when one run fails or all are stopped, it waits for each kernel to shut down
        async with asyncio.TaskGroup() as group:
            for key, notebook in by_key.items():
                group.create_task(run(key, notebook))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
