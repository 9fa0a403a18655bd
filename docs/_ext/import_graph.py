"""The import graph of the package, read from its code with :mod:`ast`, and its layering.

:data:`LAYERS` is the one place where the order of the package's folders is
written down: a folder (a sub-package of ``src/inafaceanalyzer``, or one of
its top-level modules) may import the folders of the layers *below* its own,
never one of its own layer or above. ``tests/test_architecture.py`` checks the
code against it, and the architecture page of the documentation draws it
(:func:`architecture_markdown`, written at each build by ``docs/conf.py``).

Every import counts: at the top of a module, inside a function (a lazy
import), under ``if TYPE_CHECKING:``. ``from .pkg import name`` is an import
of ``pkg.name`` when that is a module, else of ``pkg`` (its ``__init__``).
Importing a sub-module also runs its package's ``__init__``, but that
implicit edge is not drawn (it would make every package a cycle with its
own modules).

No Graphviz: the drawing is an SVG laid out here, one row per layer.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "inafaceanalyzer"
SOURCE = Path(__file__).resolve().parents[2] / "src" / PACKAGE

#: The layers of the package, from the bottom up: ``(name, folders)``. A
#: folder imports only folders of lower layers. Sub-packages are named by
#: their folder, top-level modules by their module name; ``inafaceanalyzer``
#: is the package's own ``__init__`` (its public face, which re-exports from
#: any layer).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors and version", ("errors", "_version")),
    ("shared values and the stop signal", ("detections", "interrupts")),
    ("sources and models", ("io", "models")),
    ("detection", ("detection",)),
    ("alignment", ("alignment",)),
    ("classification", ("classification",)),
    ("options (validated against the plug-in registries)", ("options",)),
    ("analysis", ("pipeline",)),
    ("output files", ("export",)),
    ("people", ("identity",)),
    ("tracking", ("tracking",)),
    ("statistics", ("stats",)),
    ("reports", ("report",)),
    ("runs", ("runs",)),
    ("the Python API", ("api",)),
    ("applications", ("evaluation", "distributed", "live")),
    ("commands", ("cli",)),
    ("entry points", ("__main__", PACKAGE)),
)


@dataclass(frozen=True)
class Module:
    """One module of the package.

    Attributes:
        name: dotted name, e.g. ``inafaceanalyzer.io.video``.
        path: its file.
        folder: the folder it belongs to (see :data:`LAYERS`).
        is_package: whether it is a package's ``__init__``.
    """

    name: str
    path: Path
    folder: str
    is_package: bool


@dataclass(frozen=True)
class Import:
    """One import statement: ``importer`` imports ``imported`` at ``line``."""

    importer: str
    imported: str
    line: int


def modules(source: Path = SOURCE) -> dict[str, Module]:
    """Every module under ``source`` (a package folder), by dotted name."""
    package = source.name
    found: dict[str, Module] = {}
    for path in sorted(source.rglob("*.py")):
        parts = list(path.relative_to(source.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        folder = package if len(parts) == 1 else parts[1]  # a sub-package, or a top-level module
        found[".".join(parts)] = Module(".".join(parts), path, folder, is_package)
    return found


def imports(source: Path = SOURCE) -> list[Import]:
    """Every import of a module of the package by another, wherever it stands in the code."""
    known = modules(source)
    package = source.name
    found: list[Import] = []
    for module in known.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        for node in ast.walk(tree):
            for target in _targets(node, module, known, package):
                if target != module.name:
                    found.append(Import(module.name, target, node.lineno))
    return found


def _targets(node: ast.AST, module: Module, known: Mapping[str, Module], package: str) -> Iterable[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names if alias.name.split(".")[0] == package]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.name.split(".")
            if not module.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        if origin.split(".")[0] != package:
            return []
        names = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin for alias in node.names]
    else:
        return []
    resolved = []
    for name in names:
        while name not in known and "." in name:  # a name inside a module: the module
            name = name.rsplit(".", 1)[0]
        if name in known:
            resolved.append(name)
    return resolved


def file_graph(found: Iterable[Import]) -> dict[str, set[str]]:
    """Module -> the modules it imports."""
    graph: dict[str, set[str]] = {}
    for item in found:
        graph.setdefault(item.importer, set()).add(item.imported)
    return graph


def folder_edges(source: Path = SOURCE) -> dict[tuple[str, str], list[Import]]:
    """``(folder, folder it imports)`` -> the imports that make the edge."""
    known = modules(source)
    edges: dict[tuple[str, str], list[Import]] = {}
    for item in imports(source):
        a, b = known[item.importer].folder, known[item.imported].folder
        if a != b:
            edges.setdefault((a, b), []).append(item)
    return edges


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted; sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(graph) | {b for targets in graph.values() for b in targets})

    def visit(root: str) -> None:  # iterative, so that deep graphs do not hit the recursion limit
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return sorted(found)


def rank(layers: Iterable[tuple[str, tuple[str, ...]]] = LAYERS) -> dict[str, int]:
    """Folder -> its layer's position, 0 at the bottom."""
    return {folder: position for position, (_, folders) in enumerate(layers) for folder in folders}


def layering_violations(
    edges: Iterable[tuple[str, str]], layers: Iterable[tuple[str, tuple[str, ...]]] = LAYERS
) -> set[tuple[str, str]]:
    """The folder edges that go to the importer's own layer or above, or touch a folder without a layer."""
    ranks = rank(layers)
    return {(a, b) for a, b in edges if a not in ranks or b not in ranks or ranks[a] <= ranks[b]}


def folder_summary(folder: str, source: Path = SOURCE) -> str:
    """The first line of a folder's docstring (its ``__init__``, or the top-level module)."""
    path = source / folder / "__init__.py" if (source / folder).is_dir() else source / f"{folder}.py"
    if folder == source.name:
        path = source / "__init__.py"
    if not path.is_file():
        return ""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    return _markdown(line)


def _markdown(text: str) -> str:
    """reStructuredText roles and literals of a docstring line as Markdown code."""
    text = re.sub(
        r":[\w:]+:`~?([^`]+)`",
        lambda m: (
            "`" + m.group(1).rsplit(".", 1)[-1] + "`" if m.group(0).split("`")[1].startswith("~") else f"`{m.group(1)}`"
        ),
        text,
    )
    return text.replace("``", "`")


# -- drawing -----------------------------------------------------------------------------


def _reduction(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges of an acyclic graph not implied by a longer path (its transitive reduction)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reachable(start: str, skip: tuple[str, str]) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            node = todo.pop()
            for child in graph.get(node, ()):
                if (node, child) != skip and child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    return {(a, b) for a, b in edges if b not in reachable(a, (a, b))}


def svg(
    edges: Iterable[tuple[str, str]],
    layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS,
    present: Iterable[str] | None = None,
) -> str:
    """The folder graph as an SVG: one row per layer (the top one first), an arrow per import.

    Arrows implied by a longer path are left out (the table lists every
    edge); edges against the layering are drawn in red, dashed.
    """
    edges = set(edges)
    bad = layering_violations(edges, layers)
    drawn = _reduction(edges - bad) | bad
    present = set(present) if present is not None else {f for _, folders in layers for f in folders}
    box_w, box_h, gap_x, gap_y, label_w, margin = 118, 26, 14, 30, 170, 10
    widest = max(len(folders) for _, folders in layers)
    room = 24 + 14 * len(layers)  # for the curves around the layers in between
    width = label_w + 2 * room + widest * (box_w + gap_x) + margin
    height = len(layers) * (box_h + gap_y) + margin
    centre: dict[str, tuple[float, float]] = {}
    row_of: dict[str, int] = {}
    parts: list[str] = []
    for row, (name, folders) in enumerate(reversed(layers)):
        y = margin + row * (box_h + gap_y)
        parts.append(f'<text x="{margin}" y="{y + box_h * 0.68:.0f}" class="layer">{html.escape(name)}</text>')
        start = label_w + room + (widest - len(folders)) * (box_w + gap_x) / 2
        for i, folder in enumerate(folders):
            x = start + i * (box_w + gap_x)
            centre[folder] = (x + box_w / 2, y + box_h / 2)
            row_of[folder] = row
            missing = folder not in present
            parts.append(
                f'<rect x="{x:.0f}" y="{y}" width="{box_w}" height="{box_h}" rx="5" '
                f'class="{"planned" if missing else "folder"}"/>'
                f'<text x="{x + box_w / 2:.0f}" y="{y + box_h * 0.68:.0f}" text-anchor="middle" class="name">'
                f"{html.escape(folder)}{' (planned)' if missing else ''}</text>"
            )
    lines: list[str] = []
    middle = label_w + room + widest * (box_w + gap_x) / 2
    for a, b in sorted(drawn):
        if a not in centre or b not in centre:
            continue
        (x1, y1), (x2, y2) = centre[a], centre[b]
        span = abs(row_of[a] - row_of[b])
        style = "violation" if (a, b) in bad else "edge"
        title = f"<title>{html.escape(a)} imports {html.escape(b)}</title>"
        if span == 1 and style == "edge":  # the next layer down: straight, bottom to top
            path = f"M{x1:.0f},{y1 + box_h / 2:.0f} L{x2:.0f},{y2 - box_h / 2:.0f}"
        else:  # around the layers in between: on the side of the target, violations on the right
            side = 1 if style == "violation" or x2 > middle else -1
            bow = 24 + 14 * span
            sx, ex = x1 + side * box_w / 2, x2 + side * box_w / 2
            path = (
                f"M{sx:.0f},{y1:.0f} C{sx + side * bow:.0f},{y1:.0f} {ex + side * bow:.0f},{y2:.0f} {ex:.0f},{y2:.0f}"
            )
        lines.append(f'<path d="{path}" class="{style}" marker-end="url(#{style}-head)">{title}</path>')
    style = (
        "<style>.folder{fill:#eef4fb;stroke:#3d6fa5}.planned{fill:#fff;stroke:#999;stroke-dasharray:4 3}"
        ".name{font:12px sans-serif;fill:#111}.layer{font:italic 12px sans-serif;fill:#555}"
        ".edge{stroke:#8a9bb0;stroke-width:1;fill:none}"
        ".violation{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:5 3;fill:none}</style>"
    )
    heads = "".join(
        f'<marker id="{name}-head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for name, colour in (("edge", "#8a9bb0"), ("violation", "#c0392b"))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
        f'role="img" aria-label="folder dependency graph of {PACKAGE}">{style}<defs>{heads}</defs>'
        + "".join(lines)
        + "".join(parts)
        + "</svg>"
    )


def architecture_markdown(source: Path = SOURCE) -> str:
    """The generated part of the architecture page: the drawing, then each layer's folders and imports."""
    edges = folder_edges(source)
    present = {module.folder for module in modules(source).values()}
    bad = layering_violations(edges)
    out = [
        "```{raw} html",
        svg(edges, present=present),
        "```",
        "",
        "| layer | folder | what it holds | imports |",
        "|---|---|---|---|",
    ]
    for name, folders in reversed(LAYERS):
        for folder in folders:
            if folder not in present:
                out.append(f"| {name} | `{folder}` | (planned: not in the code yet) | |")
                continue
            targets = sorted(b for a, b in edges if a == folder)
            listed = ", ".join(f"**`{b}`** (against the layering)" if (folder, b) in bad else f"`{b}`" for b in targets)
            summary = folder_summary(folder, source).replace("|", "\\|")
            out.append(f"| {name} | `{folder}` | {summary} | {listed} |")
    if bad:
        out += ["", "Imports against the layering, still in the code:", ""]
        for a, b in sorted(bad):
            lines: dict[str, set[int]] = {}
            for item in edges[(a, b)]:
                lines.setdefault(item.importer, set()).add(item.line)
            where = "; ".join(
                f"`{name}` (line{'s' if len(found) > 1 else ''} {', '.join(map(str, sorted(found)))})"
                for name, found in sorted(lines.items())
            )
            out.append(f"- `{a}` imports `{b}`: {where}")
    return "\n".join(out) + "\n"


def write_architecture(path: Path) -> None:
    """Write :func:`architecture_markdown` to ``path`` unless it already holds it."""
    text = architecture_markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
