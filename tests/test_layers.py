"""The layering rules, read from the source with `ast` (no import-linter, nothing imported).

tests/test_code_rules.py runs import-linter's contracts (setup.cfg) for the arrows between packages;
this file checks what the contracts cannot say: no cycle between any two modules, no private name
taken from another module, a pure domain, and a package docstring that says what it may import.
Every import counts, at module level or inside a function, `if TYPE_CHECKING:` included (a type is
a dependency too).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "barriosms"


@dataclass(frozen=True)
class Import:
    importer: str   # the module holding the import statement
    imported: str   # the module it names: `from a.b import c` is a.b.c when c is a module, else a.b
    name: str       # the name taken (`c`), "" for `import a.b`
    line: int

    def __str__(self) -> str:
        taken = f" ({self.name})" if self.name and not self.imported.endswith("." + self.name) else ""
        return f"{self.importer}:{self.line} -> {self.imported}{taken}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_modules(root: Path = ROOT) -> dict[str, tuple[Path, ast.Module]]:
    """Every module of the package: name -> (file, syntax tree)."""
    return {module_name(p, root): (p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p)))
            for p in sorted((root / TOP).rglob("*.py"))}


def imports_of(name: str, path: Path, tree: ast.Module, known: set[str] | frozenset[str]) -> list[Import]:
    """The imports anywhere in `tree` (module level, functions, classes, conditionals)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, "", node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append(Import(name, submodule if submodule in known else source, alias.name, node.lineno))
    return found


@dataclass
class Graph:
    modules: dict[str, tuple[Path, ast.Module]]
    imports: list[Import]

    def internal(self) -> list[Import]:
        return [i for i in self.imports if i.imported == TOP or i.imported.startswith(TOP + ".")]

    def edges(self) -> dict[str, dict[str, Import]]:
        """importer -> imported module -> the first import that makes the edge (barriosms only)."""
        out: dict[str, dict[str, Import]] = {m: {} for m in self.modules}
        for i in self.internal():
            target = _known_prefix(i.imported, self.modules)
            if target is not None and target != i.importer:
                out[i.importer].setdefault(target, i)
        return out


def _known_prefix(dotted: str, modules: dict[str, object]) -> str | None:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def build_graph(root: Path = ROOT) -> Graph:
    modules = read_modules(root)
    known = frozenset(modules)
    imports = [i for name, (path, tree) in modules.items() for i in imports_of(name, path, tree, known)]
    return Graph(modules, imports)


def cycles(edges: dict[str, dict[str, Import]]) -> list[tuple[list[str], list[Import]]]:
    """Each group of modules that import one another, with one cycle through its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    found = []
    for group in groups:
        members = set(group)
        start = group[0]
        # shortest way back to `start` inside the group
        paths: dict[str, list[Import]] = {start: []}
        queue = [start]
        cycle: list[Import] = []
        while queue and not cycle:
            v = queue.pop(0)
            for w, imp in sorted(edges[v].items()):
                if w == start:
                    cycle = paths[v] + [imp]
                    break
                if w in members and w not in paths:
                    paths[w] = paths[v] + [imp]
                    queue.append(w)
        found.append((group, cycle))
    return found


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph()


def test_the_walker_sees_imports_in_functions_and_relative_ones() -> None:
    source = ("import os\n"
              "from . import sibling\n"
              "from .sibling import _hidden, shown\n"
              "def later():\n"
              "    from barriosms.other import thing\n"
              "    if True:\n"
              "        import barriosms.deep.mod\n")
    known = {"barriosms.pkg", "barriosms.pkg.here", "barriosms.pkg.sibling", "barriosms.other"}
    found = imports_of("barriosms.pkg.here", Path("here.py"), ast.parse(source), known)
    assert [(i.imported, i.name, i.line) for i in found] == [
        ("os", "", 1),
        ("barriosms.pkg.sibling", "sibling", 2),
        ("barriosms.pkg.sibling", "_hidden", 3),
        ("barriosms.pkg.sibling", "shown", 3),
        ("barriosms.other", "thing", 5),
        ("barriosms.deep.mod", "", 7),
    ]
    edges = {"a": {"b": Import("a", "b", "", 1)}, "b": {"c": Import("b", "c", "", 2)},
             "c": {"a": Import("c", "a", "", 3)}, "d": {}}
    assert [(g, [str(i) for i in c]) for g, c in cycles(edges)] == [(["a", "b", "c"], ["a:1 -> b", "b:2 -> c", "c:3 -> a"])]
    pure = ("from dataclasses import dataclass\n@dataclass\nclass Row:\n    open: int\n"
            "def busiest(rows): return max(rows, key=lambda r: r.open)\n")
    assert file_access(ast.parse(pure)) == []
    impure = "def load(p):\n    with open(p) as f: pass\n    p.open()\n    return p.read_text()\n"
    assert file_access(ast.parse(impure)) == [(2, "open"), (3, ".open()"), (4, ".read_text")]


def test_no_import_cycles_between_modules(graph: Graph) -> None:
    found = cycles(graph.edges())
    assert not found, "import cycles (per group of modules that import one another, one cycle):\n" + "\n".join(
        f"  {', '.join(group)}\n    " + "  =>  ".join(str(i) for i in cycle) for group, cycle in found)


def test_no_module_imports_a_private_name_of_another(graph: Graph) -> None:
    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    found = [i for i in graph.imports
             if i.imported != "__future__"
             and (private(i.name) or any(private(part) for part in i.imported.split(".")))]
    assert not found, "private names taken from another module (make them public or move the code):\n" + "\n".join(
        f"  {i}" for i in found)


def test_domain_imports_nothing_of_barriosms_outside_domain(graph: Graph) -> None:
    found = [i for i in graph.internal()
             if i.importer.startswith(f"{TOP}.domain") and not (i.imported + ".").startswith(f"{TOP}.domain.")]
    assert not found, "barriosms.domain is pure: it may import only barriosms.domain:\n" + "\n".join(
        f"  {i}" for i in found)


# Reading or writing files, or listing folders: what a pure domain never does. `open` counts as the
# builtin read (not a field named open) or a call of a method open (Path.open), not `case.open`.
FILE_ACCESS = {"read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "scandir",
               "listdir", "glob", "rglob", "fdopen"}


def file_access(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "open" and isinstance(node.ctx, ast.Load):
            found.append((node.lineno, "open"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "open":
            found.append((node.lineno, ".open()"))
        elif isinstance(node, ast.Attribute) and node.attr in FILE_ACCESS:
            found.append((node.lineno, f".{node.attr}"))
    return sorted(found)


def test_domain_opens_no_files(graph: Graph) -> None:
    found = []
    for name, (path, tree) in graph.modules.items():
        if not name.startswith(f"{TOP}.domain"):
            continue
        found.extend(f"  {name}:{line} uses {what}" for line, what in file_access(tree))
        found.extend(f"  {i}: package files are read by the caller, not the domain" for i in
                     imports_of(name, path, tree, frozenset(graph.modules))
                     if i.imported == "importlib.resources" or (i.imported, i.name) == ("importlib", "resources"))
    assert not found, "barriosms.domain reads no files (its callers pass text in):\n" + "\n".join(found)


def test_every_package_says_what_it_may_import(graph: Graph) -> None:
    missing = []
    for path, tree in graph.modules.values():
        if path.name != "__init__.py":
            continue
        doc = ast.get_docstring(tree) or ""
        if "may import" not in doc.lower():
            missing.append(f"  {path.relative_to(ROOT)}")
    assert not missing, ('package docstrings without a "May import: ..." line (the layering in words, '
                         "as setup.cfg's import-linter contracts say it):\n" + "\n".join(missing))
