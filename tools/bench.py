"""`make bench`: the project's size and speed figures, printed as a table.

Times the whole test suite, a cold build of both languages (no caches) and a warm rebuild
with nothing changed, and reports the largest built page. Figures, not pass/fail.

Then each page's transfer weight, as a reader's browser downloads it: headless Chromium loads
the page with an empty cache and counts everything it fetches (HTML, CSS, JS, fonts, images),
text gzipped as web hosts serve it; the search index, which every page fetches, is counted
apart, once per language. Pages over 300 KB and indexes over 1 MB are flagged.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools.pages import LANGUAGES, pages
from tools.project import ROOT
from tools.snippets import parse_sections, snippet_files

CACHE = ROOT / ".cache" / "mkdocs-jupyter"
PAGE_LIMIT, INDEX_LIMIT = 300 * 1024, 1024 * 1024
KINDS = {"document": "HTML", "stylesheet": "CSS", "script": "JS", "font": "fonts", "image": "images"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site without a log line per request."""

    def log_message(self, *args) -> None:
        pass


def timed(*commands: list[str]) -> float:
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return time.perf_counter() - start


def build_commands(site: Path) -> list[list[str]]:
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]
    return [mkdocs + ["-f", "mkdocs.yml", "-d", str(site)], mkdocs + ["-f", "mkdocs.zh.yml", "-d", str(site / "zh")]]


def transfer_size(body: bytes, content_type: str) -> int:
    """Bytes on the wire: text is gzipped (as GitHub Pages and most hosts serve it), the rest not."""
    text = content_type.startswith("text/") or any(t in content_type for t in ("javascript", "json", "xml", "svg"))
    return len(gzip.compress(body, 6)) if text else len(body)


def page_weights(site: Path) -> tuple[list[tuple[str, dict[str, int], int]], dict[str, tuple[int, int]]]:
    """Each page of both languages, loaded in Chromium with an empty cache: (page, KB by kind,
    total), and each language's search index (raw, transfer). Needs tools/browser_deps.sh."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    paths = sorted(p.relative_to(site).as_posix().removesuffix("index.html") for p in site.rglob("*.html"))
    weights, indexes = [], {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
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
                    if response.url.endswith("/search_index.json"):
                        lang = "zh" if "/zh/" in response.url else "en"
                        indexes[lang] = (len(body), size)
                    else:
                        by_kind[KINDS.get(response.request.resource_type, "other")] += size
                weights.append((path or "(home)", by_kind, sum(by_kind.values())))
                context.close()
            browser.close()
    finally:
        server.shutdown()
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


def main() -> None:
    rows = [("snippet files", str(len(snippet_files()))),
            ("snippet sections", str(sum(len(parse_sections(p)) for p in snippet_files())))]
    rows += [(f"pages ({lang})", str(len(pages(lang)))) for lang in LANGUAGES]
    suite = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    rows.append(("test suite (make test, s)", f"{suite:.1f}"))
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        saved = Path(tmp) / "cache"
        if CACHE.exists():
            shutil.move(CACHE, saved)  # a cold build: no executed notebooks to reuse
        try:
            rows.append(("cold build, both languages (s)", f"{timed(*build_commands(site)):.1f}"))
            rows.append(("warm rebuild, nothing changed (s)", f"{timed(*build_commands(site)):.1f}"))
        finally:
            if saved.exists():
                shutil.rmtree(CACHE, ignore_errors=True)
                shutil.move(saved, CACHE)
        largest = max(site.rglob("*.html"), key=lambda p: p.stat().st_size)
        rows.append(("largest page (KB)", f"{largest.stat().st_size / 1024:.0f} ({largest.relative_to(site)})"))
        weights, indexes, table = [], {}, ""
        if shutil.which("chromium"):
            weights, indexes = page_weights(site)
            table = weight_table(weights, indexes)
    if weights:
        path, _, heaviest = max(weights, key=lambda w: w[2])
        over = [w[0] for w in weights if w[2] > PAGE_LIMIT]
        rows.append(("heaviest page, transfer (KB)", f"{heaviest / 1024:.0f} ({path})"))
        rows.append(("pages over 300 KB", ", ".join(over) or "none"))
        for lang, (raw, size) in sorted(indexes.items()):
            flag = " (over 1 MB)" if max(raw, size) > INDEX_LIMIT else ""
            rows.append((f"search index ({lang}), raw / transfer (KB)", f"{raw / 1024:.0f} / {size / 1024:.0f}{flag}"))
    else:
        rows.append(("page weights", "not measured: no chromium (bash tools/browser_deps.sh)"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    if table:
        print(f"\nTransfer weight of each page, KB (text gzipped; the search index apart):\n\n{table}")


if __name__ == "__main__":
    main()
