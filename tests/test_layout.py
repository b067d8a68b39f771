"""The package shows its plan: the runtime core stands apart from the wings, export builds on training (never
the reverse), no imports go round in circles, no module grows past one screenful of jobs, and only entry points
read the environment."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ner", "ner_app")
WINGS = ("ner.training", "ner.export", "ner.bench")
MAX_LINES = 500

#: Entry points: where the process starts, so where environment variables are read, once (with every
#: function of ENTRY_FUNCTIONS below).
ENTRY_POINTS = (
    "__main__",          # every python -m command
    "ner_app.config",    # Settings.from_env: the server's one reader of NER_* variables
    "ner_app.serve",     # Ray Serve's import path (serve run ner_app.serve:app)
    "ner.bench",         # benchmark commands (each a python -m command), which start servers and workers
)

#: Library modules that still read (or set) the environment, each with its reason. Shrink this list.
READS_ENVIRONMENT = {
    "ner.crf": "NER_CRF_KERNEL=numpy forces the numpy reference decoder (a switch the README documents for "
               "checking the compiled one); the choice is made once, when the module loads",
    "ner.export.modelscope": "MODELSCOPE_DOMAIN is the modelscope package's own variable: the reachability check "
                             "must ask the host the download will use",
    "ner.batch.ray": "sets Ray's variables (loopback only, no usage report) for the Ray processes init_ray starts "
                     "(ner-batch --engine ray, the benchmarks, the tests all start Ray through it)",
    "ner_app.factory": "sets (never reads) GRADIO_TEMP_DIR to the app's own file folder: Gradio reads that "
                       "variable at each request and has no parameter for it",
}


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
            and m not in ("ner.evaluate", "ner.train", "ner.finetune")]  # the wings' commands
    for m in core:
        assert not {i for i in g[m] if i.startswith(WINGS + ("ner_app",))}, (m, g[m])


#: The app's one road into a wing, with its reason (ARCHITECTURE.md says the same).
APP_INTO_WINGS = {("ner_app.model_source", "ner.export.raner"): "NER_MODEL naming a ModelScope RaNER id is "
                  "exported to ONNX on first start (a lazy import: only with the export extra installed)"}


def test_the_app_imports_the_core_and_only_its_declared_road_into_a_wing():
    g = graph()
    for m in (m for m in g if m.startswith("ner_app")):
        assert not {i for i in g[m] if i.startswith("ner.training")}, (m, g[m])
        into_wings = {i for i in g[m] if i.startswith(WINGS + ("ner.batch",)) and i not in WINGS}
        assert into_wings <= {w for app, w in APP_INTO_WINGS if app == m}, (m, into_wings)


def test_the_benchmarks_stay_out_of_the_wheel():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert not [p for p in project["tool"]["setuptools"]["packages"] if p.startswith("ner.bench")]
    assert not [t for t in project["project"]["scripts"].values() if t.startswith("ner.bench")]
    assert "ner.bench" not in project["tool"]["setuptools"].get("package-data", {})


def test_import_ner_needs_only_numpy_onnxruntime_and_tokenizers():
    code = ("import sys, ner\n"
            "heavy = {'torch', 'gradio', 'onnx', 'transformers', 'jieba', 'gensim', 'ray', 'pyarrow', 'ahocorasick'}\n"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_export_builds_on_training_and_training_never_on_export():
    g = graph()
    for m in (m for m in g if m.startswith("ner.training")):
        assert not {i for i in g[m] if i.startswith(("ner.export", "ner.bench", "ner_app"))}, (m, g[m])
    for m in (m for m in g if m.startswith("ner.export")):
        assert not {i for i in g[m] if i.startswith(("ner.bench", "ner_app"))}, (m, g[m])
    assert any(i.startswith("ner.training") for m in g if m.startswith("ner.export") for i in g[m])


def _modules():
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py")) if "models" not in p.parts]


def test_no_module_is_over_500_lines():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    too_long = {path: n for path, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"split these by job: {too_long}"


#: Functions that are entry points wherever they are: a command's ``main`` and the parser it builds.
ENTRY_FUNCTIONS = {"main", "parse_args", "build_parser", "cli"}


def reads_environment(path: Path) -> bool:
    """Whether ``path`` touches ``os.environ``, ``os.getenv``/``putenv`` or imports them from ``os``, outside the
    functions that are entry points (:data:`ENTRY_FUNCTIONS`)."""
    names = {"environ", "getenv", "putenv", "unsetenv"}

    def visit(node: ast.AST) -> bool:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ENTRY_FUNCTIONS:
            return False
        if (isinstance(node, ast.Attribute) and node.attr in names
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os" and names & {a.name for a in node.names}:
            return True
        return any(visit(child) for child in ast.iter_child_nodes(node))

    return visit(ast.parse(path.read_text(encoding="utf-8")))


def test_only_entry_points_read_the_environment():
    def entry_point(name: str) -> bool:
        return name.rpartition(".")[2] == "__main__" or name.startswith(ENTRY_POINTS[1:])

    readers = {module_name(p) for p in _modules() if reads_environment(p)}
    offenders = {m for m in readers if not entry_point(m) and m not in READS_ENVIRONMENT}
    assert not offenders, f"read the variable in the entry point (main, Settings) and pass it in: {sorted(offenders)}"
    fixed = sorted(set(READS_ENVIRONMENT) - readers)
    assert not fixed, f"{fixed} no longer read the environment: take them off READS_ENVIRONMENT"


def test_every_console_script_names_a_function_that_exists():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    for script, target in scripts.items():
        module, _, func = target.partition(":")
        path = ROOT / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        assert path.is_file(), (script, target)
        defined = {n.name for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.FunctionDef)}
        assert func in defined, (script, target)
