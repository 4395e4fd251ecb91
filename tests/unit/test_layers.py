"""The package's layers (src/movielake/*/__init__.py says what each may import): checked from
the import statements, and for the Spark-free layers by importing them in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "movielake"
# layer -> the movielake layers its modules may import (besides itself and movielake.errors)
ALLOWED = {
    "algorithms": set(),
    "data": set(),
    "spark": {"algorithms", "data"},
    "serving": {"algorithms", "data"},
    "ops": {"spark", "data"},
    "streaming": {"spark", "serving", "algorithms", "data", "ops"},
}
SPARK_FREE = ("algorithms", "serving", "data")


def _imports(path: Path) -> set[str]:
    """movielake modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("movielake"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if node.module == "movielake"}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("movielake")}
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_its_docstring_allows(layer):
    wrong = []
    for path in sorted((PACKAGE / layer).glob("*.py")):
        for module in _imports(path):
            other = _layer(module)
            if other and other != layer and other not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
            if module == "movielake.cli":
                wrong.append(f"{path.relative_to(PACKAGE)} imports the CLI")
    assert not wrong, "\n".join(wrong)


def test_the_layers_have_no_import_cycle():
    edges = {layer: set() for layer in ALLOWED}
    for layer in ALLOWED:
        for path in (PACKAGE / layer).glob("*.py"):
            edges[layer] |= {o for m in _imports(path) if (o := _layer(m)) and o != layer}

    def reaches(start, goal, seen=()):
        return any(
            n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in edges[start]
        )

    assert not [layer for layer in ALLOWED if reaches(layer, layer)]


@pytest.mark.parametrize("layer", SPARK_FREE)
def test_spark_free_layers_import_without_pyspark(layer):
    modules = [
        f"movielake.{layer}.{p.stem}"
        for p in sorted((PACKAGE / layer).glob("*.py"))
        if p.stem not in ("__init__", "app")
    ]  # app.py is a Streamlit script, run by it
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{layer} imported {out.stdout.strip()}"
