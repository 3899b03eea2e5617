"""Open in Colab: each chapter's line links its executed notebook in Colab, on the branch of the
repository that built the site, in the reader's language; the notebooks it names are the ones
the deploy publishes; a build with no repository on github.com has no such link."""

import re

import pytest

from tools.mkdocs_hooks import NOTEBOOK_LINE, notebook_line
from tools.pages import chapters
from tools.project import LANGUAGES, NOTEBOOKS_BRANCH, SOURCE, colab_url, repo_url, site_dir
from tools.publish_notebooks import publish

CHAPTERS = [page.stem for page in chapters(SOURCE)]
LINKS = {  # the line's links, in order: (text, target)
    "en": [("open it as a notebook", "notebooks/layers.ipynb"), ("download layers.ipynb", "downloads/layers.ipynb"),
           ("open it in Colab", "{colab}")],
    "zh": [("以 Notebook 形式查看", "notebooks/layers.ipynb"), ("下载 layers.ipynb", "downloads/layers.ipynb"),
           ("在 Colab 中打开", "{colab}")],
}


def links(line: str) -> list[tuple[str, str]]:
    return re.findall(r"\[([^\]]+)\]\(([^)]+)\)", line)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("repository", ["https://github.com/a-fork/pytorch-models",
                                        "https://github.com/a-fork/pytorch-models.git",
                                        "https://github.com/a-fork/pytorch-models/"])
def test_a_forks_line_opens_the_forks_notebook_in_the_readers_language(monkeypatch, lang, repository):
    monkeypatch.setenv("REPO_URL", repository)
    url = f"https://colab.research.google.com/github/a-fork/pytorch-models/blob/{NOTEBOOKS_BRANCH}/{lang}/layers.ipynb"
    assert colab_url(lang, "layers") == url
    assert links(notebook_line(lang, "layers")) == [(text, target.format(colab=url)) for text, target in LINKS[lang]]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("repository", [None, "", "https://github.example.com/team/pytorch-models"])
def test_without_a_repository_on_github_there_is_no_colab_link(monkeypatch, lang, repository):
    """A local build has no repository; Colab opens notebooks from github.com only."""
    if repository is None:
        monkeypatch.delenv("REPO_URL", raising=False)
    else:
        monkeypatch.setenv("REPO_URL", repository)
    assert colab_url(lang, "layers") is None
    assert notebook_line(lang, "layers") == NOTEBOOK_LINE[lang].format(name="layers")
    assert links(notebook_line(lang, "layers")) == LINKS[lang][:2]
    assert "colab" not in notebook_line(lang, "layers").lower()


def test_the_links_name_exactly_the_notebooks_the_deploy_publishes(site, tmp_path, monkeypatch):
    """What tools/publish_notebooks.py lays out for the branch (CI pushes that folder) is each
    language's downloads, byte for byte, at the paths the Colab links name, and nothing else."""
    published = publish(site, tmp_path / "branch")
    monkeypatch.setenv("REPO_URL", "https://github.com/a-fork/pytorch-models")
    prefix = f"https://colab.research.google.com/github/a-fork/pytorch-models/blob/{NOTEBOOKS_BRANCH}/"
    linked = [colab_url(lang, name).removeprefix(prefix) for lang in LANGUAGES for name in CHAPTERS]
    assert sorted(published) == sorted(linked)
    for lang in LANGUAGES:
        for name in CHAPTERS:
            download = site_dir(lang, site) / "downloads" / f"{name}.ipynb"
            path = colab_url(lang, name).removeprefix(prefix)
            assert (tmp_path / "branch" / path).read_bytes() == download.read_bytes(), path
    files = {p.relative_to(tmp_path / "branch").as_posix() for p in (tmp_path / "branch").rglob("*") if p.is_file()}
    assert files == {*published, "README.md"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_chapter_page_of_the_build_links_colab_as_its_repository_says(site, lang):
    """This build's pages (CI builds with the repository, a local build without): each chapter
    links its own notebook in Colab, in its language, or no page links Colab at all."""
    for name in CHAPTERS:
        page_html = (site_dir(lang, site) / name / "index.html").read_text(encoding="utf-8")
        links = re.findall(r'href="(https://colab\.research\.google\.com/[^"]*)"', page_html)
        expected = colab_url(lang, name)
        assert links == ([expected] if expected else []), f"{lang}/{name}: {links} (repository: {repo_url()})"
    if colab_url(lang, CHAPTERS[0]) is None:
        for path in site_dir(lang, site).rglob("*.html"):
            assert "colab.research.google.com" not in path.read_text(encoding="utf-8"), path


def test_publishing_a_site_without_notebooks_names_the_missing_folder(tmp_path):
    (tmp_path / "site").mkdir()
    with pytest.raises(SystemExit, match=r"site/downloads: no notebooks to publish"):
        publish(tmp_path / "site", tmp_path / "branch")
