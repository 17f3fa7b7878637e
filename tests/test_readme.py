"""The README's code runs as written, and its example outputs are what this build prints.

- Every ```python block runs on its own: a fresh namespace, a temporary working directory (the
  files it writes go nowhere), warnings as errors (the project's pytest configuration). A
  ```text block that directly follows a ```python block (nothing but blank lines between) is
  what that block prints.
- Every ```console block that starts with ``$ liqcascade ...`` is an example of the command
  line: the test runs that command, with the same arguments, and compares what it prints
  with the rest of the block.

Comparisons are exact except for trailing whitespace and for the run times the commands
report (``in 2.0 s``, ``in 51.6 ms``), which change from run to run. Other ```bash blocks
(installation, benchmarks, development) are not run.

When the engine's results change on purpose, refresh the README's outputs from this build
with ``python tests/test_readme.py --update`` and review the diff.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

_FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_DURATION = re.compile(r"\bin \d[\d,]*(?:\.\d+)? m?s\b")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int     # line of the opening fence, 1-based
    start: int    # character offsets of the block's body in the README
    end: int


def _blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.start(2), m.end(2))
            for m in _FENCE.finditer(text)]


def _python_examples(text: str) -> list[tuple[Block, Block | None]]:
    """Each ```python block with the ```text block that directly follows it, if any."""
    blocks = _blocks(text)
    examples = []
    for k, block in enumerate(blocks):
        if block.language != "python":
            continue
        output = None
        if k + 1 < len(blocks) and blocks[k + 1].language == "text":
            between = text[text.index("```", block.end) + 3: text.rindex("```", 0, blocks[k + 1].start)]
            if between.strip() == "":
                output = blocks[k + 1]
        examples.append((block, output))
    return examples


def _cli_examples(text: str) -> list[tuple[Block, list[str], str]]:
    """Each ```console block ``$ liqcascade ARGS`` + output: (block, ARGS, expected output)."""
    examples = []
    for block in _blocks(text):
        if block.language != "console":
            continue
        first, _, output = block.code.partition("\n")
        if first.startswith("$ liqcascade"):
            examples.append((block, shlex.split(first[2:])[1:], output))
    return examples


def _normalise(output: str) -> str:
    lines = [_DURATION.sub("in <time>", line.rstrip()) for line in output.strip("\n").split("\n")]
    return "\n".join(lines)


def _run_cli(args: list[str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "liqcascade", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"liqcascade {shlex.join(args)} failed:\n{done.stderr}"
    return done.stdout


_TEXT = README.read_text(encoding="utf-8")
_PYTHON = _python_examples(_TEXT)
_CLI = _cli_examples(_TEXT)


def test_readme_has_its_examples() -> None:
    # the parametrised tests below must not pass because nothing was found
    assert len(_PYTHON) >= 4
    assert any(output is not None for _, output in _PYTHON)
    assert {args[0] for _, args, _ in _CLI} >= {"run", "shocks", "simulate"}


@pytest.mark.parametrize(("block", "output"), [pytest.param(b, o, id=f"python-line-{b.line}") for b, o in _PYTHON])
def test_python_block_runs(block: Block, output: Block | None, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(block.code, f"README.md, block at line {block.line}", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - the README's own example code
    printed = capsys.readouterr().out
    if output is not None:
        assert _normalise(printed) == _normalise(output.code), (
            f"the python block at README.md line {block.line} printed something else")


@pytest.mark.parametrize(("block", "args", "expected"),
                         [pytest.param(b, a, e, id=f"liqcascade-{'-'.join(a)}") for b, a, e in _CLI])
def test_cli_output_is_the_readmes(block: Block, args: list[str], expected: str, tmp_path: Path) -> None:
    printed = _run_cli(args, tmp_path)
    assert _normalise(printed) == _normalise(expected), (
        f"`liqcascade {shlex.join(args)}` (README.md line {block.line}) printed something else")


def update_readme() -> None:
    """Write what this build prints into the README's output blocks."""
    import contextlib
    import io
    import os
    import tempfile

    text = README.read_text(encoding="utf-8")
    replacements: list[tuple[int, int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for block, args, _ in _cli_examples(text):
            printed = _run_cli(args, Path(tmp)).rstrip("\n")
            first = block.code.partition("\n")[0]
            replacements.append((block.start, block.end, f"{first}\n{printed}\n"))
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            for block, output in _python_examples(text):
                if output is None:
                    continue
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__readme__"})  # noqa: S102
                replacements.append((output.start, output.end, buffer.getvalue().rstrip("\n") + "\n"))
        finally:
            os.chdir(cwd)
    for start, end, body in sorted(replacements, reverse=True):
        text = text[:start] + body + text[end:]
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_readme.py --update   (rewrites the README's example outputs)")
    update_readme()
