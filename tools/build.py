"""`make build`: the site, built once, in one process, with one line printed per stage.

1. Every snippet runs, and the run is recorded in build/results/<device>.json: the record that
   the test report and the line under each chapter's title show.
2. Each language is built with MkDocs (--strict), the source language at the site's root and
   each other language in site/<lang>/; the hooks execute each chapter's notebook once for all
   languages (tools/notebooks.py).

`make build` stops when a snippet does not print what its page shows (run `make outputs`);
the tests' `site` fixture builds anyway and leaves that to tests/test_snippets.py.
`make test`, `make bench`, CI's artifact and the deployed site all use this one build.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2, on every build

from tools.project import LANGUAGE_NAMES, LANGUAGES, RECORDS, ROOT, SITE, config_file, site_dir, under  # noqa: E402


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
          languages: tuple[str, ...] = LANGUAGES) -> Path:
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    from tools import results
    from tools.snippets import SnippetError, output_differences, snippet_files

    start = time.perf_counter()
    say(f"running the snippets of {len(snippet_files(root))} pages")
    run = results.record(root)
    results.write(run, under(root, RECORDS))
    wrong = list(dict.fromkeys(row["snippet"] for row in run["snippets"] if row["status"] != "pass"))
    if wrong and check_outputs:
        problems = []
        for name in wrong:
            try:
                problems += output_differences(root / name) or [f"{name}: a section did not run"]
            except SnippetError as error:
                problems.append(str(error))
        raise BuildError("\n\n".join(problems) + "\n\nIf the new outputs are right, store them: make outputs")
    for lang in languages:
        target = site_dir(lang, site)
        shown = target.relative_to(root) if target.is_relative_to(root) else target
        say(f"building {LANGUAGE_NAMES[lang]} into {shown}/")
        said = _Said()  # MkDocs logs why it stops, then raises a bare "Aborted"
        logging.getLogger("mkdocs").addHandler(said)
        try:
            mkdocs_build(load_config(str(config_file(lang, root)), site_dir=str(target), strict=True))
        except MkDocsException as error:
            raise BuildError("\n".join([*said.lines, f"{config_file(lang, root).name}: {error}"])) from None
        finally:
            logging.getLogger("mkdocs").removeHandler(said)
    say(f"built in {time.perf_counter() - start:.1f} s")
    return site


if __name__ == "__main__":
    try:
        build(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else SITE)
    except BuildError as failure:
        print(f"build failed:\n{failure}", file=sys.stderr)
        sys.exit(1)
