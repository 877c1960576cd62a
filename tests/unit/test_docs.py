"""The README stays a short front door, and it and the docs/ pages link only to what exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

README_MAX_LINES = 300
SETUP_COMMANDS = (
    '# 1. Install, then deploy and run the whole workflow on the embedded AWS\n'
    'python -m pip install -c requirements.lock -e ".[local]" && python deploy.py up --local\n',
    '# 2. Install (Python packages, and the Node test tools of package.json), then run the tests\n'
    'python -m pip install -c requirements.lock -e ".[dev]" && npm ci --no-audit --no-fund && python -m pytest -n 4\n',
)

FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def prose(text: str) -> str:
    """The text without code blocks or code spans, where a `[x](y)` is not a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(prose(path.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link)]  # not http:, mailto:, ...


def broken_links(path: Path) -> list[str]:
    broken = []
    for link in relative_links(path):
        target, _, anchor = link.partition("#")
        resolved = (path.parent / unquote(target)).resolve() if target else path
        if not resolved.exists():
            broken.append(f"{link}: no such file")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            broken.append(f"{link}: no such heading in {resolved.name}")
    return broken


def test_the_readme_is_at_most_300_lines():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into a docs/ page"


def test_the_readme_shows_the_two_setup_commands_exactly():
    text = README.read_text(encoding="utf-8")
    for command in SETUP_COMMANDS:
        assert command in text


def test_every_relative_link_in_the_readme_and_the_docs_resolves():
    broken = {str(path.relative_to(ROOT)): broken_links(path) for path in [README, *PAGES]}
    assert {page: links for page, links in broken.items() if links} == {}


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / unquote(link.partition("#")[0])).resolve() for link in relative_links(README)}
    assert PAGES, "docs/ has no pages"
    assert [str(page.relative_to(ROOT)) for page in PAGES if page.resolve() not in linked] == []


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## What it does not emulate\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#what-it-does-not-emulate) [ok](#here) [web](https://example.com)\n"
        "`[not a link](nowhere.md)`\n\n## Here\n\n[gone](missing.md) [no heading](other.md#nope)\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md: no such file", "other.md#nope: no such heading in other.md"]


def test_headings_become_github_anchors():
    assert slug("TTL and AWS's hour rule") == "ttl-and-awss-hour-rule"
    assert slug("`plan` and `outputs` (read-only)") == "plan-and-outputs-read-only"
    assert slug("Waiting for a table: `poll_interval_seconds` and `max_polls`") == (
        "waiting-for-a-table-poll_interval_seconds-and-max_polls"
    )
