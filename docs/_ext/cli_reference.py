"""Sphinx directive ``ina-cli-reference``: the reference of every console script, from its parser.

The commands are those that ``pyproject.toml`` declares in ``[project.scripts]``;
scripts that run the same function (``ina_face_analyzer.py`` and
``inafaceanalyzer``) share one section. Each section is sphinx-argparse's
rendering of the parser that the command itself builds (the ``build_parser()``
function of its ``cli`` module), so the page lists exactly the flags that
``--help`` prints, with their defaults.

A declared command whose module has no ``build_parser()`` is a warning (an
error in the ``-W`` build); one whose module does not exist yet is left out
and logged.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

#: how each command is also started, besides its console scripts
ALSO_RUN_AS = {"inafaceanalyzer.cli.analyze": ["python -m inafaceanalyzer"]}


@dataclass
class Command:
    """One command of the reference: a parser and every name it is installed under."""

    module: str
    function: str
    names: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The name the parser calls itself (its ``prog``) when it is one of the scripts."""
        module = importlib.import_module(self.module)
        prog = module.build_parser().prog
        return prog if prog in self.names else self.names[0]


def declared_commands(pyproject: Path = PYPROJECT) -> list[Command]:
    """The console scripts of ``pyproject.toml``, grouped by the function they run, in order."""
    scripts: dict[str, str] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    commands: dict[str, Command] = {}
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        command = commands.setdefault(target, Command(module, function))
        command.names.append(name)
    return list(commands.values())


def _rst(command: Command) -> list[str]:
    title = command.title
    others = [name for name in command.names if name != title] + ALSO_RUN_AS.get(command.module, [])
    lines = [title, "-" * len(title), ""]
    if others:
        lines += ["Also run as " + ", ".join(f"``{other}``" for other in others) + ".", ""]
    lines += [f"``{title} -h`` (or ``--help``) prints this reference and exits.", ""]
    lines += [
        ".. argparse::",
        f"   :module: {command.module}",
        "   :func: build_parser",
        f"   :prog: {title}",
        "   :noepilog:",
        "",
    ]
    return lines


class CliReference(SphinxDirective):
    """Sections for every declared command, each rendered from its own parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        _pages(self.env).add(self.env.docname)
        lines: list[str] = []
        for command in declared_commands():
            if importlib.util.find_spec(command.module) is None:
                logger.info("cli reference: %s (%s) has no module yet", command.names[0], command.module)
                continue
            module = importlib.import_module(command.module)
            if not callable(getattr(module, "build_parser", None)):
                logger.warning(
                    "cli reference: %s has no build_parser(): %s cannot be documented",
                    command.module, ", ".join(command.names), location=self.get_location(),
                )
                continue
            lines += _rst(command)
        container = nodes.section()
        container.document = self.state.document
        content = StringList(lines, source=self.get_source_info()[0])
        nested_parse_with_titles(self.state, content, container)
        return container.children


def _pages(env) -> set[str]:
    """The pages that hold the reference (kept in the build environment)."""
    if not hasattr(env, "ina_cli_reference_pages"):
        env.ina_cli_reference_pages = set()
    return env.ina_cli_reference_pages


def _always_reread(app, env, added, changed, removed) -> list[str]:
    # the parsers are code that Sphinx does not watch: rebuild their pages on every build
    return sorted(_pages(env) - set(removed))


def _merge(app, env, docnames, other) -> None:
    # parallel reads: gather the pages that each reading process found
    _pages(env).update(_pages(other))


def setup(app):
    app.add_directive("ina-cli-reference", CliReference)
    app.connect("env-get-outdated", _always_reread)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
