"""The command blocks of the README, as the tests run them.

Every fenced ```` ```bash ```` and ```` ```python ```` block of ``README.md``
is a :class:`Block`. A block whose first line is a marker comment,
``# test: KIND (why)``, is run the way that kind says (see
``tests/test_readme.py``); a block without one is run verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

_BLOCK = re.compile(r"^```(bash|python)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"^#\s*test:\s*([a-z][a-z-]*)")

# what a marker may say; anything else in a README block is an error of the README
KINDS = {
    "run": "run verbatim in a folder with the bundled media/",
    "extended": "needs ../shared or a long time: run only with the shared media, with cheap arguments",
    "server": "a server: started, its page fetched, stopped with Ctrl-C",
    "fresh-clone": "run verbatim in a fresh clone by tests/test_fresh_clone.py (slow)",
    "docs": "the documentation build, which tests/test_docs.py runs (the site fixture)",
    "ci": "the test suite itself (.ci/run): not run from inside it",
}


@dataclass(frozen=True)
class Block:
    """One command block of the README.

    Attributes:
        language: ``bash`` or ``python``.
        code: the block's text, as written.
        line: the line of the README where the block starts (its fence).
        kind: the block's marker (one of :data:`KINDS`), ``run`` without one.
    """

    language: str
    code: str
    line: int
    kind: str

    @property
    def name(self) -> str:
        return f"L{self.line}-{self.language}-{self.kind}"


def readme_blocks(text: str | None = None) -> list[Block]:
    """Every ``bash`` and ``python`` block of the README (or of ``text``), in order.

    Raises:
        ValueError: a block's marker names no known kind.
    """
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = []
    for match in _BLOCK.finditer(text):
        code = match.group(2)
        marker = _MARKER.match(code)
        kind = marker.group(1) if marker else "run"
        line = text.count("\n", 0, match.start()) + 1
        if kind not in KINDS:
            raise ValueError(f"README line {line}: unknown test marker {kind!r} (known: {', '.join(KINDS)})")
        blocks.append(Block(match.group(1), code, line, kind))
    return blocks
