"""The package's structure: the library never reaches the app or gradio (not even through another module),
imports never go round in a circle, the low rooms stay low, the app file stays readable."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ae_vae.errors import TRAINING_MODULES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ae_vae"
APP = "ae_vae.app"
# Function-level imports allowed, each for an optional heavy dependency only some paths need: the training-only
# packages (torch and what builds artifacts), which the app's requirements do not install, and safetensors' torch half.
LAZY_IMPORTS = {("ae_vae.data", "torchvision"), ("ae_vae.data", "torch"), ("ae_vae.latent.maps", "umap"),
                ("ae_vae.latent.priors", "sklearn"), ("ae_vae.cli", "threadpoolctl"), ("ae_vae.cli", "torch"),
                ("ae_vae.cli", ".models"), ("ae_vae.cli", ".training"), ("ae_vae.hub", ".models"),
                ("ae_vae.fileio", "safetensors"), ("ae_vae.models.graphs", "onnx")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, *, runtime_only: bool = True) -> tuple[set[str], set[str]]:
    """(package modules, top-level outside packages) that module `name` imports, anywhere in the file; imports
    under `if TYPE_CHECKING:` never run, so they count only when `runtime_only` is false."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for n in ast.walk(node))
    inside, outside = set(), set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name.startswith("ae_vae") else outside).add(
                    alias.name if alias.name.startswith("ae_vae") else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("ae_vae"):
                outside.add((node.module or "").split(".")[0])
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from . import x` or `from .pkg import module` name modules; otherwise the target module itself.
            named = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
            inside.update(named or [target])
    # A package's `__init__` runs before its modules, but it is a module of this graph in its own right, so
    # every rule is checked on it directly; adding it as an edge would make every sub-package look circular.
    return {m for m in inside if m in MODULES} - {name}, outside


def graph(runtime_only: bool = True) -> dict[str, set[str]]:
    return {name: imports_of(name, runtime_only=runtime_only)[0] for name in MODULES}


def reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in edges[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


LIBRARY = sorted(m for m in MODULES if not (m == APP or m.startswith(APP + ".")))


def test_find_cycle_and_reachable_see_indirect_paths():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(edges) == ["a", "b", "c", "a"] and find_cycle({"a": {"b"}, "b": set()}) is None
    assert reachable("a", edges) == {"a", "b", "c"} and reachable("d", edges) == set()


def test_relative_imports_resolve_to_modules():
    assert "ae_vae.models.config" in imports_of("ae_vae.models.format")[0]  # from .config import ...
    assert imports_of("ae_vae.fileio")[0] == {"ae_vae.errors"}  # from .errors import ...
    assert "ae_vae.latent.priors" in reachable("ae_vae.app.explorer", graph())  # through another module


def test_the_rooms_exist():
    assert {"ae_vae.models", "ae_vae.latent", "ae_vae.training", "ae_vae.app", "ae_vae.errors", "ae_vae.hub",
            "ae_vae.fileio", "ae_vae.cli"} <= set(MODULES)


def test_no_import_cycle_in_the_package_not_even_for_type_hints():
    assert find_cycle(graph(runtime_only=False)) is None


@pytest.mark.parametrize("module", LIBRARY)
def test_the_library_never_reaches_the_app_or_gradio(module):
    edges = graph()
    seen = reachable(module, edges) | {module}
    assert not {m for m in seen if m == APP or m.startswith(APP + ".")}, f"{module} reaches the app"
    gradio = sorted(m for m in seen if "gradio" in imports_of(m)[1])
    assert not gradio, f"{module} imports gradio through {gradio}"


def test_importing_the_library_loads_no_gradio():
    code = ("import sys, ae_vae, ae_vae.cli, ae_vae.hub, ae_vae.training.artifacts; "
            "from ae_vae import GaussianMixturePrior, VAE, AutoEncoder; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gradio' or m.startswith('ae_vae.app')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module, allowed", [
    ("ae_vae.errors", set()),
    ("ae_vae.fileio", {"ae_vae.errors"}),
])
def test_the_leaves_stay_leaves(module, allowed):
    assert graph()[module] <= allowed


@pytest.mark.parametrize("module", ["ae_vae.models.blocks", "ae_vae.models.autoencoder", "ae_vae.models.vae",
                                    "ae_vae.models.losses"])
def test_model_files_import_only_torch_and_their_room(module):
    inside, outside = imports_of(module)
    assert all(m.startswith("ae_vae.models") for m in inside), inside
    assert outside <= {"__future__", "torch", "math", "dataclasses", "typing", "collections", "functools"}, outside


def test_hub_never_imports_a_concrete_model():
    """The Hub room reads folders through the weights format, which picks the class from `config.json`."""
    names = {(node.module, a.name) for node in ast.walk(ast.parse(MODULES["ae_vae.hub"].read_text()))
             if isinstance(node, ast.ImportFrom) for a in node.names}
    assert names and not {n for n in names if n[1] in ("AutoEncoder", "VAE") or
                          (n[0] or "").endswith(("autoencoder", "vae"))}


def test_no_function_level_imports_but_optional_heavy_ones():
    found = set()
    for name, path in MODULES.items():
        for func in ast.walk(ast.parse(path.read_text())):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.Import):
                        found.update((name, a.name.split(".")[0]) for a in node.names)
                    elif isinstance(node, ast.ImportFrom):
                        found.add((name, "." * node.level + (node.module or "").split(".")[0]))
    assert found <= LAZY_IMPORTS, sorted(found - LAZY_IMPORTS)


# What the app may not import: the training-only packages (the app serves through onnxruntime).
TRAINING_ONLY = set(TRAINING_MODULES)
SERVED = ["ae_vae.app.sources", "ae_vae.app.page", "ae_vae.app.pad", "ae_vae.folders", "ae_vae.hub",
          "ae_vae.latent", "ae_vae.runtime"]


def module_level_imports(name: str) -> tuple[set[str], set[str]]:
    """`imports_of(name)` counting only what runs when the module is imported: not imports inside functions."""
    tree = ast.parse(MODULES[name].read_text())
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        func.body = [ast.Pass()]
    path = Path(tempfile.mkdtemp()) / MODULES[name].name
    path.write_text(ast.unparse(tree))
    original, MODULES[name] = MODULES[name], path
    try:
        return imports_of(name)
    finally:
        MODULES[name] = original


@pytest.mark.parametrize("module", SERVED)
def test_what_the_app_serves_with_imports_no_training_package_at_module_level(module):
    """The app's modules, and everything they import when imported, import torch and the artifact builders only
    inside the functions that build (train-side): `tests/test_lean_server.py` runs the app to check the rest."""
    edges = {name: module_level_imports(name)[0] for name in MODULES}
    for reached in reachable(module, edges) | {module}:
        outside = module_level_imports(reached)[1]
        assert not outside & TRAINING_ONLY, f"{module} reaches {reached}, which imports {outside & TRAINING_ONLY}"


def test_app_functions_fit_on_a_screen():
    tree = ast.parse((ROOT / "app.py").read_text())
    lengths = {f.name: f.end_lineno - f.lineno + 1 for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    assert max(lengths.values()) <= 50, lengths
