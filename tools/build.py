"""`make build`: the site, built once, in one process, with one line printed per stage.

1. Every snippet runs, and the run is recorded in build/results/<device>.json: the record that
   the test report and the line under each chapter's title show. Meanwhile, Jupyter kernels
   run each chapter's notebook whose code has not run yet, once for all languages
   (tools/notebooks.py).
2. Each language is built with MkDocs (--strict), all at the same time, one process each: the
   source language at the site's root and each other language in site/<lang>/.

A build is skipped when every file it reads (and the commit, torch and device) is what the
last complete build read: site/ is then already what it would write.

`make build` stops when a snippet does not print what its page shows (run `make outputs`);
the tests' `site` fixture builds anyway and leaves that to tests/test_snippets.py.
`make test`, `make bench`, CI's artifact and the deployed site all use this one build.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2, on every build

from tools.project import (  # noqa: E402
    BUILD,
    INPUTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    RECORDS,
    ROOT,
    SITE,
    SOURCE,
    config_file,
    repo_url,
    site_dir,
    site_url,
    under,
)


class BuildError(Exception):
    """The build stopped; the message says where and why, without a library traceback."""


class _Said(logging.Handler):
    """MkDocs' warnings and errors, kept for the message of a failed build."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}: {record.getMessage()}")


def build(site: Path = SITE, root: Path = ROOT, check_outputs: bool = True, say=print,
          languages: tuple[str, ...] = LANGUAGES, plugins: dict | None = None) -> Path:
    """`plugins`, if given, replaces the configuration's plugins (a test that looks at some pages
    needs neither search, nor the notebooks' pages, nor the printable edition)."""
    from tools import results
    from tools.notebooks import NotebookError, stop_ahead, wait_ahead
    from tools.pages import rel
    from tools.snippets import SnippetError, output_differences, snippet_files

    start = time.perf_counter()
    stamp, inputs = stamp_file(root, site), fingerprint(root, site)
    recorded = results.load(under(root, RECORDS) / f"{results.current_device()}.json")
    passed = recorded is not None and all(row["status"] == "pass" for row in recorded["snippets"])
    complete = languages == LANGUAGES and plugins is None
    if (complete and stamp.exists() and stamp.read_text(encoding="utf-8") == inputs
            and (site / "index.html").exists() and (passed or not check_outputs)):
        say(f"{rel(site, root)}/ is built from these very files")
        return site
    stamp.unlink(missing_ok=True)
    stored_by = results.stored_python(root)
    if stored_by and results.this_python() not in stored_by:
        say(f"note: this is Python {platform.python_version()}; the stored outputs were printed by Python "
            f"{', '.join(sorted(stored_by))}: an output that depends on Python's version may differ")
    ahead = run_notebooks_ahead(root)
    if ahead:
        say(f"running the notebooks of {len(ahead)} chapters in Jupyter kernels, beside the snippets")
    try:
        say(f"running the snippets of {len(snippet_files(root))} pages")
        run = results.record(root)
        results.write(run, under(root, RECORDS))
        wrong = list(dict.fromkeys(row["snippet"] for row in run["snippets"] if row["status"] != "pass"))
        problems = []
        for name in wrong:
            try:
                problems += output_differences(root / name) or [f"{name}: a section did not run"]
            except SnippetError as error:
                if check_outputs:
                    raise BuildError(str(error)) from None
                problems.append(str(error))
        if problems and check_outputs:
            raise BuildError("\n\n".join(problems) + "\n\nIf the new outputs are right, store them: make outputs")
        for problem in problems:  # a preview: the pages show the stored outputs
            say(f"warning: {problem}")
        if problems:
            say("warning: the pages show the stored outputs; make build and make test stop on these differences")
        wait_ahead()
    except NotebookError as error:
        raise BuildError(str(error)) from None
    finally:
        stop_ahead()  # when the snippets stopped the build: their kernels would run for nothing
    say("building " + " and ".join(f"{LANGUAGE_NAMES[lang]} into {rel(site_dir(lang, site), root)}/"
                                   for lang in languages))
    build_languages(languages, root, site, plugins)
    if complete:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(inputs, encoding="utf-8")
    say(f"built in {time.perf_counter() - start:.1f} s")
    return site


def run_notebooks_ahead(root: Path) -> list[str]:
    """Start running the chapters' notebooks whose code has not run (tools/notebooks.py), in
    kernels beside the snippets; the pages' build then finds their outputs. A page that cannot
    be made into a notebook is left to the build, which names the problem."""
    from tools.notebooks import chapter_notebooks, run_ahead
    from tools.pages import rel

    try:
        notebooks = chapter_notebooks(SOURCE, root, "")  # links aside, the same code as every language
    except Exception:  # noqa: BLE001 - reported by the pages' build, which makes these notebooks again
        return []
    return run_ahead({rel(page, root): notebook for page, notebook in notebooks.items()}, root)


def build_languages(languages: tuple[str, ...], root: Path, site: Path, plugins: dict | None) -> None:
    """The first language here, and at the same time each other one in a process of its own, on
    a core each (in_forks). The others are built into a hidden folder of the site, which MkDocs
    leaves alone when it empties the site for the first language, and then moved into place; on
    a failure the others are stopped and their folders removed."""
    import shutil

    targets = {lang: site_dir(lang, site) if lang == languages[0] else site / f".{lang}-building"
               for lang in languages}
    configs = {lang: _config(lang, root, targets[lang], plugins) for lang in languages}
    try:
        for lang in languages[1:]:
            shutil.rmtree(targets[lang], ignore_errors=True)
        in_forks({lang: functools.partial(_build_language, lang, root, configs[lang]) for lang in languages})
        for lang in languages[1:]:
            shutil.rmtree(site_dir(lang, site), ignore_errors=True)
            targets[lang].rename(site_dir(lang, site))
    finally:
        for lang in languages[1:]:
            shutil.rmtree(targets[lang], ignore_errors=True)


def in_forks(work: dict[str, Callable[[], None]]) -> None:
    """Each language's work at the same time: the first language's in this process, each other
    one's in a fork of it, on a core of its own; a failure of any is raised here as a BuildError,
    once the others are stopped (`make build` and `make serve` build languages with it).

    The forks are made once everything is loaded (configurations, plugins): they import nothing
    again. What this process runs in other threads at that moment (torch's, a test run's, the
    live-reload server's) is never used in them: they only build pages (Linux; Python 3.11, as
    pinned)."""
    import multiprocessing

    fork, children, languages = multiprocessing.get_context("fork"), {}, list(work)
    try:
        for lang in languages[1:]:
            receiver, sender = fork.Pipe(duplex=False)
            child = fork.Process(target=_in_child, args=(lang, work[lang], sender), daemon=True)
            child.start()
            sender.close()
            children[lang] = (child, receiver)
        work[languages[0]]()
        for lang, (child, receiver) in children.items():
            try:
                failure = receiver.recv()  # None, or why the build failed
            except EOFError:
                child.join()
                failure = f"the build of {LANGUAGE_NAMES[lang]} stopped (exit code {child.exitcode})"
            if failure is not None:
                raise BuildError(failure)
    finally:
        for child, _ in children.values():
            if child.is_alive():
                child.terminate()
            child.join()


def _in_child(lang: str, job: Callable[[], None], sender) -> None:
    import yaml

    try:
        job()
        sender.send(None)
    except (BuildError, yaml.YAMLError) as error:  # a YAML error names its file and line
        sender.send(str(error))
    except Exception:  # noqa: BLE001 - sent to the parent, which reports it
        sender.send(f"{config_file(lang).name}: the build stopped:\n{traceback.format_exc()}")


def _config(lang: str, root: Path, target: Path, plugins: dict | None):
    """A language's MkDocs configuration, building into `target` (its plugins are imported)."""
    with reported(lang, root):
        return load_language(lang, root, target, plugins=plugins)


def load_language(lang: str, root: Path, target: Path, strict: bool = True, plugins: dict | None = None):
    """A language's MkDocs configuration with plugins of its own (`make serve` loads them too)."""
    from mkdocs.config import load_config
    from mkdocs.config.defaults import MkDocsConfig

    # MkDocs keeps a plugin that has on_startup (Material's search) for the next load of a config,
    # for `mkdocs serve`: English would get the search plugin of Chinese, and its index lang "zh".
    MkDocsConfig.plugins.plugin_cache.clear()
    overrides = {"plugins": plugins} if plugins is not None else {}
    return load_config(str(config_file(lang, root)), site_dir=str(target), strict=strict, **overrides)


def _build_language(lang: str, root: Path, config) -> None:
    from mkdocs.commands.build import build as mkdocs_build

    with reported(lang, root):
        mkdocs_build(config)


@contextlib.contextmanager
def reported(lang: str, root: Path):
    """MkDocs logs why it stops, then raises a bare "Aborted": a BuildError says both. Yields
    what MkDocs warned of so far (`.lines`)."""
    from mkdocs.exceptions import MkDocsException

    said = _Said()
    logging.getLogger("mkdocs").addHandler(said)
    try:
        yield said
    except MkDocsException as error:
        raise BuildError("\n".join([*said.lines, f"{config_file(lang, root).name}: {error}"])) from None
    finally:
        logging.getLogger("mkdocs").removeHandler(said)


def stamp_file(root: Path, site: Path) -> Path:
    """What the last complete build into `site` was made from: one file per site folder, so that
    a build elsewhere (make bench's) does not make site/ look stale."""
    return under(root, BUILD) / "stamps" / hashlib.sha256(str(site).encode()).hexdigest()[:16]


def fingerprint(root: Path, site: Path) -> str:
    """What a build depends on: every input file, the commit (the record names it), the torch
    release and the device (they print the outputs), and where the site goes. A build whose
    fingerprint equals the last one's would write the same site: it is skipped."""
    import torch

    from tools.results import commit
    from tools.snippets import current_device

    addresses = f"{site_url(SOURCE)}\0{repo_url()}"  # where the pages say they are, and their repository
    digest = hashlib.sha256(f"{site}\0{commit(root)}\0{torch.__version__}\0{current_device()}\0{addresses}".encode())
    for path in input_files(root):
        digest.update(f"\0{path.relative_to(root)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def input_files(root: Path) -> list[Path]:
    """Every file a build reads from the project (project.INPUTS), in a fixed order."""
    found = []
    for name in INPUTS:
        for path in sorted([root / name] if (root / name).is_file() else (root / name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.append(path)
    return found


if __name__ == "__main__":
    # --preview (`make serve`): outputs that differ from the stored ones are warnings, not errors
    preview = "--preview" in sys.argv[1:]
    folders = [argument for argument in sys.argv[1:] if argument != "--preview"]
    try:
        build(Path(folders[0]).resolve() if folders else SITE, check_outputs=not preview)
    except BuildError as failure:
        print(f"build failed:\n{failure}", file=sys.stderr)
        sys.exit(1)
