"""The repository's own files install what the code and notebooks need."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _environment_names() -> set[str]:
    names = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = line.split("#", 1)[0].strip()
        if item.startswith("- ") and not item.endswith(":"):
            names.add(_name(item[2:]))
    return names


def test_environment_yml_covers_every_runtime_and_extra_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {_name(r) for r in project["dependencies"]}
    for extra in ("widgets", "functions", "nbconvert", "charts", "lab"):
        needed |= {_name(r) for r in project["optional-dependencies"][extra]}
    needed.discard(project["name"])  # an extra that names others (lab = widgets + charts + jupyterlab)
    missing = needed - _environment_names()
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_environment_yml_installs_the_package_from_the_checkout_with_test_extras():
    text = (ROOT / "environment.yml").read_text()
    assert "- -e .[test]" in text and "conda-forge" in text and "- pip" in text


def test_young_engine_is_pinned_exactly():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.fullmatch(r"duckdb-kql==\d+\.\d+\.\d+", d) for d in deps), deps


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_command = blocks[1].strip()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert test_command in ci
    # after the tests, only the conformance floor (bench/conformance.py, when the shared examples exist)
    after = [line.strip() for line in ci[ci.index(test_command) + 1:]]
    assert after == ["if [ -f ../shared/conformance/kql-doc-examples.jsonl ]; then",
                     "python bench/conformance.py --floor bench/conformance-floor.json", "fi"]


def test_every_optional_part_names_an_extra_that_installs_it():
    from kfx_notebook.extras import EXTRAS

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, (extra, distribution, _purpose) in EXTRAS.items():
        assert any(re.match(rf"{re.escape(distribution)}\b", d) for d in extras.get(extra, [])), (module, extra)
