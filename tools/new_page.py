"""`make new-page NAME=... TITLE=... TITLE_ZH=...`: a new chapter page, ready to fill in.

Creates snippets/<name>.py with a first section and a first exercise's solution, the Chinese of its comments in
snippets/<name>.zh.yml, the page in both languages with the include lines in place (the
Chinese page recording the English version it translates), and the navigation entries of both
languages, just before "Common mistakes".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tools.comments import HEADER
from tools.project import ROOT, docs_dir
from tools.translations import mark

SNIPPET = '''# {title}: the code of docs/en/{name}.md and docs/zh/{name}.md, one section per code block.

# --8<-- [start:setup]
import torch
from torch import nn

torch.manual_seed(0)  # the same random numbers on every run
net = nn.Linear(4, 2)
print(net(torch.ones(1, 4)).shape)
# --8<-- [end:setup]

# --8<-- [start:exercise-count-parameters]
print(sum(p.numel() for p in net.parameters()))
# --8<-- [end:exercise-count-parameters]
'''

COMMENTS = HEADER.format(language="Chinese", page="{name}") + (
    "the same random numbers on every run: 每次运行都得到相同的随机数\n")

PAGE = '''# {title}{heading_id}

{intro}

```python
--8<-- "snippets/{name}.py:setup"
```

```{{ .text .output .no-copy }}
--8<-- "outputs/cpu/{name}.txt:setup"
```

## {exercises} {{ #exercises }}

### {count} {{ #exercise-count-parameters }}

{task}

??? success "{solution}"

    {answer}

    ```python
    --8<-- "snippets/{name}.py:exercise-count-parameters"
    ```

    ```{{ .text .output .no-copy }}
    --8<-- "outputs/cpu/{name}.txt:exercise-count-parameters"
    ```
'''

WORDS = {  # the page's own words, to be rewritten; the exercise is the first of four to six
    "en": {"intro": "What this chapter teaches, in a few sentences.", "exercises": "Exercises",
           "count": "Count the parameters", "solution": "Solution",
           "task": "How many parameters has `nn.Linear(4, 2)`? Count by hand first.",
           "answer": "4 × 2 weights and 2 biases: 10."},
    "zh": {"intro": "用几句话说明本章讲什么。", "exercises": "练习", "count": "数一数参数", "solution": "参考答案",
           "task": "`nn.Linear(4, 2)` 有多少个参数？先手算。", "answer": "4 × 2 个权重加 2 个偏置：10 个。"},
}
NAV_BEFORE = {"mkdocs.yml": "mistakes.md", "mkdocs.zh.yml": "mistakes.md"}


def create(name: str, title: str, title_zh: str, root: Path = ROOT) -> list[Path]:
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        raise SystemExit(f"NAME={name!r}: use lowercase words joined by hyphens, e.g. NAME=optimizers")
    paths = {
        "snippet": root / "snippets" / f"{name}.py",
        "comments": root / "snippets" / f"{name}.zh.yml",
        "en": docs_dir("en", root) / f"{name}.md",
        "zh": docs_dir("zh", root) / f"{name}.md",
    }
    for path in paths.values():
        if path.exists():
            raise SystemExit(f"{path.relative_to(root)} exists already")
    paths["snippet"].write_text(SNIPPET.format(title=title, name=name), encoding="utf-8")
    paths["comments"].write_text(COMMENTS.format(name=name), encoding="utf-8")
    paths["en"].write_text(PAGE.format(title=title, heading_id="", name=name, **WORDS["en"]), encoding="utf-8")
    slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-")
    paths["zh"].write_text(PAGE.format(title=title_zh, heading_id=f" {{ #{slug} }}", name=name, **WORDS["zh"]),
                           encoding="utf-8")
    mark(paths["zh"], root)
    for config, entry in (("mkdocs.yml", f"  - {title}: {name}.md"), ("mkdocs.zh.yml", f"  - {title_zh}: {name}.md")):
        path = root / config
        text = path.read_text(encoding="utf-8")
        anchor = re.search(rf"(?m)^  - [^\n]*: {re.escape(NAV_BEFORE[config])}$", text)
        if not anchor:
            raise SystemExit(f"{config}: no nav entry for {NAV_BEFORE[config]} to insert the new page before")
        path.write_text(text[: anchor.start()] + entry + "\n" + text[anchor.start():], encoding="utf-8")
    return list(paths.values())


if __name__ == "__main__":
    if len(sys.argv) != 4 or not all(sys.argv[1:]):
        raise SystemExit('usage: make new-page NAME=my-page TITLE="English title" TITLE_ZH="中文标题"')
    for path in create(*sys.argv[1:]):
        print(f"created {path.relative_to(ROOT)}")
    print("added the page to the nav of mkdocs.yml and mkdocs.zh.yml")
