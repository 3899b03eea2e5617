"""`make audit`: Lighthouse's four scores for the home page and one chapter in each language,
served under the site's own path (as GitHub Pages serves a repository's site, tools/browser.py).

It fails when accessibility, best practices or SEO is below 100 on any page, and names the
audits that failed, with the elements or addresses they found. Performance is printed, not
gated: the local server does not compress what it sends, and Pages does.

Lighthouse is the npm package pinned in package-lock.json (installed by `npm ci
--ignore-scripts`: no browser download); it drives the Chromium of tools/browser.py, headless.
Each page's reports stay in build/audit/ (<page>.report.html to read in a browser).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tools.browser import CHROMIUM_ARGS, chromium, served
from tools.pages import rel
from tools.project import BUILD, ROOT, SITE, SOURCE, TRANSLATIONS, site_url

# The home page, and one chapter in each language: (language, page below that language's root)
PAGES = ((SOURCE, ""), (SOURCE, "layers/"), (TRANSLATIONS[0], "devices/"))
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")  # Lighthouse's ids, in its order
GATED = ("accessibility", "best-practices", "seo")  # must be 100
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
REPORTS = BUILD / "audit"
SHOWN_ITEMS = 3  # per failing audit: enough to find the element, not the whole list
WIDTH = 160  # of an item's line


class AuditError(Exception):
    """The audit could not run: no Chromium, no Lighthouse, no site, or Lighthouse stopped."""


def page_path(lang: str, page: str) -> str:
    """A page's address below the site's root: "layers/", "zh/devices/"."""
    return site_url(lang)[len(site_url(SOURCE)):] + page


def lighthouse(url: str, output: Path, browser: str) -> dict:
    """Lighthouse's report on one address; its JSON and HTML reports are written beside `output`
    (output.report.json, output.report.html)."""
    command = [str(LIGHTHOUSE), url, "--output=json", "--output=html", f"--output-path={output}",
               "--chrome-flags=" + " ".join(["--headless=new", *CHROMIUM_ARGS]), "--no-enable-error-reporting"]
    result = subprocess.run(command, env={**os.environ, "CHROME_PATH": browser}, capture_output=True, text=True)
    if result.returncode:
        raise AuditError(f"Lighthouse failed on {url} (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(output.with_name(output.name + ".report.json").read_text(encoding="utf-8"))


def scores(report: dict) -> dict[str, int | None]:
    """Each category's score out of 100; None where Lighthouse could not score it."""
    return {category: None if report["categories"][category]["score"] is None
            else round(100 * report["categories"][category]["score"]) for category in CATEGORIES}


def table(reports: dict[str, dict]) -> str:
    """One row per page, one column per category."""
    width = max(len("page"), *map(len, reports))
    rows = [f"{'page':<{width}}  " + "  ".join(CATEGORIES)]
    for page, report in reports.items():
        cells = ["-" if score is None else str(score) for score in scores(report).values()]
        rows.append(f"{page:<{width}}  " + "  ".join(f"{cell:>{len(name)}}" for cell, name in zip(cells, CATEGORIES)))
    return "\n".join(rows)


def failures(report: dict) -> list[str]:
    """Why a page fails the gate: each gated category below 100, with its failed audits (those
    that count towards the score: weight above 0) and the first items each one found."""
    lines = []
    if report.get("runtimeError"):
        lines.append(f"Lighthouse could not audit the page: {report['runtimeError'].get('message', '')}")
    for category, score in scores(report).items():
        if category not in GATED or score == 100:
            continue
        lines.append(f"{category}: {'not scored' if score is None else score}")
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                lines.append(f"  {audit['id']}: {audit['title']}")
                items = (audit.get("details") or {}).get("items") or []
                lines += [f"    {_item(item)}"[:WIDTH] for item in items[:SHOWN_ITEMS]]
                if len(items) > SHOWN_ITEMS:
                    lines.append(f"    and {len(items) - SHOWN_ITEMS} more (see the HTML report)")
    return lines


def _item(item: dict) -> str:
    """An item of an audit, in a line: the element or address, and why it failed."""
    places = [item.get(key) for key in ("node", "source", "sourceLocation")]
    where = next((place.get("snippet") or place.get("url") for place in places
                  if isinstance(place, dict) and (place.get("snippet") or place.get("url"))), None)
    what = item.get("description") or item.get("url") or item.get("label")
    reasons = [sub["reason"] for sub in (item.get("subItems") or {}).get("items", []) if "reason" in sub]
    text = " ".join(str(part) for part in (where, what) if part) or json.dumps(item, ensure_ascii=False)
    return " ".join(text.split()) + (f" ({'; '.join(reasons)})" if reasons else "")


def address() -> tuple[str, int]:
    """Where the site is served: under its own path ("/pytorch-models/" locally, "/REPOSITORY/"
    on GitHub Pages), and on its own port where the site was built for this machine (a local
    build, http://127.0.0.1:8000/pytorch-models/), so that the pages' absolute links (canonical,
    language links) lead to the site served, as on the published one. A site built for the web
    (CI's build on main) is served on a free port."""
    url = urlsplit(site_url(SOURCE))
    return url.path, (url.port or 80) if url.hostname in ("127.0.0.1", "localhost") else 0


def main(site: Path = SITE) -> int:
    browser = chromium()
    if browser is None:
        raise AuditError(f"no Chromium: install Debian's chromium (make browser-deps) or name one in $CHROMIUM "
                         f"(it is {os.environ.get('CHROMIUM', 'unset')})")
    if not LIGHTHOUSE.exists():
        raise AuditError(f"{rel(LIGHTHOUSE)} is missing: `make audit` installs it (npm ci)")
    if not (site / "index.html").exists():
        raise AuditError(f"{site} holds no built site: `make audit` builds site/ (make build)")
    REPORTS.mkdir(parents=True, exist_ok=True)
    base, port = address()
    reports = {}
    with contextlib.ExitStack() as stack:
        try:
            root = stack.enter_context(served(site, base, port))
        except OSError as error:
            raise AuditError(f"cannot serve the site on port {port} ({error.strerror}): "
                             "stop what uses it (make serve?) and run the audit again") from None
        for lang, page in PAGES:
            path = page_path(lang, page)
            print(f"Lighthouse: {root}{path}", flush=True)
            reports[base + path] = lighthouse(root + path, REPORTS / (path.strip("/").replace("/", "-") or "home"),
                                              browser)
    print(f"\n{table(reports)}\n\n(reports: {rel(REPORTS)}/)", flush=True)
    failed = {page: lines for page, report in reports.items() if (lines := failures(report))}
    for page, lines in failed.items():
        print(f"\n{page} fails the audit:\n" + "\n".join(lines), file=sys.stderr)
    if failed:
        print(f"\n{', '.join(GATED)}: 100 on every page, or `make audit` fails (performance is not gated)",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(*map(Path, sys.argv[1:2])))  # another built site: python -m tools.audit FOLDER
    except AuditError as error:
        print(f"audit failed: {error}", file=sys.stderr)
        sys.exit(1)
