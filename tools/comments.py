"""The comments of the code in every language: written once in English, translated once per file.

The snippet files keep their English comments. `snippets/<page>.<lang>.yml` maps each English
comment of `snippets/<page>.py` (as written there, without the `# `) to its translation:

    the same random numbers on every run: 每次运行都得到相同的随机数

The pages of that language show the snippet with the translated comments: the build writes a
translated copy of each snippet file (same lines, only comments changed) that the language's
include lines read. Code is never translated, and neither is what the code prints.
`make comments` adds the English comments that have no translation yet (as empty entries to
fill in) and drops the entries whose English comment is gone.
"""

from __future__ import annotations

import functools
import io
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.project import CACHE, ROOT, SOURCE, TRANSLATIONS, under
from tools.snippets import MARKER, SnippetError, parse_sections, snippet_files

HEADER = ("# {language} for the comments of snippets/{page}.py: each English comment as written there\n"
          "# (without the leading '# '), then its translation. `make comments` adds new comments, empty.\n")
LANGUAGE = {"zh": "Chinese"}


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str  # without the leading "#" and the space after it


def comments(code: str) -> list[Comment]:
    """The comments of Python code, section markers left out."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT and not MARKER.match(token.string):
            found.append(Comment(token.start[0], token.start[1], token.string[1:].removeprefix(" ")))
    return found


def code_tokens(code: str) -> list[tuple[int, str]]:
    """The tokens of Python code without its comments: what two languages' code must share."""
    tokens = tokenize.generate_tokens(io.StringIO(textwrap.dedent(code)).readline)
    return [(t.type, t.string) for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)]


def shown_comments(snippet: Path) -> list[Comment]:
    """The comments a reader sees: those inside the file's sections."""
    inside = {s.first_line + i for s in parse_sections(snippet) for i in range(s.code.count("\n"))}
    return [c for c in comments(snippet.read_text(encoding="utf-8")) if c.line in inside]


def translation_file(snippet: Path, lang: str) -> Path:
    return snippet.with_name(f"{snippet.stem}.{lang}.yml")


def load(snippet: Path, lang: str) -> dict[str, tuple[str, int]]:
    """English comment -> (translation, line of the entry in the translation file)."""
    path = translation_file(snippet, lang)
    if not path.exists():
        return {}
    where = path.relative_to(snippet.parent.parent)
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SnippetError(f"{where}{line}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise SnippetError(f"{where}: must map each English comment to its translation")
    entries = {}
    for key, value in node.value:
        if not isinstance(value, yaml.ScalarNode) or not isinstance(key, yaml.ScalarNode):
            raise SnippetError(f"{where}:{key.start_mark.line + 1}: each entry is `English comment: translation`")
        entries[str(key.value)] = (str(value.value), key.start_mark.line + 1)
    return entries


def translate(code: str, translations: dict[str, str]) -> str:
    """`code` with each comment that has a translation replaced by it (columns kept)."""
    lines = code.splitlines(keepends=True)
    for comment in comments(code):
        if comment.text in translations:
            line = lines[comment.line - 1]
            ending = line[len(line.rstrip("\r\n")):]
            lines[comment.line - 1] = f"{line[:comment.column]}# {translations[comment.text]}{ending}"
    return "".join(lines)


def translated_root(lang: str, root: Path = ROOT) -> Path:
    """A folder where `snippets/<page>.py` is the snippet with its comments in `lang`; include
    lines of that language's pages read it before the project's own folder."""
    folder = under(root, CACHE) / "i18n" / lang
    for snippet in snippet_files(root):
        table = translation_file(snippet, lang)
        text = _translated(snippet, snippet.read_text(encoding="utf-8"),
                           table.read_text(encoding="utf-8") if table.exists() else "", lang)
        target = folder / "snippets" / snippet.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return folder


def shown_sections(snippet: Path, lang: str, root: Path = ROOT) -> list[str]:
    """A snippet's sections as a page in `lang` shows them: the code, with that language's comments."""
    if lang != SOURCE:
        snippet = translated_root(lang, root) / "snippets" / snippet.name
    return [textwrap.dedent(section.code).rstrip("\n") for section in parse_sections(snippet)]


@functools.cache
def _translated(snippet: Path, code: str, _table: str, lang: str) -> str:
    """The snippet's code with its comments in `lang` (cached by the texts of both files)."""
    return translate(code, {english: text for english, (text, _) in load(snippet, lang).items() if text.strip()})


def problems(root: Path = ROOT) -> list[str]:
    """Comments without a translation, empty translations, and translations of comments that
    are gone, each naming the file and line."""
    found = []
    for lang in TRANSLATIONS:
        for snippet in snippet_files(root):
            name, table = snippet.relative_to(root), translation_file(snippet, lang).relative_to(root)
            try:
                entries = load(snippet, lang)
            except SnippetError as error:
                found.append(str(error))
                continue
            shown = shown_comments(snippet)
            for comment in shown:
                if comment.text not in entries:
                    found.append(f"{name}:{comment.line}: the comment {comment.text!r} has no translation in "
                                 f"{table}: run `make comments`, then translate it there")
            texts = {comment.text for comment in shown}
            for english, (translation, line) in entries.items():
                if english not in texts:
                    found.append(f"{table}:{line}: translates {english!r}, which is no comment of {name} any more "
                                 "(`make comments` drops it)")
                elif not translation.strip():
                    found.append(f"{table}:{line}: the translation of {english!r} is empty")
                elif translation.strip() == english and english.isascii():
                    found.append(f"{table}:{line}: the translation of {english!r} is the English comment itself")
                elif "\n" in translation.strip():
                    found.append(f"{table}:{line}: the translation of {english!r} must be one line, as the comment is")
        for table in sorted((root / "snippets").glob(f"*.{lang}.yml")):
            if not table.with_name(table.name.removesuffix(f".{lang}.yml") + ".py").exists():
                found.append(f"{table.relative_to(root)}: there is no snippet file of that name")
    return found


def sync(snippet: Path, lang: str) -> list[str]:
    """Rewrite the translation file in the order of the comments: new comments get an empty
    entry, entries of comments that are gone are dropped. Returns what changed."""
    entries = {english: text for english, (text, _) in load(snippet, lang).items()}
    shown = list(dict.fromkeys(c.text for c in shown_comments(snippet)))
    if not shown and not entries:
        return []
    kept = {english: entries.get(english, "") for english in shown}
    path = translation_file(snippet, lang)
    body = yaml.safe_dump(kept, allow_unicode=True, sort_keys=False, width=1000) if kept else ""
    text = HEADER.format(language=LANGUAGE.get(lang, lang), page=snippet.stem) + body
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    changes = [f"{path.name}: add {english!r}" for english in shown if english not in entries]
    return changes + [f"{path.name}: drop {english!r} (was {old!r})" for english, old in entries.items()
                      if english not in kept]


if __name__ == "__main__":
    for snippet_path in snippet_files():
        for language in TRANSLATIONS:
            for change in sync(snippet_path, language):
                print(change)
    sys.exit(0)
