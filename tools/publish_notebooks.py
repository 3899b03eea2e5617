"""The executed notebooks of a build, laid out as the branch that Colab opens them from.

`python -m tools.publish_notebooks` copies each language's downloads/<name>.ipynb of the built
site (the very notebooks readers download) to build/notebooks-branch/<lang>/<name>.ipynb
(tools/project.published_notebook), with a README. On main, CI pushes that folder as the one
commit of the repository's NOTEBOOKS_BRANCH, where the "Open in Colab" links point
(tools/project.colab_url).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tools.pages import rel
from tools.project import BRANCH_FILES, LANGUAGES, NOTEBOOKS_BRANCH, SITE, published_notebook, site_dir

README = """# Notebooks for Colab

CI writes this branch from the tested build of `main` (`tools/publish_notebooks.py`): each
chapter's executed notebook, in English (`en/`) and Chinese (`zh/`), which the site's
"Open in Colab" links open. Each deploy replaces the branch: edit the pages on `main`.

# 供 Colab 使用的 Notebook

本分支由 CI 从 `main` 分支测试通过的构建生成（`tools/publish_notebooks.py`）：每章执行过的
Notebook，英文版在 `en/`，中文版在 `zh/`，站点上的“在 Colab 中打开”链接打开的就是它们。每次部署
都会整个替换本分支，所以要修改页面，请在 `main` 分支上改。
"""


def publish(site: Path, folder: Path) -> list[str]:
    """Copy the site's notebooks into `folder` (made anew), as the branch holds them; returns
    their paths there. A language without notebooks is an error: its Colab links would break."""
    if folder.exists():
        shutil.rmtree(folder)
    published = []
    for lang in LANGUAGES:
        downloads = site_dir(lang, site) / "downloads"
        notebooks = sorted(downloads.glob("*.ipynb"))
        if not notebooks:
            raise SystemExit(f"{downloads}: no notebooks to publish: build the site first (make build)")
        for notebook in notebooks:
            path = published_notebook(lang, notebook.stem)
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, folder / path)
            published.append(path)
    (folder / "README.md").write_text(README, encoding="utf-8")
    return published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=SITE, help="the built site (default: site/)")
    parser.add_argument("--to", type=Path, default=BRANCH_FILES, help="the folder to lay the branch out in")
    args = parser.parse_args()
    published = publish(args.site, args.to)
    print(f"{len(published)} notebooks in {rel(args.to)}/, for the branch {NOTEBOOKS_BRANCH}")


if __name__ == "__main__":
    main()
