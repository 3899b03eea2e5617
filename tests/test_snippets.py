"""Every snippet runs, and prints the outputs stored in outputs/cpu/ and shown on the site (by the
outputs rule, tools/compare.py). `make check` reads back a run of unchanged code (REUSE_SNIPPET_RUNS)."""

import os

import pytest

from tools.snippets import SnippetError, output_differences, snippet_files


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
