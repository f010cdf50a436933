"""A toy DVC project for the flow tests: two regions, three stages each, commands that take milliseconds.

The stage script ``step.py`` copies its input to its output and can be told (through a
file in the project) to fail, once or always, for one stage and region.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
REGIONS = ("north", "south")

STEP = '''
"""Toy stage: python step.py --region R --stage S [--input IN] --output OUT."""
import argparse, json, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--region"); parser.add_argument("--stage")
parser.add_argument("--input"); parser.add_argument("--output")
args = parser.parse_args()
faults = pathlib.Path("faults.json")
plan = json.loads(faults.read_text()) if faults.exists() else {}
key = f"{args.stage}@{args.region}"
if plan.get(key) == "always":
    sys.exit(f"{key}: injected failure")
if plan.get(key) == "once":
    plan[key] = "done"
    faults.write_text(json.dumps(plan))
    sys.exit(f"{key}: injected transient failure")
text = pathlib.Path(args.input).read_text() if args.input else pathlib.Path("seed.txt").read_text() + args.region
out = pathlib.Path(args.output)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(text + f" > {args.stage}")
if args.stage == "promote":
    out.write_text(json.dumps({"model": f"toy-{args.region}-cnn", "promoted": True, "candidate_macro_f1": 0.5,
                               "champion_macro_f1": None, "margin": 0.01}))
'''

PIPELINE = {
    "stages": {
        "prepare": {
            "foreach": list(REGIONS),
            "do": {
                "cmd": "python step.py --region ${item} --stage prepare --output data/${item}/raw.txt",
                "deps": ["seed.txt", "step.py"],
                "outs": ["data/${item}/raw.txt"],
            },
        },
        "evaluate": {
            "foreach": list(REGIONS),
            "do": {
                "cmd": "python step.py --region ${item} --stage evaluate --input data/${item}/raw.txt "
                "--output data/${item}/model.txt",
                "deps": ["data/${item}/raw.txt"],
                "outs": ["data/${item}/model.txt"],
            },
        },
        "promote": {
            "foreach": list(REGIONS),
            "do": {
                "cmd": "python step.py --region ${item} --stage promote --input data/${item}/model.txt "
                "--output reports/${item}.json",
                "deps": ["data/${item}/model.txt"],
                "outs": [{"reports/${item}.json": {"cache": False}}],
            },
        },
    }
}


def run(args: list[str], cwd: Path) -> str:
    """Run a command in the project with the test's virtual environment first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def make_project(root: Path, params: dict | None = None) -> Path:
    """A git+DVC repository holding the toy pipeline and a params.yaml."""
    root.mkdir(parents=True)
    (root / "step.py").write_text(STEP)
    (root / "seed.txt").write_text("seed ")
    (root / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    default = {"regions": {}, "orchestration": {"retry_delay_s": 0, "retry_stages": ["evaluate"]}}
    (root / "params.yaml").write_text(yaml.safe_dump(params or default, sort_keys=False))
    (root / ".gitignore").write_text("faults.json\n")
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "ci@lithomap.test"], root)
    run(["git", "config", "user.name", "ci"], root)
    run(["dvc", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "toy"], root)
    return root
