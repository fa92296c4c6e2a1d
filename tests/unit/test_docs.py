"""The README and the manual (``docs/*.md``) say only what is true of this checkout.

* Every relative link resolves to a file of the repository, and a ``#section`` to a
  heading of that file.
* Every repository path they name (``factory/scene/config.py``, ``configs/*.yaml``,
  ``tests/unit/...``) exists, and every dotted name (``factory.sample.decode.decode_sample``)
  is a module of the package or a name defined at the top of one.
* Every ``factory COMMAND`` they show (in a code block, or as inline code) is a
  subcommand, and each ``--flag`` on its line is one of that subcommand's options; the
  same for ``python -m jobs.NAME``; every ``make TARGET`` is a Makefile target.
* The README's Python example runs as written and prints what its comments say; every
  other Python block at least parses.
* The README's picture is what ``docs/make_pictures.py`` makes now.

The checks read the text, so a made-up path, flag or anchor fails them.
"""

from __future__ import annotations

import argparse
import ast
import re
import runpy
from functools import cache
from pathlib import Path

import pytest

from factory.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_MARK = "<!-- tests/unit/test_docs.py runs this block -->"
README_MAX_LINES = 220  # a front door: about 150-200 lines, the rest is in docs/

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`([^`]+)`")
# A path rooted at a top-level entry of the repository, not inside a longer path or URL
# (``~/factory/...``, ``s3://bucket/...``, ``.factory/intent.json`` are not ours).
ROOTS = ("factory", "configs", "docs", "examples", "jobs", "cluster", "k8s", "benchmarks", "tests")
REPO_PATH = re.compile(r"(?<![\w./~:$-])((?:" + "|".join(ROOTS) + r")/[\w.*/-]*)")
TOP_FILES = re.compile(r"(?<![\w./-])(pyproject\.toml|Makefile)(?![\w.-])")
DOTTED = re.compile(r"(?<![\w./-])factory(?:\.[A-Za-z_]\w*)+")
COMMAND = re.compile(r"(?<![\w.<-])factory[ \t]+([a-z][\w-]*)|python -m jobs\.([a-z]\w*)")
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")
MAKE = re.compile(r"(?<![\w-])make[ \t]+([a-z][\w-]*)")
SHELL = {"", "sh", "bash", "shell", "console"}


def _rel(page: Path) -> str:
    return str(page.relative_to(REPO))


def _blocks(text: str) -> list[tuple[str, str]]:
    """``(info string, body)`` of each fenced code block."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(text)]


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def _inline(text: str) -> list[str]:
    """Inline code spans of the prose, whitespace (line breaks too) made single spaces."""
    return [" ".join(m.group(1).split()) for m in INLINE_CODE.finditer(_prose(text))]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def _anchors(page: Path) -> frozenset[str]:
    headings = re.findall(r"^#{1,6}[ \t]+(.+?)[ \t]*$", _prose(page.read_text()), re.MULTILINE)
    return frozenset(_slug(h) for h in headings)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page):
    text = _prose(page.read_text())
    broken = []
    for target in LINK.findall(INLINE_CODE.sub("", text)):
        if re.match(r"[a-z][\w+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_relative_to(REPO) or not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (file.suffix != ".md" or anchor not in _anchors(file)):
            broken.append(f"{target}: no heading #{anchor} in {_rel(file)}")
    assert not broken, f"{_rel(page)}: " + "; ".join(broken)


def _paths(text: str) -> set[str]:
    found = set(TOP_FILES.findall(text))
    for path in REPO_PATH.findall(text):
        path = path.rstrip(".")
        if path.endswith("/..."):  # "tests/unit/...": a folder named as a prefix
            path = path[:-3]
        found.add(path)
    return found


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_named_repository_paths_exist(page):
    missing = sorted(
        p for p in _paths(page.read_text()) if not (any(REPO.glob(p)) if "*" in p else (REPO / p).exists())
    )
    assert not missing, f"{_rel(page)} names paths this checkout does not have: {missing}"


def _top_level_names(tree: ast.Module) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = node
    return names


def _resolves(dotted: str) -> bool:
    """Whether ``factory.a.b[.Name[.attr]]`` is a module of the package, or a name
    defined at its top (and, for a class, an attribute defined in its body). Read from
    the source, so nothing is imported."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:split])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.is_file():
            break
    else:
        return False
    rest = parts[split:]
    if not rest:
        return True
    names = _top_level_names(ast.parse(source.read_text()))
    if rest[0] not in names and "__getattr__" not in names:
        return False
    node = names.get(rest[0])
    if len(rest) > 1 and isinstance(node, ast.ClassDef):
        body = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        body |= {t.id for n in node.body if isinstance(n, ast.AnnAssign) for t in [n.target] if isinstance(t, ast.Name)}
        return rest[1] in body
    return True


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_named_modules_and_names_exist(page):
    missing = sorted({d for d in DOTTED.findall(page.read_text()) if not _resolves(d)})
    assert not missing, f"{_rel(page)} names modules or names the package does not have: {missing}"


@cache
def _options() -> dict[str, frozenset[str]]:
    """Each subcommand's option strings, from the parser ``factory`` itself builds."""
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {
        name: frozenset(s for action in sub._actions for s in action.option_strings)
        for name, sub in subparsers.choices.items()
    }


def _command_lines(text: str) -> list[str]:
    """The shell lines of a page that may show a command: every line of its shell code
    blocks (continuations joined; a synopsis's indented ``[--option]`` lines joined to
    the line they continue) and its inline code spans."""
    lines = list(_inline(text))
    for info, body in _blocks(text):
        if info not in SHELL:
            continue
        for line in re.sub(r"\\\n", " ", body).splitlines():
            if lines and re.match(r"\s+\[", line) and line.strip():
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
    return lines


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_shown_commands_and_flags_exist(page):
    options, wrong = _options(), []
    for line in _command_lines(page.read_text()):
        matches = list(COMMAND.finditer(line))
        for i, m in enumerate(matches):
            name = m.group(1) or m.group(2)
            if name not in options:
                wrong.append(f"{line.strip()!r}: no subcommand {name!r}")
                continue
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            unknown = sorted(set(FLAG.findall(line[m.end() : end])) - options[name])
            if unknown:
                wrong.append(f"{line.strip()!r}: factory {name} has no {', '.join(unknown)}")
    assert not wrong, f"{_rel(page)}: " + "; ".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_shown_make_targets_exist(page):
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
    shown = {t for line in _command_lines(page.read_text()) for t in MAKE.findall(line)}
    assert shown <= targets, f"{_rel(page)} shows make targets the Makefile lacks: {sorted(shown - targets)}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_python_blocks_parse(page):
    for info, body in _blocks(page.read_text()):
        if info == "python":
            ast.parse(body, filename=_rel(page))


def _example() -> str:
    text = README.read_text()
    assert text.count(EXAMPLE_MARK) == 1, f"README.md marks its Python example with {EXAMPLE_MARK!r}"
    (info, body), *_ = _blocks(text[text.index(EXAMPLE_MARK) :])
    assert info == "python"
    return body


def test_the_readme_example_runs_and_prints_what_it_says(monkeypatch, capsys, tmp_path):
    """As a user would run it: saved as a script, run from the repository root (it reads
    configs/quickstart.yaml)."""
    script = tmp_path / "readme_example.py"
    script.write_text(_example())
    monkeypatch.chdir(REPO)
    namespace = runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    assert printed[:4] == [
        "0000000003 nominal",
        "(8, 128, 128, 3) uint8",
        "(8, 128, 128) float32",
        "uint16 (8, 128, 128, 2)",
    ]  # as the comments say
    assert len(printed) == 5 and printed[4].startswith("sphere [")
    frames, meta = namespace["frames"], namespace["meta"]
    assert frames.rgb.shape == (8, 128, 128, 3) and frames.depth.dtype.name == "float32"
    assert meta["key"] == "0000000003" and meta["index"] == 3


def test_the_readme_stays_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_manual_page_is_on_the_readme_map():
    text = README.read_text()
    unlisted = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in text]
    assert not unlisted, f"docs/ pages the README's map does not list: {unlisted}"


def test_the_readme_picture_is_current():
    """The committed picture is the one docs/make_pictures.py makes from today's samples
    (``make pictures`` makes it again)."""
    script = runpy.run_path(str(REPO / "docs" / "make_pictures.py"))
    picture = script["PICTURE"]
    assert picture.read_bytes() == script["picture_png"](), f"{picture.relative_to(REPO)} is stale: run make pictures"
