"""Each chapter's notebook runs once for all languages, and again whenever what its outputs depend
on changes: its code (not its comments), the torch release, the device, the pinned packages,
Python's release, and the way a run is stored. Its code opens with the install of what a
reader's Python lacks (Colab's, say)."""

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from pymdownx.snippets import SnippetMissingError

import tools.notebooks
import tools.snippets
from tools.notebook_setup import ABOUT_ID, INSTALL_ID, RESTART
from tools.notebooks import (
    PARALLEL_KERNELS,
    NotebookError,
    code_key,
    execute,
    executed_dir,
    page_to_notebook,
    run_ahead,
    stop_ahead,
    wait_ahead,
)
from tools.pages import expand
from tools.project import ROOT, TORCH_CPU_INDEX, pins


def notebook(lang, page="layers.md"):
    path = ROOT / "docs" / lang / page
    try:
        expanded = expand(path.read_text(encoding="utf-8"), ROOT, lang)
    except SnippetMissingError as error:  # a contributor's mistake, which the page rules name with its line
        pytest.skip(f"docs/{lang}/{page} cannot be expanded ({error}): tests/test_pages.py names the include")
    return page_to_notebook(expanded, lang, path, "../")


def test_the_languages_notebooks_share_one_run():
    english, chinese = notebook("en"), notebook("zh")
    assert [c.source for c in english.cells if c.cell_type == "code"] != \
        [c.source for c in chinese.cells if c.cell_type == "code"]  # their comments differ
    assert code_key(english) == code_key(chinese)


def test_a_change_of_code_of_torch_or_of_device_runs_it_again(monkeypatch):
    english = notebook("en")
    key = code_key(english)
    changed = nbformat.from_dict(english)
    changed.cells[[c.cell_type for c in changed.cells].index("code")].source += "\nprint(1)"
    assert code_key(changed) != key
    monkeypatch.setattr(torch, "__version__", "2.99.0")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(tools.snippets, "current_device", lambda: "cuda")
    assert code_key(english) != key


def test_a_change_of_packages_of_python_or_of_storage_runs_it_again(monkeypatch, tmp_path):
    english = notebook("en")
    key = code_key(english)
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    monkeypatch.setattr(tools.notebooks, "ROOT", tmp_path)
    assert code_key(english) == key
    with (tmp_path / "requirements.txt").open("a", encoding="utf-8") as requirements:
        requirements.write("torchinfo==9.9.9\n")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(platform, "python_version", lambda: "3.99.0")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(tools.notebooks, "RUN_FORMAT", tools.notebooks.RUN_FORMAT + 1)
    assert code_key(english) != key


@pytest.fixture
def ahead():
    """No run started by run_ahead outlives its test."""
    yield
    stop_ahead()


def kernels_of_this_process() -> list[int]:
    """The live processes this one started that run a Jupyter kernel (from Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()[:2]
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        if int(parent) == os.getpid() and state != "Z" and b"ipykernel" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.kernel
def test_a_run_started_ahead_is_not_run_again_and_a_failure_names_its_page(tmp_path, ahead):
    """The build starts the notebooks' runs before it runs the snippets; the hooks' execute() then
    waits for them, and a notebook that failed stops the build naming its page."""
    printing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran ahead')")])
    failing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    assert run_ahead({"docs/en/printing.md": printing}, tmp_path) == ["docs/en/printing.md"]
    assert run_ahead({"docs/en/failing.md": failing}, tmp_path) == ["docs/en/failing.md"]
    with pytest.raises(NotebookError, match=r"^docs/en/failing\.md: its notebook failed in the kernel:"):
        wait_ahead()
    assert execute({"docs/en/printing.md (downloads)": printing}, tmp_path) == []  # its run was kept
    assert printing.cells[0].outputs[0]["text"] == "ran ahead\n"
    assert run_ahead({"docs/en/failing.md": failing}, tmp_path) == ["docs/en/failing.md"]  # a failure is not
    with pytest.raises(NotebookError):
        wait_ahead()


@pytest.mark.kernel
def test_stopped_runs_shut_their_kernels_down(tmp_path, ahead):
    """A build that stops (its snippets print other outputs, say) stops the runs it started
    ahead: the kernels running and those still waiting for a core."""
    sleeping = {f"docs/en/page-{n}.md": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import time\ntime.sleep({60 + n})")]) for n in range(PARALLEL_KERNELS + 1)}
    assert len(run_ahead(sleeping, tmp_path)) == len(sleeping)
    deadline = time.monotonic() + 60
    while len(kernels_of_this_process()) < PARALLEL_KERNELS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(kernels_of_this_process()) == PARALLEL_KERNELS
    stop_ahead()
    assert kernels_of_this_process() == []
    assert not executed_dir(tmp_path).exists()  # nothing ran to the end


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_code_opens_with_a_note_on_the_outputs_and_the_install_of_what_is_missing(lang):
    """For Colab, say: the first code cell installs the chapter's packages (at requirements.txt's
    releases) that are missing, after a note naming the torch, device and Python that print the outputs."""
    made = notebook(lang, "parameters.md")  # its code imports torchinfo
    ids = [cell.id for cell in made.cells]
    first_code = [cell.cell_type for cell in made.cells].index("code")
    assert ids[first_code - 1 : first_code + 1] == [ABOUT_ID, INSTALL_ID]
    about, install = made.cells[first_code - 1].source, made.cells[first_code].source
    assert f"torch {torch.__version__}" in about and platform.python_version() in about
    assert f"`torchinfo=={pins()['torchinfo']}`" in about
    assert f'"torchinfo": "torchinfo=={pins()["torchinfo"]}"' in install
    assert f'"torch": "torch=={pins()["torch"]}"' in install
    assert "numpy" not in install  # the parameters chapter does not import it


CPU_INDEX = ["--index-url", TORCH_CPU_INDEX]


@pytest.mark.parametrize(("installed", "gpu", "expected"), [
    ({}, True, []),  # what this site uses: nothing to do
    ({"torchinfo": None}, False, [("torchinfo", [])]),  # missing: installed
    ({"torchinfo": "0.1"}, False, []),  # an older torchinfo has what the chapter calls: left alone
    ({"torch": "2.13.0+cu126"}, True, []),  # the same release, another build: left alone
    ({"torch": "2.4.1+cu121"}, True, [("torch", [])]),  # older, GPU: PyPI's CUDA build
    ({"torch": "2.4.1"}, False, [("torch", CPU_INDEX)]),  # older, no GPU: the CPU build
])
def test_the_install_cell_installs_what_is_missing_and_replaces_an_older_torch(monkeypatch, capsys, installed,
                                                                               gpu, expected):
    """What the install cell installs on a reader's machine (Colab's, say), and that it restarts the
    session when it replaced a package that the session had loaded (this test's torch)."""
    install = next(cell.source for cell in notebook("en", "parameters.md").cells if cell.id == INSTALL_ID)
    ran, killed, version = [], [], importlib.metadata.version

    def reader_version(name):
        if installed.get(name, "") is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed.get(name) or version(name)

    monkeypatch.setattr(importlib.metadata, "version", reader_version)
    monkeypatch.setattr(subprocess, "run", lambda command, **options: ran.append((command, options)))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/nvidia-smi" if gpu and name == "nvidia-smi" else None)
    monkeypatch.setattr(os, "kill", lambda pid, signal: killed.append((pid, signal)))
    monkeypatch.delitem(sys.modules, "torchinfo", raising=False)  # a missing package was never imported
    exec(install, {})  # noqa: S102 - the cell's own code, as the reader's kernel runs it
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    assert ran == [([*pip, f"{name}=={pins()[name]}", *index], {"check": True}) for name, index in expected]
    restarted = any(name == "torch" for name, _ in expected)  # torch is loaded here; torchinfo is not
    assert killed == ([(os.getpid(), 9)] if restarted else [])
    assert capsys.readouterr().out == (RESTART + "\n" if restarted else "")


def test_a_chapter_that_imports_an_unpinned_package_names_the_page_and_package():
    page = ROOT / "docs" / "en" / "layers.md"
    text = "# Layers\n\n```python\nimport torch\nimport yaml\nfrom tools.project import ROOT\n```\n"
    with pytest.raises(NotebookError, match=r"^docs/en/layers\.md: its code imports tools, yaml, which requirements"):
        page_to_notebook(text, "en", page, "../")
