"""The package as rooms (issue 29): no import circle inside anp_emu/, no two modules of one name,
and the module paths of earlier versions still import (with a DeprecationWarning)."""
import ast
import importlib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# where each installed package's source lives (pyproject's package-dir)
PACKAGE_DIRS = {"anp_emu": ROOT / "anp_emu", "anp_emu.emg": ROOT / "emg", "anp_emu.mapping": ROOT / "mapping",
                "anp_emu.cli": ROOT / "cli"}


def modules(package="anp_emu") -> dict[str, Path]:
    base = PACKAGE_DIRS[package]
    out = {}
    for p in base.rglob("*.py"):
        rel = p.relative_to(base).with_suffix("").parts
        name = ".".join((package,) + rel)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = p
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``name`` imports (module level and inside functions alike)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def test_no_import_circle_inside_anp_emu():
    mods = {k: v for k, v in modules().items()}
    known = set(mods)
    # package __init__ files re-export lazily; an edge to a package is an edge to its __init__
    graph = {m: {t for t in imports_of(m, p, known) if not m.startswith(t + ".")} for m, p in mods.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                circle = stack[stack.index(t):] + [t]
                pytest.fail("import circle: " + " -> ".join(circle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_two_modules_of_one_name():
    names = {}
    for package in PACKAGE_DIRS:
        for m, p in modules(package).items():
            if p.name != "__init__.py":
                names.setdefault(p.stem, []).append(m)
    twice = {k: v for k, v in names.items() if len(v) > 1}
    assert not twice, twice


def test_old_module_paths_import_with_a_warning():
    import anp_emu

    for old, new in anp_emu.MOVED.items():
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import sys
            sys.modules.pop(old, None)
            mod = importlib.import_module(old)
        assert mod is importlib.import_module(new), old
        assert any(issubclass(x.category, DeprecationWarning) and new in str(x.message) for x in w), old


def test_public_names_import_from_the_package():
    import anp_emu

    for name in anp_emu.__all__:
        assert getattr(anp_emu, name) is not None, name


def test_an_old_path_leaves_the_module_as_it_is():
    import importlib.util
    import sys

    from anp_emu.runtime import threads

    sys.modules.pop("anp_emu.threads", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("anp_emu.threads")
    assert old is threads and threads.__name__ == "anp_emu.runtime.threads"
    assert threads.__spec__.name == "anp_emu.runtime.threads"
    assert importlib.reload(threads) is threads and importlib.util.find_spec("anp_emu.threads") is not None
