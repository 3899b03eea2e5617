"""The links in each page's head to the same page in every language (hreflang), for search
engines: absolute addresses, with x-default, the source language's page, for readers of any
other language. overrides/main.html writes them; tools/mkdocs_hooks.py gives it `roots()` and
copies Material's script with `without_sitemap_fetch()`.

Material's script fetches `sitemap.xml` next to the address of every `link[rel=alternate]` in
the document, to redirect clicks on links to another language through that language's sitemap.
Next to a page's address there is no sitemap (`layers/sitemap.xml`): each page would request a
missing file and log a console error. The language menu (overrides/partials/alternate.html)
goes to the same page itself and opts out of that redirect (target="_self"), so nothing uses
those fetches: the copy of the script the site serves selects no link for them.
"""

from __future__ import annotations

from tools.project import LANGUAGES, SOURCE, site_url

BUNDLE = "assets/javascripts/bundle.{}.min.js"  # Material's script, named by its hash
SELECTOR = '"link[rel=alternate]"'
# A link would opt in to Material's sitemap redirect with this attribute; none of ours has it.
OPT_IN = '"link[rel=alternate][data-md-sitemap]"'


def roots() -> dict[str, str]:
    """hreflang -> the address of that language's home page; a page's link is its root plus
    the page's path, which is the same in every language. x-default: the source language."""
    return {**{lang: site_url(lang) for lang in LANGUAGES}, "x-default": site_url(SOURCE)}


def without_sitemap_fetch(script: str, name: str) -> str:
    """Material's script, selecting none of the head's language links for its sitemap fetch."""
    if script.count(SELECTOR) != 1:
        raise ValueError(
            f"{name}: Material's script no longer selects {SELECTOR} exactly once (found "
            f"{script.count(SELECTOR)}), so tools/language_links.py cannot stop it fetching a "
            "sitemap.xml next to every page's language links. Find how this Material release "
            "fetches the sitemaps of link[rel=alternate] and update without_sitemap_fetch().")
    return script.replace(SELECTOR, OPT_IN)
