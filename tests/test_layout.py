"""The package shows its plan: the runtime core stands apart from the wings, and no imports go round in circles."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ner", "ner_app")
WINGS = ("ner.training", "ner.export", "ner.bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every project module ``path`` imports, at module level or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    return {name: {m for m in imports_of(p) if m in modules and m != name} for name, p in modules.items()}


def test_the_import_graph_has_no_circles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(g[node]):
            # a submodule may import its own package (``import ner`` for ner.load): that edge closes no
            # circle unless the package imports the submodule back, which the walk finds the other way
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif not state.get(nxt):
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(g):
        if not state.get(node):
            visit(node, [node])
    assert not cycles, cycles


def test_the_core_never_imports_a_wing_or_the_app():
    g = graph()
    core = [m for m in g if m.split(".")[0] == "ner" and not m.startswith(WINGS)
            and m not in ("ner.evaluate", "ner.train", "ner.finetune")]  # command shims of the wings
    for m in core:
        assert not {i for i in g[m] if i.startswith(WINGS + ("ner_app",))}, (m, g[m])


def test_the_app_does_not_reach_into_training_code():
    g = graph()
    for m in (m for m in g if m.startswith("ner_app")):
        assert not {i for i in g[m] if i.startswith("ner.training")}, (m, g[m])


def test_import_ner_needs_only_numpy_onnxruntime_and_tokenizers():
    code = ("import sys, ner\n"
            "heavy = {'torch', 'gradio', 'onnx', 'transformers', 'jieba', 'gensim', 'ray', 'pyarrow', 'ahocorasick'}\n"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
