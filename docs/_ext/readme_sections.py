"""Sections of the README, cut out by their headings, for the pages of the site to include.

The README is the one place where the behaviour of each feature is written
down; the site reorganises it into pages instead of copying it, so the two
cannot drift apart. :func:`write_sections` writes each wanted section's body
(without its heading, sub-headings moved to the level the page asks for)
to ``docs/_readme/<name>.md``, a generated, git-ignored folder that pages
include with MyST's ``{include}``. A wanted section that the README no longer
has is an error, so the documentation build (and its test) fails instead of
publishing a page with a hole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_DOCS_LINK = re.compile(r"\]\(docs/([^)\s]+)\)")  # [page](docs/x.md) in the README is [page](x.md) in the site


class ReadmeSectionError(LookupError):
    """The README has no section with the wanted heading."""


@dataclass(frozen=True)
class Section:
    """What to cut out: the heading that starts it, and the level its sub-headings get.

    Attributes:
        heading: the start of the heading's text (``"Face tracking"`` finds
            ``## Face tracking (videotracking engine)``).
        level: the heading level of the section's first sub-headings in the
            page (2: ``### Columns`` under ``## Usage`` becomes ``## Columns``).
        required: a missing section is an error (else ``fallback`` is written).
        lead_only: only the text before the section's first sub-heading.
        fallback: the Markdown written for a missing optional section.
    """

    heading: str
    level: int = 2
    required: bool = True
    lead_only: bool = False
    fallback: str = ""


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(line index, level, text)`` of the Markdown headings outside code blocks."""
    found = []
    fence: str | None = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            fence = None if fence == marker else (fence or marker)
            continue
        if fence is None:
            heading = _HEADING.match(line)
            if heading:
                found.append((index, len(heading.group(1)), heading.group(2)))
    return found


def section_body(text: str, section: Section) -> str:
    """The body of ``section`` in the Markdown ``text``, its sub-headings moved to ``section.level``.

    Raises:
        ReadmeSectionError: no heading starts with ``section.heading``.
    """
    lines = text.splitlines()
    headings = _headings(lines)
    found = [position for position, (_, _, title) in enumerate(headings) if title.startswith(section.heading)]
    if not found:
        raise ReadmeSectionError(f"README has no section whose heading starts with {section.heading!r}")
    position = found[0]
    index, level, _ = headings[position]
    end = len(lines)
    for later_index, later_level, _ in headings[position + 1 :]:
        if later_level <= level or section.lead_only:
            end = later_index
            break
    shift = section.level - (level + 1)
    inner = {i: lvl for i, lvl, _ in headings if index < i < end}
    body = []
    for i in range(index + 1, end):
        line = lines[i]
        if i in inner:
            line = "#" * max(1, inner[i] + shift) + line[inner[i] :]
        body.append(line)
    return _DOCS_LINK.sub(r"](\1)", "\n".join(body)).strip("\n") + "\n"


def write_sections(readme: Path, target: Path, sections: dict[str, Section]) -> None:
    """Write ``target/<name>.md`` for each wanted section, rewriting only what changed; remove the others."""
    text = readme.read_text(encoding="utf-8")
    target.mkdir(exist_ok=True)
    for stale in target.glob("readme_*.md"):  # a section no page includes any more
        if stale.stem not in sections:
            stale.unlink()
    for name, section in sections.items():
        try:
            body = section_body(text, section)
        except ReadmeSectionError:
            if section.required:
                raise
            body = section.fallback
        path = target / f"{name}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
