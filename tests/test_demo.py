"""`kfx-notebook demo`, the README's first command, end to end through the installed console script."""

import json
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "kfx-notebook")


def run(*args, cwd):
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=240)


def test_demo_exits_0_and_leaves_an_app_that_invoke_can_call(tmp_path):
    done = run("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    app = tmp_path / "kfx-demo-app"
    assert (app / "function_app.py").is_file() and (app / "products.duckdb").is_file()
    for step in ("%%kusto_input product", "export the app cells", "invoke get_product", "HTTP 201"):
        assert step in done.stdout, step
    settings = json.loads((app / "local.settings.json").read_text())
    assert settings["Values"]["KustoConnectionString"] == "Data Source=local:products.duckdb"

    posted = run("invoke", str(app), "add_products", "--body", '{"ProductID": 9, "Name": "Nut", "Cost": 1}',
                 cwd="/")
    assert posted.returncode == 0 and "201" in posted.stdout, posted.stdout + posted.stderr
    got = run("invoke", str(app), "get_product", "--route", "productId=9", cwd="/")
    assert got.returncode == 0, got.stderr
    body = got.stdout.split("\n\n", 1)[1]
    assert json.loads(body) == [{"ProductID": 9, "Name": "Nut", "Cost": 1.0}]


def test_demo_twice_replaces_its_own_app_but_not_other_files(tmp_path):
    assert run("demo", cwd=tmp_path).returncode == 0
    assert run("demo", cwd=tmp_path).returncode == 0
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    refused = run("demo", "--out", str(other), cwd=tmp_path)
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert (other / "keep.txt").read_text() == "x"


def test_python_dash_m_is_the_same_cli(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kfx_notebook", "serve", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "Kusto REST protocol" in done.stdout
