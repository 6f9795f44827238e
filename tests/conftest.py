"""Shared fixtures: every test gets its own SQLite store, and a runner for the installed `kb`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
KB = Path(sys.executable).parent / "kb"


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'kb.sqlite'}")


class Run:
    def __init__(self, proc):
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def kb(tmp_path):
    """Run the installed `kb` console script from a directory outside the checkout."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir(exist_ok=True)

    def run(*args, env=None, input=None):
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run([str(KB), *map(str, args)], cwd=workdir, capture_output=True, text=True,
                              env=full_env, input=input, timeout=120)
        return Run(proc)

    run.cwd = workdir
    return run
