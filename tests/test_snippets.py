"""Every snippet runs, and prints the outputs stored in outputs/cpu/ and shown on the site (by the
outputs rule, tools/compare.py). `make check` reads back a run of unchanged code (REUSE_SNIPPET_RUNS)."""

import os

import pytest

from tools.snippets import SnippetError, cpu_seconds, output_differences, snippet_files


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda path: path.name)
def test_snippet_prints_its_stored_outputs(snippet):
    try:
        problems = output_differences(snippet, reuse=os.environ.get("REUSE_SNIPPET_RUNS") == "1")  # make check
    except SnippetError as error:
        pytest.fail(str(error), pytrace=False)
    if problems:
        pytest.fail(
            "\n\n".join(problems) + "\n\nIf the new output is right, regenerate the outputs with `make outputs`.",
            pytrace=False,
        )


def test_cpu_seconds_times_each_section_in_order(tmp_path):
    """What `make bench` prints per section (tools/bench.py)."""
    snippet = tmp_path / "snippets" / "busy.py"
    snippet.parent.mkdir()
    snippet.write_text("# --8<-- [start:idle]\nx = 1\n# --8<-- [end:idle]\n\n"
                       "# --8<-- [start:busy]\ny = sum(range(3_000_000))\n# --8<-- [end:busy]\n", encoding="utf-8")
    seconds = cpu_seconds(snippet)
    assert list(seconds) == ["idle", "busy"]
    assert 0 <= seconds["idle"] < seconds["busy"]
