"""deploy.py stays light: its commands never import the stepfunctions SDK, sagemaker or moto.

Each check runs deploy.py in a fresh interpreter and reads that interpreter's sys.modules.
`plan` needs an AWS endpoint, and the embedded AWS runs once per process, so its check lives
with the other embedded-AWS tests (tests/e2e/test_bench_smoke.py).
"""

from __future__ import annotations

from bench.imports import HEAVY_PACKAGES, heavy_imports, imported_modules


def test_deploy_help_imports_neither_the_sdk_nor_sagemaker_nor_moto():
    exit_code, heavy = heavy_imports(["--help"])
    assert exit_code == 0
    assert heavy == []


def test_the_import_check_sees_a_heavy_package_that_deploy_py_pulls_in(tmp_path):
    # The check above must be able to fail: make every interpreter import moto at startup.
    (tmp_path / "sitecustomize.py").write_text("import moto\n")
    exit_code, heavy = heavy_imports(["--help"], extra_env={"PYTHONPATH": str(tmp_path)})
    assert exit_code == 0
    assert heavy == ["moto"]


def test_a_command_whose_output_is_not_a_terminal_does_not_load_rich(tmp_path):
    # rich draws the live view on a terminal only; piped output and other commands do without it.
    exit_code, heavy = heavy_imports(["render", "--out", str(tmp_path / "render")])
    assert exit_code == 0
    assert heavy == []


# What only deploy, destroy, render, up and local use: the Lambda package and the orchestrator's description.
# (The committed ASL is read by every command: the config's polling is judged against its history model.)
DEPLOY_ONLY_MODULES = ("provisioner.deployer", "provisioner.blueprint.packaging", "provisioner.blueprint.orchestrator")


def test_run_imports_neither_the_deployer_nor_the_embedded_aws_nor_the_live_view():
    # Input the CLI refuses (exit 2) stops `run` before any AWS call, after it has imported what it runs with.
    exit_code, modules = imported_modules(["run", "drift-check", "--input", '{"remediate": "yes"}'])
    assert exit_code == 2
    assert [name for name in modules if name in DEPLOY_ONLY_MODULES] == []
    assert [name for name in modules if name.split(".")[0] in HEAVY_PACKAGES] == []
