"""`make serve`: a live preview for writers. The site is built once (as `tools.build --preview`),
served on LOCAL_URL (tools/project.py) by MkDocs' own live-reload server, the one `mkdocs serve`
uses, and each saved change to what the site is built from (project.INPUTS) rebuilds what it
needs; then the open page reloads.

What a change rebuilds (plan()):
- a page or figure of one language (docs/<lang>/): that language's changed pages only, by
  MkDocs' dirty build (`mkdocs serve --dirty`). The search index, the printable edition and
  llms.txt keep the last full build's text until the next full build. A Chinese page whose
  English page changed is rendered again too when its notice of a stale translation comes or goes;
- a snippet, or its stored outputs: that snippet runs again (an output that differs from the
  stored one is a warning, as in --preview), then both languages are built, and only that
  chapter's notebook runs again (tools/notebooks.py keys runs by code);
- a language's own file (mkdocs.zh.yml, snippets/*.zh.yml, docs/*.zh.txt): that language;
- anything else (mkdocs.yml, overrides/, docs/*.yml, the hooks, ...): both languages.
The other tools are imported once: a change to one (or to requirements.txt) applies when
make serve starts again, which it says.

Every build is made beside the served site and takes its place only when it succeeds: a broken
edit prints its error (file and line, as the build does), the last good build stays served, and
the next save that builds recovers. While a build runs, the server holds requests (as MkDocs does).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import logging
import os
import shutil
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from tools.browser import site_path
from tools.build import (
    BuildError,
    build,
    build_languages,
    in_forks,
    input_files,
    load_language,
    reported,
    run_notebooks_ahead,
    stamp_file,
)
from tools.notebooks import NotebookError, stop_ahead, wait_ahead
from tools.project import (
    INPUTS,
    LANGUAGE_NAMES,
    LANGUAGES,
    LOCAL_URL,
    PREVIEW,
    RECORDS,
    ROOT,
    SOURCE,
    TRANSLATIONS,
    config_file,
    docs_dir,
    site_dir,
    site_url,
    under,
)

HOOKS = "tools/mkdocs_hooks.py"  # mkdocs.yml's hooks: MkDocs loads them again for every build
# What a dirty build writes from the few pages it rendered: the last full build's stay served
WHOLE_SITE = ("search/search_index.json", "print_page/index.html", "llms.txt", "llms-full.txt")
DIRTY_WARNING = "A 'dirty' build is being performed"  # MkDocs' warning on every dirty build: that is the point


@dataclass
class Plan:
    full: set[str] = field(default_factory=set)  # languages built whole
    pages: dict[str, set[str]] = field(default_factory=dict)  # language -> its changed files (docs_dir-relative)
    snippets: set[str] = field(default_factory=set)  # pages whose snippet runs again
    restart: set[str] = field(default_factory=set)  # tools that apply at the next start

    def builds(self) -> bool:
        return bool(self.full or self.pages)


def snapshot(root: Path) -> dict[str, str]:
    """Each input file of a build (relative path) and a digest of its content."""
    return {path.relative_to(root).as_posix(): hashlib.sha1(path.read_bytes()).hexdigest()
            for path in input_files(root)}


def plan(before: dict[str, dict[str, str]], now: dict[str, str]) -> Plan:
    """What to rebuild, from the inputs each language's served build was made from (`before`)
    and the inputs now."""
    todo = Plan()
    for lang in LANGUAGES:
        changed = sorted(path for path in before[lang].keys() | now.keys() if before[lang].get(path) != now.get(path))
        for path in changed:
            parts = PurePosixPath(path).parts
            if (parts[0] == "tools" and path != HOOKS) or path == "requirements.txt":
                todo.restart.add(path)
                continue
            if (len(parts) == 2 and parts[0] == "snippets" and path.endswith(".py")
                    or len(parts) == 3 and parts[0] == "outputs" and path.endswith(".txt")):
                name = PurePosixPath(path).stem
                if f"snippets/{name}.py" in now:
                    todo.snippets.add(name)
            in_docs = parts[0] == "docs" and len(parts) > 2 and parts[1] in LANGUAGES
            own = parts[1] if in_docs else next((t for t in TRANSLATIONS if f".{t}." in parts[-1]), None)
            if own not in (None, lang):
                continue  # another language's file
            if in_docs and path in before[lang] and path in now:  # an edit, not a new or removed page
                todo.pages.setdefault(lang, set()).add(PurePosixPath(*parts[2:]).as_posix())
            else:
                todo.full.add(lang)
    for lang in todo.full:
        todo.pages.pop(lang, None)
    return todo


def stale_notices(root: Path) -> dict[str, dict[str, bool]]:
    """For each translated page: whether it shows the notice that its English page changed
    (tools/mkdocs_hooks.py shows it where the recorded fingerprint is not the English page's)."""
    from tools.translations import fingerprint, recorded

    shown = {}
    for lang in TRANSLATIONS:
        pages = sorted(docs_dir(lang, root).rglob("*.md"))
        english = {page: docs_dir(SOURCE, root) / page.relative_to(docs_dir(lang, root)) for page in pages}
        shown[lang] = {page.relative_to(docs_dir(lang, root)).as_posix():
                       english[page].exists() and recorded(page) != fingerprint(english[page]) for page in pages}
    return shown


def _not_the_dirty_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(DIRTY_WARNING)


class Preview:
    """The served site (build/preview/site/) and what it was built from."""

    def __init__(self, root: Path = ROOT, say=print):
        self.root, self.say = root, say
        self.site = under(root, PREVIEW) / "site"
        self.next = under(root, PREVIEW) / "next"  # a build in the making
        self.built: dict[str, dict[str, str]] = {}  # language -> snapshot its served pages were built from
        self.notices: dict[str, dict[str, bool]] = {}

    def start(self, built: Path | None = None) -> None:
        """The first build, as `tools.build --preview` makes it (skipped when the last one was made
        from these very files). `built`: a site already built from these files (a test's), copied."""
        if built is not None:
            shutil.rmtree(self.site, ignore_errors=True)
            shutil.copytree(built, self.site)
        else:
            build(self.site, self.root, check_outputs=False, say=self.say)
        now = snapshot(self.root)
        self.built = {lang: now for lang in LANGUAGES}
        self.notices = stale_notices(self.root)
        self.say("warming up: a build of each language that renders no page, so that the first save is quick")
        try:
            for lang in LANGUAGES:  # MkDocs, its plugins and the hooks imported and set up once, here
                self._render_pages(lang, set())
        finally:
            shutil.rmtree(self.next, ignore_errors=True)

    def rebuild(self) -> None:
        """The live-reload server's builder. It never raises: the server would then hold every
        request until a build succeeded."""
        now = snapshot(self.root)
        todo = plan(self.built, now)
        for path in sorted(todo.restart):
            self.say(f"{path} changed: make serve runs the tools it started with; stop it (Ctrl-C) and "
                     "start it again to use the new one")
        notices = stale_notices(self.root)
        for lang in TRANSLATIONS:
            if lang not in todo.full:
                flipped = {page for page, shown in notices[lang].items() if self.notices[lang].get(page) != shown}
                if flipped:
                    todo.pages.setdefault(lang, set()).update(flipped)
        start = time.perf_counter()
        try:
            if todo.builds():
                stamp_file(self.root, self.site).unlink(missing_ok=True)  # site/ is no longer one build's
                # as tools/build.py does: a chapter's notebook whose code changed runs once for every
                # language, in a kernel, beside the snippets
                if todo.full and run_notebooks_ahead(self.root):
                    self.say("running the notebooks whose code changed in Jupyter kernels, beside the snippets")
                if todo.snippets:
                    self._run_snippets(sorted(todo.snippets))
                wait_ahead()
                self._build(todo)
        except (BuildError, NotebookError, yaml.YAMLError) as failure:  # a YAML error names its file and line
            self.say(f"build failed:\n{failure}\nstill serving the last good build; save a fix to build again")
            return
        except Exception:  # noqa: BLE001 - said, and the last good build stays served
            self.say(f"build failed:\n{traceback.format_exc()}still serving the last good build")
            return
        finally:
            stop_ahead()
            shutil.rmtree(self.next, ignore_errors=True)
        self.built = {lang: now for lang in LANGUAGES}
        self.notices = notices
        if todo.builds():
            self.say(f"rebuilt in {time.perf_counter() - start:.1f} s")

    def _run_snippets(self, names: list[str]) -> None:
        """Run the changed snippets alone, and put their rows into the build's record (which the
        run lines and the test report show). A snippet that raises stops the build."""
        from tools import results
        from tools.snippets import output_differences, snippet_files

        self.say(f"running the snippets of {', '.join(names)}")
        snippets = [self.root / "snippets" / f"{name}.py" for name in names]
        run = results.record(self.root, snippets)
        failures = [row["error"] for row in run["snippets"] if row["status"] == "fail"]
        if failures:
            raise BuildError("\n\n".join(failures))
        for snippet in snippets:  # read back from their run: also kept for make check (snippets.printed)
            for problem in output_differences(snippet, reuse=True):
                self.say(f"warning: {problem}\nwarning: the page shows the stored output (make build stops on this)")
        path = under(self.root, RECORDS) / f"{run['device']}.json"
        old = results.load(path)
        if old is None:
            run = results.record(self.root)  # every snippet: the first record of this device
        else:
            order = [f"snippets/{snippet.name}" for snippet in snippet_files(self.root)]
            ran = {f"snippets/{snippet.name}" for snippet in snippets}
            rows = [row for row in old["snippets"] if row["snippet"] not in ran] + run["snippets"]
            rows.sort(key=lambda row: order.index(row["snippet"]) if row["snippet"] in order else len(order))
            run["snippets"] = rows
            run["outputs_printed_by"] = {**old["outputs_printed_by"], **run["outputs_printed_by"]}
        results.write(run, path.parent)

    def _build(self, todo: Plan) -> None:
        """Build into next/ what the plan says, take the rest from the served site, then swap."""
        shutil.rmtree(self.next, ignore_errors=True)
        rebuilt = [lang for lang in LANGUAGES if lang in todo.full or lang in todo.pages]
        what = {lang: "all" if lang in todo.full else ", ".join(sorted(todo.pages[lang])) for lang in rebuilt}
        self.say("building " + " and ".join(f"{LANGUAGE_NAMES[lang]} ({what[lang]})" for lang in rebuilt))
        full = tuple(lang for lang in LANGUAGES if lang in todo.full)
        if full:
            build_languages(full, self.root, self.next, None)
        if todo.pages:
            self._render_languages(todo.pages)
        if SOURCE in rebuilt:
            for lang in TRANSLATIONS:
                if lang not in rebuilt:
                    site_dir(lang, self.site).rename(site_dir(lang, self.next))
            swapped = [(self.site, self.next)]
        else:
            swapped = [(site_dir(lang, self.site), site_dir(lang, self.next)) for lang in rebuilt]
        for served, new in swapped:
            old = self.next.parent / f"old-{served.name}"
            shutil.rmtree(old, ignore_errors=True)
            served.rename(old)
            new.rename(served)
            shutil.rmtree(old)

    def _render_languages(self, pages: dict[str, set[str]]) -> None:
        """Each language's pages, the languages at the same time (tools/build.in_forks). An English
        save that brings a Chinese page's stale-translation notice renders both: one after the
        other, the first save took 5.4 s here, over the 5 s a writer should wait."""
        in_forks({lang: functools.partial(self._render_pages, lang, pages[lang]) for lang in pages})

    def _render_pages(self, lang: str, pages: set[str]) -> None:
        """MkDocs' dirty build of a language into a copy of its served pages: it renders the
        pages whose file is newer than their HTML, and those named here (their HTML is removed
        first). A warning fails it, as --strict does."""
        from mkdocs.commands.build import build as mkdocs_build
        from mkdocs.structure.files import File

        served, target = site_dir(lang, self.site), site_dir(lang, self.next)
        others = {site_dir(other, self.site).name for other in LANGUAGES if other != lang} if lang == SOURCE else set()
        shutil.copytree(served, target, dirs_exist_ok=True,
                        ignore=lambda folder, names: [n for n in names if Path(folder) == served and n in others])
        builder_log = logging.getLogger("mkdocs.commands.build")
        builder_log.addFilter(_not_the_dirty_warning)
        try:
            with reported(lang, self.root) as said:
                config = load_language(lang, self.root, target, strict=False)
                if "print-site" in config.plugins:  # its edition of the few pages rendered is not kept (WHOLE_SITE)
                    edition = config.plugins["print-site"]
                    config.plugins.events["post_build"] = [
                        handler for handler in config.plugins.events["post_build"]
                        if getattr(handler, "__self__", None) is not edition]
                for page in pages:
                    if page.endswith(".md"):
                        Path(File(page, config.docs_dir, config.site_dir, config.use_directory_urls).abs_dest_path
                             ).unlink(missing_ok=True)
                mkdocs_build(config, dirty=True)
        finally:
            builder_log.removeFilter(_not_the_dirty_warning)
        if said.lines:
            raise BuildError("\n".join([*said.lines, f"{config_file(lang, self.root).name}: a warning stops the "
                                                      "build (make build is --strict)"]))
        for name in WHOLE_SITE:
            if (served / name).exists():
                shutil.copy2(served / name, target / name)

    def not_found(self, code: int) -> bytes | None:
        """The site's own 404 page, as GitHub Pages answers a missing address."""
        page = self.site / "404.html"
        return page.read_bytes() if code == 404 and page.exists() else None


def live_server(preview: Preview, port: int):
    """MkDocs' live-reload server over the preview: it watches what the site is built from, calls
    preview.rebuild after a change, then reloads the pages open in browsers."""
    from mkdocs.livereload import LiveReloadServer

    server = LiveReloadServer(builder=preview.rebuild, host="127.0.0.1", port=port, root=str(preview.site),
                              mount_path=site_path())
    server.error_handler = preview.not_found
    for name in INPUTS:
        server.watch(str(preview.root / name))
    return server


@contextlib.contextmanager
def running(preview: Preview):
    """The live server on a free port, in threads of this process (the tests', make bench's);
    yields the address of the site's root."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = live_server(preview, port)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while True:  # serve() binds the port in that thread: wait until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or not thread.is_alive():
                raise
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{server.mount_path}"
    finally:
        server.shutdown(wait=True)
        thread.join()


def serve(port: int | None = None, root: Path = ROOT) -> int:
    if port and not os.environ.get("SITE_URL"):  # the pages' addresses name the port they are served on
        local = urlsplit(LOCAL_URL)
        os.environ["SITE_URL"] = local._replace(netloc=f"{local.hostname}:{port}").geturl()
    port = port or urlsplit(LOCAL_URL).port
    preview = Preview(root)
    try:
        preview.start()
    except BuildError as failure:
        print(f"build failed:\n{failure}", file=sys.stderr)
        return 1
    said = logging.StreamHandler(sys.stdout)  # the server's own lines: changes seen, browsers reloaded
    said.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("mkdocs.livereload").addHandler(said)
    logging.getLogger("mkdocs.livereload").setLevel(logging.INFO)
    server = live_server(preview, port)
    addresses = " and ".join(f"http://127.0.0.1:{port}{urlsplit(site_url(lang)).path} ({LANGUAGE_NAMES[lang]})"
                             for lang in LANGUAGES)
    print(f"serving {addresses}; a saved change rebuilds what it needs and reloads the page; Ctrl-C stops")
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help=f"instead of the port of {LOCAL_URL}")
    sys.exit(serve(parser.parse_args().port))
