"""The package's architecture, checked from its code: no import cycle, one-way layers, one door to PyAV.

The graph is built with :mod:`ast` by ``docs/_ext/import_graph.py``, which
also holds the one list of layers (``LAYERS``) and draws the graph on the
architecture page. Every import counts, lazy ones inside functions and
``TYPE_CHECKING`` ones included.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs" / "_ext"))
try:
    import import_graph
finally:
    sys.path.remove(str(REPO / "docs" / "_ext"))

#: Folder imports against the layering that are still in the code, each to be
#: removed (then taken out of this set: the test fails while a listed edge no
#: longer exists). All four are ``pipeline/batch.py`` writing files (tables,
#: tracks, exports, reports, statistics) from inside the analysis layer, which
#: the runs layer (``runs/``, above export and report) takes over.
KNOWN_VIOLATIONS_TO_REMOVE: set[tuple[str, str]] = set()  # none left: pipeline/batch.py became runs/

#: Module names found in more than one folder, and why they do not mislead.
#: (Commands in ``cli/`` are named after what they run, and not listed.)
SHARED_MODULE_NAMES: dict[str, str] = {
    "base": "the abstract base class of a folder's plug-ins (detectors, classifiers)",
    "options": "a folder's own frozen options object (analysis, exports, live)",
    "metrics": "measures of quality: of the predictions (evaluation), of the trackers (tracking)",
    "runner": "the loop that runs a folder's jobs (evaluation sets, distributed videos)",
    "table": "to rename: export/table.py reads and writes result tables, stats/table.py computes statistics",
    "stats": "to rename: live/stats.py counts the live session, stats/ is the representation statistics",
    "report": "evaluation/report.py writes the evaluation's report, as report/ writes the analyses' ones",
}


@pytest.fixture(scope="module")
def edges() -> dict[tuple[str, str], list[import_graph.Import]]:
    return import_graph.folder_edges()


def _where(found: list[import_graph.Import]) -> str:
    return ", ".join(sorted({f"{item.importer}:{item.line} -> {item.imported}" for item in found}))


def test_the_graph_is_read_from_the_code(edges: dict[tuple[str, str], list[import_graph.Import]]) -> None:
    """Top-level, relative, lazy and TYPE_CHECKING imports are all seen."""
    graph = import_graph.file_graph(import_graph.imports())
    assert "inafaceanalyzer.io.container" in graph["inafaceanalyzer.io.video"]  # from .container import ...
    assert "inafaceanalyzer.io" in graph["inafaceanalyzer.pipeline.engines"]  # from ..io import ... (the __init__)
    assert "inafaceanalyzer.tracking.engine" in graph["inafaceanalyzer.runs.unit"]  # inside a function
    assert ("io", "errors") in edges and ("cli", "runs") in edges


def test_the_checker_finds_cycles_lazy_and_type_only(tmp_path: Path) -> None:
    """On a package built here: a cycle closed by a lazy import, one by a TYPE_CHECKING import."""
    package = tmp_path / "pkg"
    (package / "low").mkdir(parents=True)
    (package / "high").mkdir()
    files = {
        "__init__.py": "",
        "low/__init__.py": "from .a import A\n",
        "low/a.py": "class A:\n    def up(self):\n        from ..high.b import B\n        return B\n",
        "high/__init__.py": "",
        "high/b.py": "from ..low import A\nB = A\n",
        "high/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n",
        "high/d.py": "import pkg.high.c\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    graph = import_graph.file_graph(import_graph.imports(package))
    assert import_graph.cycles(graph) == [["pkg.high.b", "pkg.low", "pkg.low.a"], ["pkg.high.c", "pkg.high.d"]]
    folders = import_graph.folder_edges(package)
    assert set(folders) == {("low", "high"), ("high", "low")}
    layers = (("bottom", ("low",)), ("top", ("high", "pkg")))
    assert import_graph.layering_violations(folders, layers) == {("low", "high")}


def test_no_import_cycle_between_files() -> None:
    graph = import_graph.file_graph(import_graph.imports())
    assert import_graph.cycles(graph) == []


def test_no_import_cycle_between_folders(edges: dict[tuple[str, str], list[import_graph.Import]]) -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        if (a, b) not in KNOWN_VIOLATIONS_TO_REMOVE:
            graph[a].add(b)
    found = import_graph.cycles(graph)
    assert not found, "import cycles between folders: " + "; ".join(
        " <-> ".join(cycle)
        + " ("
        + _where([i for (a, b), f in edges.items() if a in cycle and b in cycle for i in f])
        + ")"
        for cycle in found
    )


def test_lower_layers_never_import_higher_ones(edges: dict[tuple[str, str], list[import_graph.Import]]) -> None:
    violations = import_graph.layering_violations(edges) - KNOWN_VIOLATIONS_TO_REMOVE
    assert not violations, "imports against the layering (docs/_ext/import_graph.py, LAYERS): " + "; ".join(
        _where(edges[edge]) for edge in sorted(violations)
    )
    gone = KNOWN_VIOLATIONS_TO_REMOVE - set(edges)
    assert not gone, f"no longer in the code, take them out of KNOWN_VIOLATIONS_TO_REMOVE: {sorted(gone)}"
    assert KNOWN_VIOLATIONS_TO_REMOVE <= import_graph.layering_violations(edges), "a listed edge is not a violation"


def test_every_folder_has_one_layer() -> None:
    named = [folder for _, folders in import_graph.LAYERS for folder in folders]
    assert len(named) == len(set(named)), "a folder is in two layers"
    folders = {module.folder for module in import_graph.modules().values()}
    assert not folders - set(named), f"folders without a layer in LAYERS: {sorted(folders - set(named))}"


def test_pyav_reads_go_through_io_container() -> None:
    """``av.open`` for reading is called in ``io/container.py`` only; elsewhere only to write (``"w"``)."""
    source = import_graph.SOURCE
    readers = []
    for path in sorted(source.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "open"):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "av"):
                continue
            mode = (
                node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            )
            writes = isinstance(mode, ast.Constant) and mode.value == "w"
            if not writes and path.relative_to(source).as_posix() != "io/container.py":
                readers.append(f"{path.relative_to(source)}:{node.lineno}")
    assert not readers, f"PyAV containers opened for reading outside io/container.py: {readers}"


def test_module_names_do_not_mislead() -> None:
    """No two folders hold modules of one name (as io/video.py and export/video.py did) unless listed with why."""
    folders_of: dict[str, set[str]] = defaultdict(set)
    all_folders = set()
    for module in import_graph.modules().values():
        all_folders.add(module.folder)
        if module.is_package or module.folder == "cli":
            continue
        folders_of[module.name.rsplit(".", 1)[1]].add(module.folder)
    repeated = {name for name, folders in folders_of.items() if len(folders) > 1}
    repeated |= {name for name, folders in folders_of.items() if name in all_folders and folders != {name}}
    assert not repeated - set(SHARED_MODULE_NAMES), (
        f"module names in more than one folder: {sorted(repeated - set(SHARED_MODULE_NAMES))}"
    )
    assert not set(SHARED_MODULE_NAMES) - repeated, "listed names no longer repeated: take them out"
