"""Helpers shared by tests in several folders."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from transformers import ResNetConfig, VideoMAEConfig


# The real MSVD captions (../shared/data/msvd beside the repository, or the folder $HF_VIDCAP_MSVD_DIR names).
MSVD_DIR = Path(os.environ.get("HF_VIDCAP_MSVD_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "msvd"))


def msvd_file(name: str) -> Path:
    """The file `name` of the real MSVD captions in `MSVD_DIR`; skips the calling test when it is not there (a clone
    without ../shared)."""
    path = MSVD_DIR / name
    if not path.is_file():
        pytest.skip(f"MSVD captions not found at {path} (set HF_VIDCAP_MSVD_DIR to the folder holding them)")
    return path


# Prepended to code run in a fresh interpreter: there, `import hf_vidcap` (or any submodule) fails.
BLOCK_HF_VIDCAP = 'import sys\nsys.modules["hf_vidcap"] = None\n'


def run_without_hf_vidcap(
    code: str, cwd: Path, *args: str, hub_endpoint: str | None = None
) -> subprocess.CompletedProcess:
    """Run `code` (with `args` as `sys.argv[1:]`) in a new, offline interpreter where hf_vidcap cannot be imported,
    as on a machine that only has what `save_pretrained` wrote; fail the calling test if it fails.

    With `hub_endpoint` (a stand-in Hub on loopback, `tests/hub_server.py`), the interpreter is online but its Hub is
    that endpoint (`HF_ENDPOINT`), as on a machine that only has what was pushed there."""
    offline = ("PYTHONPATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {key: value for key, value in os.environ.items() if key not in offline}
    if hub_endpoint is None:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    else:
        env.update(HF_ENDPOINT=hub_endpoint, HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1")
    env["HF_HOME"] = str(cwd / "hf_home")
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


# Tiny random backbones for 32x32 frames: a 2-stage ResNet (16 channels on a 2x2 map) and a 1-layer VideoMAE over
# windows of 2 frames (one 16x16-patch tubelet grid per window).
TINY_RESNET = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
TINY_VIDEOMAE = VideoMAEConfig(
    image_size=32,
    patch_size=16,
    num_frames=2,
    tubelet_size=2,
    hidden_size=12,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=12,
)
