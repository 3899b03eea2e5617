"""`make bench`: the project's size and speed figures, printed as a table.

Times, on this machine: a cold build of both languages into site/ (no cached notebook runs or
renders), a warm rebuild with nothing changed, `make serve`'s live preview from a saved sentence
to the reloaded page (Chromium), the writer's loop (`make check`), the whole test
suite with site/ already built (`make test`), and a fresh clone's `bash .ci/run` (the venv
install included; BENCH_FRESH_CLONE=0 skips it). Then the largest page, and each page's transfer
weight as a reader's browser downloads it: headless Chromium loads the page with an empty cache and
counts everything it fetches, text gzipped as web hosts serve it; the search index, which every
page fetches, apart, once per language. Pages over 300 KB and indexes over 1 MB are flagged.
Last, each page's snippet CPU seconds, and every section over half a CPU second (issue 21 keeps
each section under it, so that `make check` stays a loop of seconds).
Figures, not pass/fail; a step that fails stops the bench with that step's own output.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools.browser import CHROMIUM_ARGS, chromium, served, site_path
from tools.pages import pages
from tools.project import CACHE, LANGUAGES, ROOT, SEARCH_INDEX, SITE, SNIPPET_RUNS
from tools.snippets import cpu_seconds, parse_sections, snippet_files

PAGE_LIMIT, INDEX_LIMIT = 300 * 1024, 1024 * 1024
SECTION_LIMIT = 0.5  # CPU seconds of one snippet section
BUILD_COMMAND = [sys.executable, "-m", "tools.build"]  # `make build`: into site/
KINDS = {"document": "HTML", "stylesheet": "CSS", "script": "JS", "font": "fonts", "image": "images"}


class StepFailed(Exception):
    """A measured step that failed; the message is its own output."""


def timed(command: list[str], cwd: Path = ROOT) -> str:
    """Wall seconds a command takes, and its CPU seconds (user + system, its children included):
    on a shared machine wall times vary by half within an hour, CPU seconds much less. Its output
    is shown only when it fails."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise StepFailed(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{result.stdout[-6000:]}"
                         f"\n{result.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return f"{wall:.1f} / {cpu:.1f}"


def fresh_clone_ci() -> str:
    """`bash .ci/run` in a fresh clone of this checkout's HEAD, as CI runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "clone", "-q", str(ROOT), tmp], check=True)
        return timed(["bash", ".ci/run"], cwd=Path(tmp))


def transfer_size(body: bytes, content_type: str) -> int:
    """Bytes on the wire: text is gzipped (as GitHub Pages and most hosts serve it), the rest not."""
    text = content_type.startswith("text/") or any(t in content_type for t in ("javascript", "json", "xml", "svg"))
    return len(gzip.compress(body, 6)) if text else len(body)


def page_weights(site: Path) -> tuple[list[tuple[str, dict[str, int], int]], dict[str, tuple[int, int]]]:
    """Each page of both languages, loaded in Chromium with an empty cache: (page, KB by kind,
    total), and each language's search index (raw, transfer). Needs tools/browser_deps.sh."""
    from playwright.sync_api import sync_playwright

    paths = sorted(p.relative_to(site).as_posix().removesuffix("index.html") for p in site.rglob("*.html"))
    weights, indexes = [], {}
    with served(site, site_path()) as base, sync_playwright() as playwright:  # as it is published
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        for path in paths:
            context = browser.new_context()  # an empty cache, as on a first visit
            tab = context.new_page()
            responses = []
            tab.on("response", lambda response, seen=responses: seen.append(response))
            tab.goto(base + path, wait_until="networkidle")
            by_kind = dict.fromkeys([*KINDS.values(), "other"], 0)
            for response in responses:
                try:
                    body = response.body()
                except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
                    continue
                size = transfer_size(body, response.headers.get("content-type", ""))
                if response.url.endswith(f"/{SEARCH_INDEX}"):
                    lang = next((lang for lang in LANGUAGES if f"/{lang}/" in response.url), LANGUAGES[0])
                    indexes[lang] = (len(body), size)
                else:
                    by_kind[KINDS.get(response.request.resource_type, "other")] += size
            weights.append((path or "(home)", by_kind, sum(by_kind.values())))
            context.close()
        browser.close()
    return weights, indexes


def weight_table(weights, indexes) -> str:
    kinds = [*KINDS.values(), "other"]
    lines = [f"| page | {' | '.join(kinds)} | total (KB) |", "|---" * (len(kinds) + 2) + "|"]
    for path, by_kind, total in sorted(weights, key=lambda w: -w[2]):
        flag = " over 300 KB" if total > PAGE_LIMIT else ""
        lines.append(f"| {path} | " + " | ".join(f"{by_kind[k] / 1024:.0f}" for k in kinds) +
                     f" | {total / 1024:.0f}{flag} |")
    for lang, (raw, size) in sorted(indexes.items()):
        flag = " over 1 MB" if size > INDEX_LIMIT or raw > INDEX_LIMIT else ""
        lines.append(f"| search index ({lang}), raw {raw / 1024:.0f} KB | " + " | ".join("" for _ in kinds) +
                     f" | {size / 1024:.0f}{flag} |")
    return "\n".join(lines)


def preview_reloads(site: Path, saves: int = 3) -> str:
    """`make serve`'s live preview (tools/serve.py) of a scratch copy of the project, started from
    `site` (built from these files), with a page open in Chromium: the seconds from saving a
    changed sentence of docs/en/layers.md to the reloaded page's load event, per save."""
    from playwright.sync_api import sync_playwright

    from tools.scratch import copy_project
    from tools.serve import Preview, running

    with tempfile.TemporaryDirectory() as tmp:
        copy = copy_project(Path(tmp) / "project")
        preview = Preview(copy, say=lambda *_: None)
        preview.start(built=site)
        page = copy / "docs" / "en" / "layers.md"
        original = page.read_text(encoding="utf-8")
        title_end = original.index("\n", original.index("# ")) + 1
        seconds = []
        with running(preview) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            tab = browser.new_page()
            tab.goto(base + "layers/", wait_until="load")
            for save in range(saves):
                marker = f"Saved sentence number {save}."
                start = time.perf_counter()
                page.write_text(f"{original[:title_end]}\n{marker}\n{original[title_end:]}", encoding="utf-8")
                tab.wait_for_event("load", timeout=120_000)
                while marker not in tab.content():  # a reload without it (another change): the next one
                    tab.wait_for_event("load", timeout=120_000)
                seconds.append(time.perf_counter() - start)
            browser.close()
    return ", ".join(f"{value:.1f}" for value in seconds)


def _measuring_process() -> None:
    """torch imported, on one thread, its objects out of the garbage collector's way."""
    import gc

    import torch

    # With more threads, OpenMP's idle threads spin, and on a busy machine that counts as CPU time:
    # a page's figure doubled from one run to the next. One thread counts the work alone.
    torch.set_num_threads(1)
    # A full collection scans every object of the process (0.2 CPU s here, torch's 165,000 objects
    # among them) in whichever section's allocations trip it: frozen, torch's are not charged to one.
    gc.freeze()


def snippet_cpu() -> str:
    """Each page's snippet CPU seconds and its sections over SECTION_LIMIT: every file run in a
    fresh process (set up by _measuring_process), so a one-time cost such as the first trace of
    torch.compile counts in the page that pays it, as it would for a reader running that page alone."""
    files = snippet_files()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, initializer=_measuring_process, max_tasks_per_child=1) as pool:
        seconds = list(pool.map(cpu_seconds, files))
    lines = [f"| page | CPU s | sections over {SECTION_LIMIT} CPU s |", "|---|---|---|"]
    for path, by_section in zip(files, seconds):
        over = ", ".join(f"{name} {s:.2f}" for name, s in by_section.items() if s > SECTION_LIMIT)
        lines.append(f"| {path.stem} | {sum(by_section.values()):.2f} | {over or 'none'} |")
    return "\n".join(lines)


def figures() -> tuple[list[tuple[str, str]], str, str]:
    rows = [("snippet files", str(len(snippet_files()))),
            ("snippet sections", str(sum(len(parse_sections(p)) for p in snippet_files())))]
    rows += [(f"pages ({lang})", str(len(pages(lang)))) for lang in LANGUAGES]
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "cache"
        if CACHE.exists():
            shutil.move(CACHE, saved)  # a cold build: no notebook run or render to reuse
        shutil.rmtree(SITE, ignore_errors=True)  # nor a site that a build would find up to date
        try:
            rows.append(("cold build, both languages (s: wall / CPU)", timed(BUILD_COMMAND)))
        finally:
            if saved.exists():  # the cache as it was: the steps below measure the usual warm state
                shutil.rmtree(CACHE, ignore_errors=True)
                shutil.move(saved, CACHE)
    # site/ is now built from these files: what `make test` and `make serve` find after a build
    rows.append(("warm rebuild, nothing changed (s: wall / CPU)", timed(BUILD_COMMAND)))
    rows.append(("live preview: save -> page reloaded (s), 3 saves", preview_reloads(SITE)))
    shutil.rmtree(SNIPPET_RUNS, ignore_errors=True)
    rows.append(("make check, every snippet run (s: wall / CPU)", timed(["make", "check"])))
    rows.append(("make check again, no page changed (s: wall / CPU)", timed(["make", "check"])))
    rows.append(("warm make test, site built (s: wall / CPU)", timed(["make", "test"])))
    if os.environ.get("BENCH_FRESH_CLONE", "1") != "0":
        rows.append(("fresh clone: bash .ci/run, install included (s: wall / CPU)", fresh_clone_ci()))
    largest = max(SITE.rglob("*.html"), key=lambda p: p.stat().st_size)
    rows.append(("largest page (KB)", f"{largest.stat().st_size / 1024:.0f} ({largest.relative_to(SITE)})"))
    weights, indexes = page_weights(SITE)
    path, _, heaviest = max(weights, key=lambda w: w[2])
    rows.append(("heaviest page, transfer (KB)", f"{heaviest / 1024:.0f} ({path})"))
    rows.append(("pages over 300 KB", ", ".join(w[0] for w in weights if w[2] > PAGE_LIMIT) or "none"))
    for lang, (raw, size) in sorted(indexes.items()):
        flag = " (over 1 MB)" if max(raw, size) > INDEX_LIMIT else ""
        rows.append((f"search index ({lang}), raw / transfer (KB)", f"{raw / 1024:.0f} / {size / 1024:.0f}{flag}"))
    return rows, weight_table(weights, indexes), snippet_cpu()


def main() -> int:
    try:
        rows, table, snippets = figures()
    except StepFailed as failure:
        print(f"make bench stopped: {failure}", file=sys.stderr)
        return 1
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print(f"\nTransfer weight of each page, KB (text gzipped; the search index apart):\n\n{table}")
    print(f"\nSnippet CPU seconds of each page (one thread, a fresh process each):\n\n{snippets}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
