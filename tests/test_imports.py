"""The package's import structure, its allowed directions: no cycles; envs/ imports nothing from sac/; the maths
(the modules directly in sac/) imports nothing from the machinery (sac/run/) or the analysis (sac/analysis/);
nothing outside sac/analysis/ imports from it (analysis reads runs, nothing runs on analysis); nothing in the
package imports the command-line layer (sac/run/cli.py); the agent is free of gymnasium and MuJoCo, and of Hydra and
OmegaConf."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def internal_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file, deferred imports included)."""
    graph: dict[str, set[str]] = {}
    for path in [*ROOT.glob("sac/**/*.py"), *ROOT.glob("envs/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = found
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def test_no_import_cycle_among_the_package_modules() -> None:
    graph = internal_imports()
    assert {"sac.run.session", "sac.run.rundir", "sac.run.cli", "envs.make", "sac.analysis.report"} <= graph.keys()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, f"import cycle: {' -> '.join([*path, module])}"
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_envs_import_nothing_from_sac() -> None:
    for module, deps in internal_imports().items():
        if module.startswith("envs"):
            assert not {d for d in deps if d.startswith("sac")}, module


def test_the_maths_imports_neither_the_machinery_nor_the_analysis() -> None:
    maths = {m for m in internal_imports() if m.count(".") == 1 and m.startswith("sac.")}
    assert {"sac.losses", "sac.agent", "sac.discrete", "sac.reinforce", "sac.parts", "sac.config"} <= maths
    for module in maths:
        deps = internal_imports()[module]
        assert not {d for d in deps if d.startswith(("sac.run", "sac.analysis"))}, (module, deps)


def test_nothing_in_the_package_imports_the_command_line_layer() -> None:
    assert not [m for m, deps in internal_imports().items() if "sac.run.cli" in deps]


def test_only_the_analysis_imports_the_analysis() -> None:
    for module, deps in internal_imports().items():
        if not module.startswith("sac.analysis"):
            assert not {d for d in deps if d.startswith("sac.analysis")}, module


def test_importing_the_agent_imports_no_env_and_no_configuration_machinery() -> None:
    # The maths reads its options as plain dataclasses (sac/config.py): Hydra and OmegaConf are the machinery's.
    probe = "import sys, sac.agent; print(sorted({'gymnasium', 'mujoco', 'hydra', 'omegaconf'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
