"""The pages of both languages: finding them, checking their includes, expanding them.

Pages live in `docs/<lang>/`, with the same file names in every language. A chapter page
`docs/<lang>/<name>.md` takes its code from `snippets/<name>.py` and its outputs
from `outputs/cpu/<name>.txt`, both through pymdownx.snippets include lines.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.comments import translated_root
from tools.project import LANGUAGES, ROOT, SOURCE, docs_dir
from tools.snippets import SnippetError, parse_sections, read_outputs

FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)  # a page's YAML front matter
HEADING = re.compile(r"^(#{1,6})\s+(?P<text>.*?)(?:\s*\{[^}]*#(?P<id>[^\s}]+)[^}]*\})?\s*$")
# A Markdown link or image to a file of the site (a page, a figure) or to an anchor of this page.
LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s#:]*\.(?:md|png|svg|jpg)|)(?P<anchor>#[^)\s]*)?\)"
)
INCLUDE = re.compile(r"""^\s*-{1,}8<-{1,}\s+(["']?)(?P<target>[^"'\s]+)\1\s*$""")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<mark>`{3,}|~{3,})\s*(?P<info>.*)$")


class PageError(Exception):
    """A page that does not fit the rules; the message names the file and line."""


@dataclass
class Fence:
    line: int  # 1-based line of the opening fence
    indent: str
    info: str
    body: list[str] = field(default_factory=list)
    end_line: int = 0

    @property
    def language(self) -> str:
        words = self.info.strip("{} ").split()
        first = next((w for w in words if w.startswith(".")), words[0] if words else "")
        return first.lstrip(".")

    @property
    def is_output(self) -> bool:
        return ".output" in self.info.split()

    @property
    def includes(self) -> list[str]:
        return [m["target"] for m in map(INCLUDE.match, self.body) if m]


def fences(text: str) -> list[Fence]:
    """Every fenced block of a Markdown text, also those indented inside tabs or admonitions."""
    found, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if current is None and match:
            current = Fence(number, match["indent"], match["info"].strip())
            mark = match["mark"]
        elif current is not None:
            stripped = line.strip()
            if stripped.startswith(mark[0] * len(mark)) and set(stripped) == {mark[0]}:
                current.end_line = number
                found.append(current)
                current = None
            else:
                current.body.append(line)
    return found


def pages(lang: str, root: Path = ROOT) -> list[Path]:
    return sorted(docs_dir(lang, root).rglob("*.md"))


def chapters(lang: str, root: Path = ROOT) -> list[Path]:
    """The pages with code: those that have a snippet file."""
    return [page for page in pages(lang, root) if snippet_for(page).exists()]


def snippet_for(page: Path) -> Path:
    """The snippet file that holds a chapter page's code (it may not exist)."""
    root = page.parents[2]
    return root / "snippets" / f"{page.stem}.py"


def rel(path: Path, root: Path = ROOT) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def read_yaml(path: Path, root: Path = ROOT, node: bool = False):
    """A YAML file's data (or, with `node`, its node tree, which knows each value's line); an
    error names the file and its line, as 'docs/glossary.yml", line 3', not '<unicode string>'."""
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    loader.name = rel(path, root)  # what PyYAML's error marks name
    try:
        return loader.get_single_node() if node else loader.get_single_data()
    finally:
        loader.dispose()


def check_includes(page: Path, root: Path = ROOT) -> None:
    """Fail, naming the page and line, on an include of a missing file or section."""
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        match = INCLUDE.match(line)
        if not match:
            continue
        target = match["target"]
        path_part, _, section = target.partition(":")
        where = f"{rel(page, root)}:{number}: include \"{target}\""
        path = root / path_part
        if not path.is_file():
            known = [rel(p, root) for p in (root / "snippets").glob("*.py")]
            known += [rel(p, root) for p in (root / "outputs").rglob("*.txt")]
            raise PageError(f"{where}: there is no file {path_part}{_did_you_mean(path_part, known)}")
        if section:
            names = _section_names(path)
            if section not in names:
                raise PageError(
                    f"{where}: {path_part} has no section '{section}'{_did_you_mean(section, names)}"
                )


def _section_names(path: Path) -> list[str]:
    try:
        return [s.name for s in parse_sections(path)] if path.suffix == ".py" else list(read_outputs(path))
    except SnippetError as error:
        raise PageError(str(error)) from None


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def markdown_settings(root: Path = ROOT) -> dict:
    """The `markdown_extensions` of mkdocs.yml, read without loading MkDocs (or its hooks)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda *_: None)  # `!relative` and Python tags: not needed here
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    settings = {}
    for entry in config["markdown_extensions"]:
        settings.update(entry if isinstance(entry, dict) else {entry: {}})
    return settings


@functools.cache
def _snippets_preprocessor(root: Path, lang: str):
    """pymdownx.snippets configured as mkdocs.yml configures it, reading a language's
    translated snippets (tools/comments.py) before the project's own files."""
    import markdown

    settings = dict(markdown_settings(root)["pymdownx.snippets"])
    settings["base_path"] = [str(root)]  # `!relative $config_dir`, resolved
    if lang != SOURCE:
        settings["base_path"].insert(0, str(translated_root(lang, root)))
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": settings})
    return md.preprocessors["snippet"]


def expand(text: str, root: Path = ROOT, lang: str = SOURCE) -> str:
    """A page's text with its include lines replaced, as the site shows it in `lang`: code
    with that language's comments. Run check_includes first for errors that name the page."""
    if lang != SOURCE:
        translated_root(lang, root)  # the translated copies follow the current snippets
    return "\n".join(_snippets_preprocessor(root, lang).run(text.splitlines())) + "\n"


CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"  # Han characters and full-width punctuation
BLOCK_START = re.compile(r"^\s*(?:#|[-*+] |\d+\. |\||>|!!!|\?\?\?|===|<|\{|```|~~~)")


def join_chinese_lines(markdown: str) -> str:
    """Paragraph lines that break between two Chinese characters, joined: browsers show a line
    break there as a space, which Chinese text does not have. Code and block starts are kept."""
    lines = markdown.split("\n")
    code = {n - 1 for f in fences(markdown) for n in range(f.line, f.end_line + 1)}
    out: list[str] = []
    for number, line in enumerate(lines):
        previous = out[-1] if out else ""
        quoted = re.match(r"\s*> ?", line) if re.match(r"\s*>", previous) else None  # a quote's next line
        rest = line[quoted.end():] if quoted else line
        if (out and number not in code and number - 1 not in code and re.search(CJK + "$", previous)
                and re.match(r"\s*" + CJK, rest) and (quoted or not BLOCK_START.match(line))):
            out[-1] = previous + rest.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


BLOCK = re.compile(r"^(?P<indent>\s*)(?:!!!|\?\?\?\+?|===)\s")


def unfold(text: str) -> str:
    """The text with admonitions, collapsible blocks and tabs opened flat, line for line: each
    block's first line becomes blank and its body loses one level of indentation, so that
    what they hold (an exercise's solution, say) reads as top-level Markdown."""
    out, blocks = [], []  # blocks: the indentation of each block the current line is in
    for line in text.splitlines():
        while blocks and line.strip() and not line.startswith(blocks[-1] + "    "):
            blocks.pop()
        depth = len(blocks)
        match = BLOCK.match(line)
        if match and len(match["indent"]) == 4 * depth:
            blocks.append(match["indent"])
            out.append("")
            continue
        out.append(line[4 * depth:] if line.strip() else "")
    return "\n".join(out) + "\n"


def page_problems(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with one page, each problem naming the file and line."""
    name = rel(page, root)
    try:
        check_includes(page, root)
    except PageError as error:
        return [str(error)]
    snippet = snippet_for(page)
    own_code, own_output = rel(snippet, root), f"outputs/cpu/{snippet.stem}.txt"
    problems, shown, last_code = [], [], None
    for fence in fences(page.read_text(encoding="utf-8")):
        where = f"{name}:{fence.line}"
        if fence.language == "python" and not fence.is_output:
            if len(fence.body) != 1 or len(fence.includes) != 1:
                problems.append(f"{where}: a code block must be one include line of a section of {own_code}")
                continue
            path, _, section = fence.includes[0].partition(":")
            if path != own_code or not section:
                problems.append(f"{where}: includes \"{fence.includes[0]}\"; this page's code is in {own_code}")
                continue
            shown.append(section)
            last_code = (section, where)
        elif fence.is_output:
            target = fence.includes[0] if len(fence.body) == 1 and fence.includes else None
            path, _, section = (target or "").partition(":")
            if target is None or not path.startswith("outputs/") or not path.endswith(f"/{snippet.stem}.txt"):
                problems.append(f"{where}: an output block must be one include line of {own_output}")
            elif last_code is None or section != last_code[0]:
                problems.append(f"{where}: shows the output of '{section}' after the code of "
                                f"'{last_code[0] if last_code else 'nothing'}'")
    if not snippet.exists():
        return problems
    sections = [s.name for s in parse_sections(snippet)]
    if shown != sections:
        missing = [s for s in sections if s not in shown]
        detail = f"missing {missing}" if missing else f"shown in the order {shown}"
        problems.append(f"{name}: must show every section of {own_code} once, in order: {detail}")
    printed = read_outputs(root / own_output)
    text = page.read_text(encoding="utf-8")
    for section in printed:
        if f'"{own_output}:{section}"' not in text:
            problems.append(f"{name}: section '{section}' prints something; show {own_output}:{section} under its code")
    return problems + exercise_problems(page, root)


EXERCISES = (4, 6)  # how many exercises a chapter ends with
SOLUTION = re.compile(r"^\?\?\?\+?\s+success(?:\s+\"(?P<title>[^\"]*)\")?\s*$")  # an exercise's folded solution


def exercise_problems(page: Path, root: Path = ROOT) -> list[str]:
    """A chapter ends with its exercises: the last `##` section, `{ #exercises }`, holding 4 to 6
    `### ... { #exercise-... }`, each with a folded `??? success` solution that runs code."""
    name, lines = rel(page, root), page.read_text(encoding="utf-8").splitlines()
    code = {n for f in fences("\n".join(lines)) for n in range(f.line, f.end_line + 1)}
    sections = [(n, HEADING.match(line)) for n, line in enumerate(lines, 1)
                if n not in code and HEADING.match(line) and len(HEADING.match(line)[1]) == 2]
    if not sections or sections[-1][1]["id"] != "exercises":
        return [f"{name}: a chapter ends with its exercises: a last section `## ... {{ #exercises }}`"]
    start = sections[-1][0]
    exercises = [n for n, line in enumerate(lines, 1) if n > start and n not in code and line.startswith("### ")]
    problems = []
    if not EXERCISES[0] <= len(exercises) <= EXERCISES[1]:
        count = f"{len(exercises)} exercise{'' if len(exercises) == 1 else 's'}"
        problems.append(f"{name}:{start}: {count}; a chapter has {EXERCISES[0]} to {EXERCISES[1]}")
    for first, end in zip(exercises, [*exercises[1:], len(lines) + 1]):
        heading = HEADING.match(lines[first - 1])
        if not heading or not (heading["id"] or "").startswith("exercise-"):
            problems.append(f"{name}:{first}: an exercise's heading needs an id `{{ #exercise-... }}`")
        body = lines[first:end - 1]
        solution = next((i for i, line in enumerate(body) if SOLUTION.match(line)), None)
        if solution is None:
            problems.append(f"{name}:{first}: the exercise has no folded solution (`??? success \"...\"`)")
        elif not any(line.strip().startswith("```") and "python" in line for line in body[solution:]):
            problems.append(f"{name}:{first}: the exercise's solution shows no code that runs")
    return problems


def parity_problems(root: Path = ROOT) -> list[str]:
    """Both languages have the same pages, and each pair the same includes in the same order,
    the same heading ids and the same links to other pages."""
    by_lang = {lang: {p.relative_to(docs_dir(lang, root)): p for p in pages(lang, root)} for lang in LANGUAGES}
    first, *others = LANGUAGES
    problems = []
    for lang in others:
        for missing_in, present_in in ((lang, first), (first, lang)):
            for path in sorted(set(by_lang[present_in]) - set(by_lang[missing_in])):
                problems.append(f"docs/{present_in}/{path} has no counterpart docs/{missing_in}/{path}")
        for path in sorted(set(by_lang[first]) & set(by_lang[lang])):
            pair = (by_lang[first][path], by_lang[lang][path])
            problems += _include_differences(path, first, lang, *pair)
            problems += _heading_differences(path, first, lang, *pair)
            a, b = (Counter(internal_links(page)) for page in pair)
            if a != b:
                only_a, only_b = sorted((a - b).elements()), sorted((b - a).elements())
                problems.append(f"docs/{lang}/{path}: links to other pages differ from docs/{first}/{path}'s: "
                                f"only in {first}: {only_a}, only in {lang}: {only_b}")
    return problems


def _heading_differences(path: Path, first: str, lang: str, page_a: Path, page_b: Path) -> list[str]:
    """The first heading whose id differs from the other language's, with both lines."""
    a, b = headings(page_a), headings(page_b)
    for (line_a, _, id_a), (line_b, text_b, id_b) in zip(a, b):
        if id_a != id_b:
            return [f"docs/{lang}/{path}:{line_b}: the heading '{text_b}' has the id '{id_b}' where "
                    f"docs/{first}/{path}:{line_a} has '{id_a}': end it with {{ #{id_a} }}"]
    if len(a) != len(b):
        longer, extra = (first, a) if len(a) > len(b) else (lang, b)
        line, text, _ = extra[min(len(a), len(b))]
        return [f"docs/{longer}/{path}:{line}: the heading '{text}' has no counterpart on the other language's page"]
    return []


def _include_differences(path: Path, first: str, lang: str, page_a: Path, page_b: Path) -> list[str]:
    a, b = _include_lines(page_a), _include_lines(page_b)
    for (line_a, target_a), (line_b, target_b) in zip(a, b):
        if target_a != target_b:
            return [f"docs/{first}/{path}:{line_a} includes \"{target_a}\" where "
                    f"docs/{lang}/{path}:{line_b} includes \"{target_b}\""]
    if len(a) != len(b):
        longer, extra = (first, a) if len(a) > len(b) else (lang, b)
        line, target = extra[min(len(a), len(b))]
        return [f"docs/{longer}/{path}:{line} includes \"{target}\", which the other language's page does not"]
    return []


def prose_lines(page: Path) -> list[tuple[int, str]]:
    """The page's lines outside code fences, with their 1-based numbers."""
    text = page.read_text(encoding="utf-8")
    in_code = {n for f in fences(text) for n in range(f.line, f.end_line + 1)}
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if n not in in_code]


def heading_ids(page: Path) -> list[str]:
    """The ids of a page's headings: explicit `{ #id }`, else what the site's slugify makes."""
    return [anchor for _, _, anchor in headings(page)]


def headings(page: Path) -> list[tuple[int, str, str]]:
    """(line, text, id) of each heading of a page."""
    from pymdownx.slugs import slugify

    slug = slugify(case="lower")
    found = []
    for number, line in prose_lines(page):
        match = HEADING.match(line)
        if match:
            text = re.sub(r"[`*]", "", match["text"])  # as rendered: code and emphasis marks gone
            found.append((number, match["text"], match["id"] or slug(text, "-")))
    return found


def internal_links(page: Path) -> list[str]:
    """Links to other pages of the site (`page.md#anchor`)."""
    prose = "\n".join(line for _, line in prose_lines(page))  # a link's text may run over two lines
    return [m["target"] + (m["anchor"] or "") for m in LINK.finditer(prose) if m["target"].endswith(".md")]


def _include_lines(page: Path) -> list[tuple[int, str]]:
    lines = page.read_text(encoding="utf-8").splitlines()
    return [(n, m["target"]) for n, m in enumerate(map(INCLUDE.match, lines), 1) if m]


def page_link_problems(root: Path = ROOT) -> list[str]:
    """Every link of every page to a page, heading or figure of the site, checked in the source
    of each language: the file and line of a broken link, and what it lacks."""
    from tools.project import LANGUAGE_NAMES

    problems = []
    for lang in LANGUAGES:
        base = docs_dir(lang, root)
        for page in pages(lang, root):
            numbered = prose_lines(page)
            prose = "\n".join(line for _, line in numbered)  # a link's text may run over two lines
            for match in LINK.finditer(prose):
                line = numbered[prose.count("\n", 0, match.start())][0]
                target = (page.parent / match["target"]).resolve() if match["target"] else page
                link = (match["target"] or "") + (match["anchor"] or "")
                where = f"{rel(page, root)}:{line}: the link ({link})"
                if not target.is_file() or not target.is_relative_to(base):
                    problems.append(f"{where} leads to no file of the {LANGUAGE_NAMES[lang]} pages "
                                    f"(docs/{lang}/{match['target']}): correct the link, or add the page")
                    continue
                anchor = (match["anchor"] or "#")[1:]
                if not anchor or target.suffix != ".md" or "<!-- " in target.read_text(encoding="utf-8"):
                    continue  # a figure, or a page whose sections the build makes (the mistakes, the glossary)
                if anchor not in heading_ids(target):
                    known = _did_you_mean(anchor, heading_ids(target))
                    problems.append(f"{where}: {rel(target, root)} has no heading with the id '{anchor}'{known}")
    return problems


def nav_problems(root: Path = ROOT) -> list[str]:
    """Every page is in each language's navigation, and the navigations list the pages in the
    same order; a problem names the configuration file, the line and the entry to add."""
    from tools.project import config_file

    navs = {lang: _nav(config_file(lang, root)) for lang in LANGUAGES}
    problems = []
    for lang, entries in navs.items():
        config, listed = config_file(lang, root).name, [page for _, page in entries]
        for page in pages(lang, root):
            name = page.relative_to(docs_dir(lang, root)).as_posix()
            if name not in listed:
                problems.append(f"{config}: the navigation (nav:) has no entry for {name}: add "
                                f"'  - {title(page)}: {name}' where the other language lists it")
    first, *others = LANGUAGES
    for lang in others:
        if sorted(page for _, page in navs[first]) != sorted(page for _, page in navs[lang]):
            continue  # said above: a page missing from one navigation
        for (line_a, a), (line_b, b) in zip(navs[first], navs[lang]):
            if a != b:
                problems.append(f"{config_file(lang, root).name}:{line_b}: the navigation lists {b} where "
                                f"{config_file(first, root).name}:{line_a} lists {a}: list the pages in the same order")
                break
    return problems


NAV_ENTRY = re.compile(r"^\s+-\s+.+?:\s*(?P<page>\S+\.md)\s*$")  # a title may hold a colon, or quotes


def _nav(config: Path) -> list[tuple[int, str]]:
    """(line, page) of each entry under `nav:` in a MkDocs configuration."""
    entries, inside = [], False
    for number, line in enumerate(config.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"^nav:\s*$", line):
            inside = True
        elif inside and line and not line.startswith((" ", "#")):
            inside = False
        elif inside and NAV_ENTRY.match(line):
            entries.append((number, NAV_ENTRY.match(line)["page"]))
    return entries


def title(page: Path) -> str:
    """A page's H1, without an explicit id."""
    first = next((line for _, line in prose_lines(page) if line.startswith("# ")), f"# {page.stem}")
    return re.sub(r"\s*\{[^}]*\}\s*$", "", first[2:]).strip()
