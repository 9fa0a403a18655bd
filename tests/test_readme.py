"""Every command block of the README runs, as a reader would type it.

Each ```` ```bash ```` and ```` ```python ```` block of ``README.md`` is one
test (``tests/readme_blocks.py`` extracts them), run in README order in one
folder that holds a copy of the bundled ``media/`` (and links to
``benchmarks/`` and ``tools/``, with ``../shared`` beside it when the shared
media exist): shell blocks through ``bash -e -o pipefail``, Python blocks with
this interpreter, the console scripts of this environment first on ``PATH``.
A block must exit with status 0, and every output a shell block names with
``-o`` must exist afterwards.

A marker comment on a block's first line, ``# test: KIND (why)``, says how
it is run (the kinds: ``readme_blocks.KINDS``):

- ``extended``: needs the shared media or a long time; runs only when the
  shared media are there (``shared_media`` marker: listed under "EXTENDED
  SUITE NOT RUN" otherwise), with the cheap arguments of :data:`SUBSTITUTES`;
- ``server``: started, its page fetched until it answers, then stopped with
  SIGINT (Ctrl-C), which must end it with status 0;
- ``fresh-clone``: run verbatim in a new clone by ``tests/test_fresh_clone.py``
  (slow); here only its syntax is checked;
- ``docs``: the documentation build; the block must hold the command that
  ``tests/test_docs.py`` runs, and the site it builds must be there;
- ``ci``: the suite itself (``bash .ci/run``); here only its syntax is checked.

Nothing is left out silently: the last test prints what was done with each
block (``pytest -s`` or the end of the run shows it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import BUNDLED, REPO, SHARED, shared_available
from .readme_blocks import Block, readme_blocks

BLOCKS = readme_blocks()
TIMEOUT_S = 600

# (kind, text in the README, what the test runs instead, why): each must apply to some block
SUBSTITUTES = [
    ("run", "8786", "{port}", "a free port for the Dask scheduler: another run may hold the default 8786"),
    ("server", "--fps 2", "--fps 2 --port {port}", "a free port for the page instead of the default 8765"),
    ("extended", "--sample 2000", "--sample 20", "20 UTKFace faces instead of 2,000 (the figure's command)"),
    ("extended", "benchmarks/suite.py --only W1,W3", "benchmarks/suite.py --only W1,W3 --minutes 0.2 --no_peer",
     "a 12-second W1 video, and no peer runs, instead of 10 minutes"),
]

_DONE: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _substituted(block: Block, port: int) -> str:
    code = block.code
    for kind, old, new, _ in SUBSTITUTES:
        if kind == block.kind and old in code:
            code = code.replace(old, new.format(port=port))
    return code


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reader's folder: a copy of media/, links to benchmarks/ and tools/, ../shared beside it when present."""
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    work.mkdir()
    shutil.copytree(BUNDLED, work / "media")
    for name in ("benchmarks", "tools"):
        (work / name).symlink_to(REPO / name, target_is_directory=True)
    if shared_available():
        (root / "shared").symlink_to(SHARED.resolve(), target_is_directory=True)
    return work


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _outputs(code: str) -> list[str]:
    """What the shell block's commands write with ``-o``."""
    lines = [line.split(" #", 1)[0] for line in code.splitlines() if not line.lstrip().startswith("#")]
    return re.findall(r"(?:^|\s)-o\s+(\S+)", "\n".join(lines))


def _run(block: Block, code: str, folder: Path) -> subprocess.CompletedProcess:
    command = ["bash", "-e", "-o", "pipefail", "-c", code] if block.language == "bash" else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=folder, env=_environment(), capture_output=True, text=True, timeout=TIMEOUT_S)


def _check(block: Block, code: str, completed: subprocess.CompletedProcess, folder: Path) -> None:
    output = (completed.stdout + completed.stderr)[-4000:]
    assert completed.returncode == 0, f"README line {block.line}: exit {completed.returncode}\n{code}\n{output}"
    if block.language == "bash":
        missing = [path for path in _outputs(code) if not (folder / path).exists()]
        assert not missing, f"README line {block.line}: outputs not written: {missing}\n{output}"


def _serve(block: Block, code: str, folder: Path, port: int) -> str:
    """Start the server block's one command, fetch its page until it answers, stop it with SIGINT."""
    commands = [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 1, f"README line {block.line}: a server block holds one command"
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(["bash", "-c", "exec " + commands[0]], cwd=folder, env=_environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        page = None
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    page = answer.read().decode("utf-8", "replace")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert page is not None, f"README line {block.line}: {url} never answered (exit {process.poll()})"
        assert "<html" in page.lower()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, f"README line {block.line}: exit {process.returncode} after SIGINT\n{output[-3000:]}"
    return url


def test_readme_markers_are_complete():
    kinds = [block.kind for block in BLOCKS]
    assert kinds.count("fresh-clone") == 1, "the README's quick-start command 1 carries '# test: fresh-clone'"
    assert any(block.kind == "ci" and "bash .ci/run" in block.code for block in BLOCKS)
    unused = [(kind, old) for kind, old, _, _ in SUBSTITUTES
              if not any(block.kind == kind and old in block.code for block in BLOCKS)]
    assert not unused, f"substitutes that no README block needs any more (update SUBSTITUTES): {unused}"


def _params() -> list:
    params = []
    for block in BLOCKS:
        marks = [pytest.mark.shared_media] if block.kind == "extended" else []
        params.append(pytest.param(block, id=block.name, marks=marks))
    return params


@pytest.mark.parametrize("block", _params())
def test_readme_block(block: Block, folder: Path, request: pytest.FixtureRequest):
    started = time.monotonic()
    port = _free_port()
    code = _substituted(block, port)
    if block.kind in ("run", "extended"):
        _check(block, code, _run(block, code, folder), folder)
        what = "ran" + (" (cheap arguments)" if code != block.code else "")
    elif block.kind == "server":
        what = f"served {_serve(block, code, folder, port)}, stopped with SIGINT"
    elif block.kind == "docs":
        from .test_docs import DOCS_COMMAND

        assert DOCS_COMMAND in block.code
        site = request.getfixturevalue("site")
        assert (site / "index.html").is_file()
        what = "built by the site fixture (tests/test_docs.py), with the block's flags"
    elif block.kind == "fresh-clone":
        assert (REPO / "tests" / "test_fresh_clone.py").is_file()
        subprocess.run(["bash", "-n", "-c", code], check=True)
        what = "syntax checked; run in a fresh clone by tests/test_fresh_clone.py (slow)"
    else:  # ci
        subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")], check=True)
        what = "syntax checked: it is this suite (.ci/run)"
    _DONE[block.name] = f"{what}, {time.monotonic() - started:.1f} s"


def test_readme_blocks_report(capsys: pytest.CaptureFixture, request: pytest.FixtureRequest):
    """What was done with each README block; a block selected in this run that did not finish fails here too."""
    selected = {item.callspec.id for item in request.session.items
                if getattr(item, "originalname", "") == "test_readme_block"}
    lines, missing = [], []
    for block in BLOCKS:
        if block.name in _DONE:
            lines.append(f"{block.name}: {_DONE[block.name]}")
        elif block.kind == "extended" and not shared_available():
            lines.append(f"{block.name}: NOT RUN (shared media missing: see EXTENDED SUITE NOT RUN)")
        elif block.name in selected:
            lines.append(f"{block.name}: FAILED")
            missing.append(block.name)
        else:
            lines.append(f"{block.name}: not selected in this run")
    with capsys.disabled():
        print("\nREADME blocks:\n  " + "\n  ".join(lines))
    assert selected, "no README block was selected"
    assert not missing, "\n".join(lines)
