"""The package's structure: imports point one way, the leaf stays a leaf, the app file stays readable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ae_vae"
# Function-level imports allowed, each for an optional heavy dependency only some paths need.
LAZY_IMPORTS = {("data", "torchvision"), ("embeddings", "umap"), ("priors", "sklearn"), ("priors", "threadpoolctl")}


def package_imports() -> dict[str, set[str]]:
    """module -> the package modules it imports (relative or `ae_vae.` imports, anywhere in the file)."""
    graph: dict[str, set[str]] = {}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    for path in PACKAGE.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level >= 1:
                    names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                elif (node.module or "").startswith("ae_vae."):
                    names = [node.module.split(".")[1]]
                else:
                    continue
                deps.update(n for n in names if n in modules)
        graph[path.stem] = deps - {path.stem, "__init__"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    assert find_cycle(package_imports()) is None


@pytest.mark.parametrize("module, allowed", [
    ("fileio", set()),  # the leaf
    ("weights", {"fileio"}),
    ("models", {"weights"}),
])
def test_low_layers_import_only_what_is_below_them(module, allowed):
    assert package_imports()[module] <= allowed


def test_hub_never_imports_a_concrete_model():
    assert "models" not in package_imports()["hub"]


def test_no_function_level_imports_but_optional_heavy_ones():
    found = set()
    for path in PACKAGE.glob("*.py"):
        for func in ast.walk(ast.parse(path.read_text())):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.Import):
                        found.update((path.stem, a.name.split(".")[0]) for a in node.names)
                    elif isinstance(node, ast.ImportFrom):
                        found.add((path.stem, "." * node.level + (node.module or "").split(".")[0]))
    assert found <= LAZY_IMPORTS, sorted(found - LAZY_IMPORTS)


def test_app_functions_fit_on_a_screen():
    tree = ast.parse((ROOT / "app.py").read_text())
    lengths = {f.name: f.end_lineno - f.lineno + 1 for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    assert max(lengths.values()) <= 50, lengths
