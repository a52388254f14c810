"""Helpers shared by tests in several folders."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path


# Prepended to code run in a fresh interpreter: there, `import hf_vidcap` (or any submodule) fails.
BLOCK_HF_VIDCAP = 'import sys\nsys.modules["hf_vidcap"] = None\n'


def run_without_hf_vidcap(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `code` (with `args` as `sys.argv[1:]`) in a new, offline interpreter where hf_vidcap cannot be imported,
    as on a machine that only has what `save_pretrained` wrote; fail the calling test if it fails."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(cwd / "hf_home"))
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_HF_VIDCAP + textwrap.dedent(code), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
