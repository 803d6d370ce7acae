"""The README's two commands stay true: CI runs the test command verbatim,
and the main command works as written."""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"```bash\n(.*?)\n```", text, re.S)[:2]


def test_ci_runs_the_readme_test_command():
    _, test_cmd = readme_commands()
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert test_cmd in ci.splitlines()


def test_readme_main_command_works(tmp_path):
    main_cmd, _ = readme_commands()
    assert main_cmd.startswith("pip install . && ")
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    # dlc is installed already (the test command installs it); run the rest verbatim
    out = subprocess.run(main_cmd[len("pip install . && "):], shell=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "probabilities: float32[1, 10]" in out.stdout
    assert (tmp_path / "digits.dlc").exists()


def test_readme_lists_the_ops_with_converters():
    from dlc.frontends.onnx.registry import CONVERTERS, supported_ops
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"With converters \((\d+)\):\n\n(.*?)\n\nOther domains: (.*?)\.\n", text, re.S)
    ops = supported_ops("")
    assert int(m.group(1)) == len(ops) and m.group(2).split() == ops
    assert m.group(3).split(", ") == sorted(f"{d}.{op}" for d, op in CONVERTERS if d)
    assert f"**{len(ops)} ONNX op types** with converters" in text
