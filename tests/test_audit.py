"""`make audit`'s glue (tools/audit.py): the pages it audits, where it serves them, its score
table and its verdict, on reports shaped as Lighthouse 12.8.2 writes them (the two items are
copied from its reports). Lighthouse itself runs in `make audit`, not here."""

import json
import re
import urllib.request

import pytest

from tools import audit
from tools.project import ROOT, TRANSLATIONS, docs_dir

HREFLANG_ITEM = {  # an item of the `hreflang` audit, as Lighthouse 12.8.2 reported it on layers/
    "source": {"type": "node", "selector": "head > link", "nodeLabel": "head > link",
               "snippet": '<link rel="alternate" hreflang="en" href="../" />'},
    "subItems": {"type": "subitems", "items": [{"reason": "Relative href value"}]},
}
CONSOLE_ITEM = {  # an item of `errors-in-console`, from a report on layers/ with per-page language links
    "source": "network",
    "description": "Failed to load resource: the server responded with a status of 404 (Not Found)",
    "sourceLocation": {"type": "source-location", "url": "http://127.0.0.1:8000/pytorch-models/layers/sitemap.xml",
                       "urlProvider": "network", "line": 0, "column": 0},
}


def report(performance=0.46, failed=(), unweighted_failed=(), items=()) -> dict:
    """A Lighthouse report: every gated category at 100 except where an audit of `failed`
    (category, id) fails; audits in `unweighted_failed` fail with weight 0 (they count for nothing)."""
    audits, categories = {}, {"performance": {"score": performance, "auditRefs": []}}
    for category in audit.GATED:
        refs = [{"id": f"{category}-passes", "weight": 10}]  # one failed audit of weight 1: 91, as hreflang made SEO
        audits[f"{category}-passes"] = {"id": f"{category}-passes", "title": "Passes", "score": 1}
        for failing, id in failed:
            if failing == category:
                refs.append({"id": id, "weight": 1})
                audits[id] = {"id": id, "title": f"{id} failed", "score": 0,
                              "details": {"type": "table", "items": list(items)}}
        for failing, id in unweighted_failed:
            if failing == category:
                refs.append({"id": id, "weight": 0})
                audits[id] = {"id": id, "title": f"{id} is informative", "score": 0}
        weights = sum(ref["weight"] for ref in refs)
        score = sum(ref["weight"] * audits[ref["id"]]["score"] for ref in refs) / weights
        categories[category] = {"score": round(score, 2), "auditRefs": refs}
    return json.loads(json.dumps({"categories": categories, "audits": audits}))  # as read from a file


def test_the_audited_pages_are_the_home_page_and_a_chapter_in_each_language():
    paths = [audit.page_path(lang, page) for lang, page in audit.PAGES]
    assert paths == ["", "layers/", f"{TRANSLATIONS[0]}/devices/"]
    for lang, page in audit.PAGES:  # a renamed chapter must be renamed here too
        assert (docs_dir(lang) / (f"{page.strip('/')}.md" if page else "index.md")).is_file()


def test_a_page_at_100_passes_whatever_its_performance():
    assert audit.failures(report(performance=0.31)) == []
    assert audit.failures(report(unweighted_failed=[("seo", "structured-data")])) == []


@pytest.mark.parametrize("category", audit.GATED)
def test_a_failed_audit_fails_the_page_with_its_title_and_items(category):
    lines = audit.failures(report(failed=[(category, "hreflang")], items=[HREFLANG_ITEM] * 5,
                                  unweighted_failed=[(category, "structured-data")]))  # not named: no weight
    assert lines[0] == f"{category}: 91"
    assert lines[1] == "  hreflang: hreflang failed"
    assert lines[2] == '    <link rel="alternate" hreflang="en" href="../" /> (Relative href value)'
    assert len(lines) == 3 + audit.SHOWN_ITEMS and lines[-1] == "    and 2 more (see the HTML report)"


def test_a_console_error_is_shown_with_its_address():
    lines = audit.failures(report(failed=[("best-practices", "errors-in-console")], items=[CONSOLE_ITEM]))
    assert lines[2] == ("    http://127.0.0.1:8000/pytorch-models/layers/sitemap.xml "
                        "Failed to load resource: the server responded with a status of 404 (Not Found)")


def test_a_page_lighthouse_could_not_score_fails():
    unscored = report()
    for category in unscored["categories"].values():
        category["score"] = None
    unscored["runtimeError"] = {"code": "ERRORED_DOCUMENT_REQUEST", "message": "Status code: 404"}
    lines = audit.failures(unscored)
    assert lines[0] == "Lighthouse could not audit the page: Status code: 404"
    assert [line for line in lines if not line.startswith(" ")][1:] == [f"{c}: not scored" for c in audit.GATED]
    assert audit.table({"/x/": unscored}).splitlines()[1].split() == ["/x/", "-", "-", "-", "-"]


def test_the_table_has_a_row_of_four_scores_per_page():
    rows = audit.table({"/pytorch-models/": report(), "/pytorch-models/layers/": report(
        performance=0.69, failed=[("seo", "hreflang")])}).splitlines()
    assert rows[0].split() == ["page", *audit.CATEGORIES]
    assert rows[1].split() == ["/pytorch-models/", "46", "100", "100", "100"]
    assert rows[2].split() == ["/pytorch-models/layers/", "69", "100", "100", "91"]
    assert len({len(row) for row in rows}) == 1  # each score right-aligned under its heading


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:8000/pytorch-models/", ("/pytorch-models/", 8000)),
    ("https://someone.github.io/fork/", ("/fork/", 0)),  # built for the web: a free port
])
def test_the_site_is_served_under_its_path_and_on_its_port_where_local(monkeypatch, url, expected):
    monkeypatch.setenv("SITE_URL", url)
    assert audit.address() == expected


def test_main_audits_each_page_where_it_is_served_and_fails_on_one_below_100(tmp_path, monkeypatch, capsys):
    for lang, page in audit.PAGES:
        folder = tmp_path / audit.page_path(lang, page)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(f"<title>{page}</title>", encoding="utf-8")
    monkeypatch.setenv("SITE_URL", "https://someone.github.io/fork/")
    monkeypatch.setattr(audit, "REPORTS", tmp_path / "reports")
    monkeypatch.setattr(audit, "LIGHTHOUSE", ROOT / "tools" / "audit.py")  # any file: Lighthouse is faked
    asked = []

    def lighthouse(url, output, browser):  # the page Lighthouse would load is served there
        asked.append(url)
        assert urllib.request.urlopen(url).status == 200 and output.parent == tmp_path / "reports"
        return report(failed=[("seo", "hreflang")] if url.endswith("/layers/") else [], items=[HREFLANG_ITEM])

    monkeypatch.setattr(audit, "lighthouse", lighthouse)
    monkeypatch.setattr(audit, "chromium", lambda: "/usr/bin/chromium")
    assert audit.main(tmp_path) == 1
    assert [re.sub(r":\d+/", ":PORT/", url) for url in asked] == [
        f"http://127.0.0.1:PORT/fork/{audit.page_path(lang, page)}" for lang, page in audit.PAGES]
    out, err = capsys.readouterr()
    assert "/fork/layers/  " in out and "/fork/layers/ fails the audit:\nseo: 91\n  hreflang:" in err
    assert "/fork/ fails" not in err
