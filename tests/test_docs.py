"""The documentation site: it builds with warnings as errors, and documents every flag and column.

The site is built once per session, exactly as the README's documented
command builds it (``sphinx-build -W --keep-going -b html docs ...``), into a
temporary folder, in a subprocess (Sphinx and autodoc import the package and
every command's module, and Sphinx configures logging: none of it should leak
into the other tests). The checks then read the built HTML:

- every option string of every console script declared in ``pyproject.toml``
  (taken from the parser that the command builds, i.e. what ``--help``
  prints) is listed in that command's section of the CLI reference;
- every column of every table the toolbox writes is explained in the pages'
  sources (with the README sections they include) and listed on the engines
  page;
- every subpackage of the public API has reference pages.
"""

from __future__ import annotations

import argparse
import html
import importlib
import importlib.util
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOCS_COMMAND = "sphinx-build -W --keep-going -b html docs docs/_build/html"


def _scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def _commands() -> dict[str, list[str]]:
    """Console scripts grouped by the function they run: ``module:function`` -> names."""
    commands: dict[str, list[str]] = {}
    for name, target in _scripts().items():
        commands.setdefault(target, []).append(name)
    return commands


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _sections(page: str) -> dict[str, str]:
    """The HTML of each ``<h2>`` section of a page, by its title."""
    starts = [(match.start(), _text(match.group(1)).strip()) for match in re.finditer(r"<h2>(.*?)<a ", page)]
    end = page.find("</article>")
    sections = {}
    for i, (start, title) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else end
        sections[title] = page[start:stop]
    return sections


def _listed_options(section: str) -> set[str]:
    """Option strings and positional names that the section lists (sphinx-argparse's ``<kbd>``)."""
    listed = set()
    for item in re.findall(r"<kbd>(.*?)</kbd>", section):
        listed.update(part.strip() for part in html.unescape(item).split(", "))
    return listed


def test_readme_documents_the_docs_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Documentation" in readme
    assert DOCS_COMMAND in readme


def test_site_builds_without_warnings(site: Path):
    for page in ("index", "installation", "quickstart", "cli", "engines", "tracking", "exports",
                 "distributed", "live", "accuracy", "performance", "models", "tutorials", "api/index"):
        assert (site / f"{page}.html").is_file(), page


def test_tutorial_pages_show_their_images(site: Path):
    """Each executed tutorial's page holds at least one image (a plot, a photo), and every file it points to."""
    notebooks = sorted((REPO / "tutorials").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        page = site / "tutorials" / f"{notebook.stem}.html"
        sources = re.findall(r"<img\b[^>]*?\ssrc=\"([^\"]+)\"", page.read_text(encoding="utf-8"))
        assert sources, f"{page.name}: no image"
        for source in sources:
            if not source.startswith("data:image/"):
                assert (page.parent / html.unescape(source)).resolve().is_file(), f"{page.name}: {source} missing"


def test_long_code_lines_wrap_instead_of_being_clipped(site: Path):
    css = (site / "_static" / "wrap.css").read_text(encoding="utf-8")
    assert "white-space: pre-wrap" in css and "div.cell_input pre" in css and "div.cell_output pre" in css
    for page in ("quickstart.html", "tutorials/01_quickstart_video.html"):
        assert "_static/wrap.css" in (site / page).read_text(encoding="utf-8"), page


@pytest.mark.parametrize("target", sorted(_commands()), ids=lambda target: _commands()[target][0])
def test_cli_page_lists_every_flag_of_every_command(site: Path, target: str):
    names = _commands()[target]
    module_name, _, _ = target.partition(":")
    if importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} does not exist yet")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, "build_parser", None)), f"{module_name} has no build_parser(): not documented"
    parser: argparse.ArgumentParser = module.build_parser()
    sections = _sections((site / "cli.html").read_text(encoding="utf-8"))
    titles = [name for name in names if name in sections]
    assert titles, f"no section of the CLI reference for {', '.join(names)} (sections: {sorted(sections)})"
    section = sections[titles[0]]
    listed = _listed_options(section)
    printed = parser.format_help()
    missing = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            for option in action.option_strings:
                assert option in printed  # what --help prints
                if isinstance(action, argparse._HelpAction):
                    if option not in _text(section):
                        missing.append(option)
                elif option not in listed:
                    missing.append(option)
        else:
            name = action.metavar if isinstance(action.metavar, str) else action.dest
            if name not in listed:
                missing.append(name)
    assert not missing, f"{titles[0]}: flags missing from the CLI reference: {missing}"


def _table_columns() -> set[str]:
    from inafaceanalyzer import COLUMNS
    from inafaceanalyzer.distributed.record import RECORD_COLUMNS
    from inafaceanalyzer.live import LIVE_COLUMNS
    from inafaceanalyzer.tracking import TRACK_COLUMNS

    columns = {column for engine in COLUMNS.values() for column in engine}
    return columns | set(TRACK_COLUMNS) | set(LIVE_COLUMNS) | set(RECORD_COLUMNS)


def test_every_column_is_explained(site: Path):
    # the pages' own text and the README sections they include; not the generated list of columns
    sources = [path.read_text(encoding="utf-8") for path in DOCS.glob("*.md")]
    sources += [path.read_text(encoding="utf-8") for path in (DOCS / "_generated").glob("readme_*.md")]
    prose = re.sub(r"^```.*?^```", "", "\n".join(sources), flags=re.MULTILINE | re.DOTALL)  # no code blocks
    in_code = {word for span in re.findall(r"`([^`\n]+)`", prose) for word in re.findall(r"\w+", span)}
    unexplained = sorted(column for column in _table_columns() if column not in in_code)
    assert not unexplained, (
        f"columns that no page explains (add them to the README's tables or to docs/engines.md): {unexplained}"
    )
    engines = (site / "engines.html").read_text(encoding="utf-8")
    assert not [column for column in _table_columns() if column not in engines]


def test_every_public_subpackage_has_reference_pages(site: Path):
    import inafaceanalyzer

    index = (site / "py-modindex.html").read_text(encoding="utf-8")
    subpackages = [info.name for info in pkgutil.iter_modules(inafaceanalyzer.__path__) if info.ispkg]
    assert subpackages
    # the commands are documented from their parsers (the CLI reference), not as an API
    undocumented = [name for name in subpackages if name != "cli" and f"inafaceanalyzer.{name}" not in index]
    assert not undocumented, f"subpackages without API pages (docs/api/): {undocumented}"


def test_readme_sections_are_cut_by_heading():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from readme_sections import ReadmeSectionError, Section, section_body
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    text = "# Title\n\nIntro.\n\n## Usage\n\nRun it.\n\n```bash\n# not a heading\n```\n\n### Columns\n\nTable.\n\n## Next\n"
    assert section_body(text, Section("Title", lead_only=True)) == "Intro.\n"
    assert section_body(text, Section("Usage")) == "Run it.\n\n```bash\n# not a heading\n```\n\n## Columns\n\nTable.\n"
    assert section_body(text, Section("Usage", lead_only=True)) == "Run it.\n\n```bash\n# not a heading\n```\n"
    assert section_body(text, Section("Columns")) == "Table.\n"
    with pytest.raises(ReadmeSectionError):
        section_body(text, Section("Missing"))
