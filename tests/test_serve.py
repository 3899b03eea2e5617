"""`make serve`, the live preview (tools/serve.py): what a change rebuilds, and the served site
after a prose change, a broken edit and its fix."""

import time
import urllib.error
import urllib.request

from tools.project import LANGUAGES
from tools.serve import Preview, plan, running

BEFORE = {"docs/en/layers.md": "1", "docs/zh/layers.md": "1", "docs/en/figures/a.svg": "1",
          "snippets/layers.py": "1", "snippets/layers.zh.yml": "1", "outputs/cpu/layers.txt": "1",
          "mkdocs.yml": "1", "mkdocs.zh.yml": "1", "overrides/main.html": "1", "tools/mkdocs_hooks.py": "1",
          "tools/report.py": "1", "docs/glossary.yml": "1", "docs/search-words.zh.txt": "1"}


def changed(*paths, removed=()):
    """The plan after `paths` changed (or were added) and `removed` were removed."""
    now = {path: digest for path, digest in BEFORE.items() if path not in removed}
    return plan({lang: BEFORE for lang in LANGUAGES}, {**now, **dict.fromkeys(paths, "2")})


def test_an_edited_page_rebuilds_that_page_of_its_language_only():
    todo = changed("docs/en/layers.md", "docs/en/figures/a.svg")
    assert (todo.full, todo.pages, todo.snippets) == (set(), {"en": {"layers.md", "figures/a.svg"}}, set())


def test_a_new_or_removed_page_rebuilds_its_language():
    added, removed = changed("docs/zh/new.md"), changed(removed=["docs/en/layers.md"])
    assert (added.full, added.pages, removed.full, removed.pages) == ({"zh"}, {}, {"en"}, {})


def test_a_snippet_or_its_outputs_runs_that_snippet_and_builds_both_languages():
    for path in ("snippets/layers.py", "outputs/cpu/layers.txt"):
        todo = changed(path)
        assert (todo.snippets, todo.full, todo.pages) == ({"layers"}, set(LANGUAGES), {}), path


def test_a_languages_own_file_builds_that_language_and_a_shared_one_both():
    for path in ("snippets/layers.zh.yml", "mkdocs.zh.yml", "docs/search-words.zh.txt"):
        assert (changed(path).full, changed(path).snippets) == ({"zh"}, set()), path
    for path in ("mkdocs.yml", "overrides/main.html", "tools/mkdocs_hooks.py", "docs/glossary.yml"):
        assert changed(path).full == set(LANGUAGES), path


def test_another_tool_is_said_to_need_a_restart_and_builds_nothing():
    todo = changed("tools/report.py")
    assert (todo.restart, todo.builds()) == ({"tools/report.py"}, False)


def page_text(address: str) -> str:
    with urllib.request.urlopen(address, timeout=120) as response:
        return response.read().decode("utf-8")


def wait_for(condition, what: str, seconds: float = 180):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_the_preview_shows_a_prose_change_keeps_the_last_good_build_on_a_broken_one_and_recovers(
        site, project_copy):
    said = []
    preview = Preview(project_copy, say=said.append)
    preview.start(built=site)  # the session's build of these very files
    page = project_copy / "docs" / "en" / "layers.md"
    original = page.read_text(encoding="utf-8")
    title_end = original.index("\n", original.index("# ")) + 1

    def save(sentence: str) -> None:
        page.write_text(f"{original[:title_end]}\n{sentence}\n{original[title_end:]}", encoding="utf-8")

    with running(preview) as base:
        assert "Enabled live reload" in page_text(base + "layers/")  # MkDocs' script, which reloads the page
        save("A sentence the preview shows.")
        wait_for(lambda: "A sentence the preview shows." in page_text(base + "layers/"), "the new sentence served")
        assert "A sentence the preview shows." not in page_text(base + "zh/layers/")
        assert page_text(base + "zh/").count("<h1") >= 1

        save('A broken sentence.\n\n--8<-- "snippets/layers.py:no-such-section"')
        wait_for(lambda: any("build failed" in line for line in said), "the error printed")
        failure = next(line for line in said if "build failed" in line)
        assert "docs/en/layers.md:" in failure and "no-such-section" in failure, failure
        served = page_text(base + "layers/")
        assert "A sentence the preview shows." in served and "A broken sentence." not in served

        save("A fixed sentence.")
        wait_for(lambda: "A fixed sentence." in page_text(base + "layers/"), "the fix served")
        try:
            page_text(base + "no-such-page/")
            raise AssertionError("a missing page was served")
        except urllib.error.HTTPError as error:
            assert error.code == 404 and "404" in error.read().decode("utf-8")
