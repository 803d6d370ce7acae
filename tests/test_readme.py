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
