"""The library stays readable: no module over 400 lines, no function over 60 (an AST walk
of src/closerlook), and no in-code pointer to a design document outside the repository."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import REPO

PACKAGE = REPO / "src" / "closerlook"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MODULES = sorted(PACKAGE.rglob("*.py"))


def function_lengths(path: Path) -> dict[str, int]:
    """Qualified name -> lines (decorators and docstring included) of every function."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    lengths[name] = child.end_lineno - first + 1
                visit(child, f"{name}.")

    visit(ast.parse(path.read_text()), "")
    return lengths


def test_the_walk_measures_functions_and_methods(tmp_path):
    source = tmp_path / "m.py"
    lines = ["@dec", "def f():", "    pass", "class C:", "    def g(self):", "        x = 1"]
    source.write_text("\n".join([*lines, "        return x", ""]))
    assert function_lengths(source) == {"f": 3, "C.g": 3}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines; split it by idea"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_function_is_over_60_lines(path):
    long = {n: k for n, k in function_lengths(path).items() if k > MAX_FUNCTION_LINES}
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_design_pointers_stay_inside_the_repository():
    """Every pointer to the design is to docs/architecture.md, which a clone has."""
    assert (REPO / "docs" / "architecture.md").exists()
    roots = [PACKAGE, REPO / "workflow", REPO / "benchmarks", REPO / "tests"]
    files = [REPO / "Snakefile", *(p for r in roots for p in r.rglob("*") if p.is_file())]
    outside = [
        str(p.relative_to(REPO))
        for p in files
        if p.suffix in (".py", ".smk", ".rst", ".yaml", "")
        and p != Path(__file__)
        and "DESIGN.md" in p.read_text(errors="ignore")
    ]
    assert not outside, f"pointers to a design document outside the repository: {outside}"
