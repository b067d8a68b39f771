"""What the two install paths give: README command 1 (the project itself, editable, with its ``app`` extra) and
``requirements.txt`` (what a Hugging Face Space or a ModelScope studio installs before it copies the repository)."""
import os
import re
import shutil
import subprocess
import sys

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from conftest import ROOT

COMMAND_1 = 'pip install -e ".[app]" && python app.py'


def requirement_lines(path) -> list[str]:
    return [line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_txt_names_only_packages_a_space_can_install_before_the_repository_is_there():
    for line in requirement_lines(ROOT / "requirements.txt"):
        assert not line.startswith(("-", ".", "/")), f"{line!r}: a Space installs this file without the repository"
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            pytest.fail(f"{line!r} is not a package requirement: {exc}")
        assert req.url is None, f"{line!r}: a Space installs this file without the repository"


def test_requirements_txt_is_the_core_and_the_app_extra_of_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11 reads TOML")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    expected = {str(Requirement(r)) for r in project["dependencies"] + project["optional-dependencies"]["app"]}
    assert {str(Requirement(r)) for r in requirement_lines(ROOT / "requirements.txt")} == expected


def test_readme_command_1_installs_the_project_with_the_app_extra():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = next(line for line in readme.splitlines() if line.startswith("python3 -m venv"))
    assert first.endswith(COMMAND_1), first
    assert re.search(r"GRADIO_SERVER_PORT\S*\s.*python app\.py", readme.split(first)[0][-400:]), \
        "the port variable is named beside command 1"


@pytest.mark.slow
def test_command_1_in_a_fresh_venv_gives_the_console_scripts_import_anywhere_and_the_compiled_decoder(tmp_path):
    probe = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(tmp_path / "probe"),
                            "charset-normalizer>=3,<4"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("no package index is reachable for pip install")
    checkout = tmp_path / "checkout"  # what a clone holds: the tracked files
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", str(tmp_path)),
           "VIRTUAL_ENV": str(venv)}
    install = COMMAND_1.split(" && ")[0]
    run = subprocess.run(["bash", "-c", install], cwd=checkout, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    batch = subprocess.run(["ner-batch", "--help"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert batch.returncode == 0 and "--out" in batch.stdout, batch.stderr
    probe_ner = ("import ner, ner.crf; print(ner.crf.KERNEL); "
                 "print(' '.join(e.text for e in ner.recognize('张三在北京清华大学任职。')))")
    found = subprocess.run(["python", "-c", probe_ner], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=120)
    assert found.returncode == 0, found.stderr
    kernel, entities = found.stdout.splitlines()
    assert entities == "张三 北京 清华大学"  # the embedded model, from another directory
    if shutil.which("cc") or shutil.which("gcc"):
        assert kernel == "c"
    # python app.py imports the checkout's ner: the compiled decoder is there too (an editable install builds in place)
    here = subprocess.run(["python", "-c", "import ner.crf; print(ner.crf.__file__, ner.crf.KERNEL)"], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=120)
    assert here.stdout.split() == [str(checkout / "ner" / "crf.py"), kernel], here.stderr
