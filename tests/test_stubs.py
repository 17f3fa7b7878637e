"""The hand-written _core.pyi stubs name exactly what the compiled module exports."""

from __future__ import annotations

import ast
from pathlib import Path

import liqcascade
from liqcascade import _core


def test_stubs_match_the_compiled_module():
    stub = ast.parse((Path(liqcascade.__file__).parent / "_core.pyi").read_text())
    declared = {node.name for node in stub.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    exported = {name for name in dir(_core) if not name.startswith("_")}
    assert declared == exported
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            members = {m.name for m in node.body
                       if isinstance(m, (ast.FunctionDef, ast.ClassDef)) and not m.name.startswith("__")}
            members |= {m.target.id for m in node.body if isinstance(m, ast.AnnAssign) and isinstance(m.target, ast.Name)}
            actual = {name for name in dir(getattr(_core, node.name)) if not name.startswith("_")}
            assert members == actual, node.name
