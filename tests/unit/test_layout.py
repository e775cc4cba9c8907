"""The package layout: imports only go down the layers, and no import cycle.

Layers, lowest first (a package may import its own modules and any lower layer, at module level
or inside a function alike): the shared basics; config and the compiled-kernel layer; data,
models and the model file; the things built on a model (checkpoints, inference); training;
fine-tuning; the commands; the command line. ``docs/architecture.md`` explains each package.
The top-level ``deepft/__init__.py`` (the version, and lazy re-exports of the public API) is the
one facade allowed to reach up.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "deepft"

LAYERS = [
    {"errors", "branches", "_atomic", "_device", "__init__", "_core", "_missing_core",
     "progress"},
    {"config", "ops"},
    {"data", "model", "io"},
    {"convert"},
    {"checkpoint", "infer", "calculator", "lmp", "compress"},
    {"train"},
    {"finetune"},
    {"commands"},
    {"cli", "__main__"},
]


def rank(top: str) -> int:
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"deepft.{top} is in no layer of tests/unit/test_layout.py: add it "
                         "(and a paragraph to docs/architecture.md)")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, name: str, module_level_only: bool) -> set[str]:
    """deepft modules imported by ``path`` (absolute names)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("deepft")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("deepft"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_only_go_down_the_layers():
    known = modules()
    wrong = []
    for name, path in known.items():
        if name == "deepft":  # the facade
            continue
        for target in imports(path, name, module_level_only=False):
            if target not in known:  # an attribute imported from a module
                continue
            if top(target) != top(name) and rank(top(target)) > rank(top(name)):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports that go up the layers:\n" + "\n".join(wrong)


def test_no_import_cycle():
    known = modules()
    # every import counts, inside functions too (a lazy import still ties two modules together);
    # a package's __init__ importing its own submodules is how packages re-export: not an edge
    graph = {n: {t for t in imports(p, n, module_level_only=False)
                 if t in known and t != n and not t.startswith(n + ".")}
             for n, p in known.items()}
    done: set[str] = set()
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_cli_modules_import_torch_lazily():
    """``deepft --help`` is instant: no deepft.cli module imports torch at module level."""
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "torch" for n in names), path.name
            assert not any(n.startswith("deepft.") and not n.startswith(("deepft.cli",
                           "deepft.errors")) and n != "deepft" for n in names), \
                f"{path.name} imports {names} at module level"
