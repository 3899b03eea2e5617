"""Figures on the site were drawn from the current snippets."""

from tools.figures import stale


def test_figures_are_current():
    problems = stale()
    assert not problems, "\n".join(problems)
