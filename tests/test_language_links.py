"""The head's language links (tools/language_links.py, overrides/main.html) against the Material
release installed: the block of its template that overrides/main.html replaces, and its script,
which the build changes. Checked without a build, so that a Material upgrade that breaks either
shows in `make check`; tests/test_site.py checks the links on every built page."""

import re
from pathlib import Path

import material
import pytest

from tools.language_links import BUNDLE, OPT_IN, SELECTOR, without_sitemap_fetch
from tools.project import ROOT

THEME = Path(material.__file__).parent / "templates"
BLOCK = re.compile(r"\{% block site_meta %\}(.*?)\{% endblock %\}", re.S)


def test_the_head_block_is_materials_but_for_the_language_links():
    theirs = BLOCK.search((THEME / "base.html").read_text(encoding="utf-8"))[1]
    ours = BLOCK.search((ROOT / "overrides" / "main.html").read_text(encoding="utf-8"))[1]
    theirs, n = re.subn(r"\{% if config\.extra\.alternate is iterable %\}.*?\{% endif %\}", "", theirs, flags=re.S)
    assert n == 1, "Material's head block no longer links the languages of config.extra.alternate"
    ours, n = re.subn(r"\{% if page\.canonical_url %\}\s*\{% for hreflang, root in .*?\{% endif %\}", "", ours,
                      flags=re.S)
    assert n == 1, "overrides/main.html: no language links in the head block"
    assert theirs.split() == ours.split(), (
        "Material's block site_meta (material/templates/base.html) changed: copy it into overrides/main.html "
        "again, with the language links of overrides/main.html in place of Material's")


def test_materials_script_selects_the_language_links_once_and_the_copy_none():
    scripts = sorted((THEME / Path(BUNDLE).parent).glob(Path(BUNDLE.format("*")).name))
    assert len(scripts) == 1, scripts
    copy = without_sitemap_fetch(scripts[0].read_text(encoding="utf-8"), scripts[0].name)
    assert SELECTOR not in copy and copy.count(OPT_IN) == 1


@pytest.mark.parametrize("script", ["", f"a({SELECTOR});b({SELECTOR})"])
def test_a_script_that_does_not_select_the_links_once_stops_the_build_with_a_message(script):
    with pytest.raises(ValueError, match=r"bundle\.x\.min\.js: Material's script no longer selects"):
        without_sitemap_fetch(script, "bundle.x.min.js")
