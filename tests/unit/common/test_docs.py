"""The README and docs/ stand on their own: every link resolves, every `make` command exists,
and no page cites a document the repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_MAKE = re.compile(r"`make ([a-z][a-z-]*)")
_TARGET = re.compile(r"^([a-z][a-z-]*):", re.MULTILINE)
# Design notes that live outside the repository, and the ways they were cited.
_OUTSIDE = re.compile(
    r"\bthe seed\b|\bseed's\b|seed §|§|\bpitfalls?\b|(?-i:\bP\d{1,2}\b)|architecture(?:\.md| §)"
    r"|providers\.md §|providers §",
    re.IGNORECASE,
)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # a URL
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (
            anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        ):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_no_page_cites_a_document_outside_the_repository(page: Path) -> None:
    lines = page.read_text(encoding="utf-8").splitlines()
    cited = [f"{n}: {line}" for n, line in enumerate(lines, 1) if _OUTSIDE.search(line)]
    assert cited == []


def test_every_make_command_the_docs_offer_exists() -> None:
    targets = set(_TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
    offered = {
        (str(page.relative_to(ROOT)), name)
        for page in PAGES
        for name in _MAKE.findall(page.read_text(encoding="utf-8"))
    }
    assert {(page, name) for page, name in offered if name not in targets} == set()


def test_the_readme_stays_short_and_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 180
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {name for name in pages if f"(docs/{name}" not in readme} == set()
