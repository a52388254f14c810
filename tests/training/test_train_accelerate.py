"""examples/train_accelerate.py: resuming from a checkpoint, and two processes training and evaluating together."""

import hashlib
import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
import textwrap

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from hf_vidcap.hub import load_metrics

from .conftest import TINY_S2VT


@pytest.fixture(scope="module")
def example(repo_root):
    return repo_root / "examples" / "train_accelerate.py"


def train_args(dataset_dir, output_dir, *extra: str) -> list[str]:
    # 36 (clip, caption) pairs in batches of 4 with 2 accumulated: 9 batches, 5 optimizer steps per epoch.
    return [
        "--dataset", str(dataset_dir), "--model-type", "s2vt", "--config-overrides", TINY_S2VT,
        "--output-dir", str(output_dir), "--num-train-epochs", "2", "--per-device-train-batch-size", "4",
        "--gradient-accumulation-steps", "2", "--learning-rate", "0.01", "--checkpointing-steps", "4",
        "--logging-steps", "3", "--num-beams", "1", "--no-meteor", *extra,
    ]  # fmt: skip


def run_example(example, argv: list[str]) -> dict:
    """Run the example's `main` in this process, as a fresh run (Accelerate keeps its state in singletons)."""
    try:
        return runpy.run_path(str(example))["main"](argv)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


class Interrupted(Exception):
    pass


def logged_losses(output: str) -> dict[int, float]:
    """The `step N/M  epoch E  loss X` lines the example prints, by step."""
    return {int(step): float(loss) for step, loss in re.findall(r"step (\d+)/\d+ .* loss ([\d.]+)", output)}


def test_resumed_run_ends_with_the_weights_of_an_unbroken_run(
    example, feature_dataset_dir, tmp_path, monkeypatch, capsys
):
    # (Logging every step changes nothing in training, and gives each step's loss.)
    unbroken = run_example(example, train_args(feature_dataset_dir, tmp_path / "unbroken", "--logging-steps", "1"))
    step_losses = logged_losses(capsys.readouterr().out)

    # The same run, stopped right after its first checkpoint (step 4, one batch before the end of the first epoch).
    save_state = Accelerator.save_state

    def save_then_stop(self, output_dir=None, **kwargs):
        save_state(self, output_dir, **kwargs)
        raise Interrupted

    monkeypatch.setattr(Accelerator, "save_state", save_then_stop)
    with pytest.raises(Interrupted):
        run_example(example, train_args(feature_dataset_dir, tmp_path / "resumed"))
    monkeypatch.undo()
    assert sorted(path.name for path in (tmp_path / "resumed").iterdir()) == ["checkpoint-4"]

    capsys.readouterr()
    resumed = run_example(
        example, train_args(feature_dataset_dir, tmp_path / "resumed", "--resume-from-checkpoint", "latest")
    )
    # Logged every 3 steps: the first log after resuming at step 4 is the mean of steps 5 and 6 only.
    resumed_losses = logged_losses(capsys.readouterr().out)
    assert resumed_losses[6] == pytest.approx((step_losses[5] + step_losses[6]) / 2, abs=2e-4)
    assert resumed_losses[9] == pytest.approx(sum(step_losses[step] for step in (7, 8, 9)) / 3, abs=2e-4)
    unbroken_weights, resumed_weights = unbroken["model"].state_dict(), resumed["model"].state_dict()
    checkpoint_weights = load_file(tmp_path / "resumed" / "checkpoint-4" / "model.safetensors")
    assert not torch.equal(checkpoint_weights["lm_head.weight"], resumed_weights["lm_head.weight"])
    for name, tensor in unbroken_weights.items():
        assert torch.equal(tensor, resumed_weights[name]), name
    assert resumed["predictions"] == unbroken["predictions"]
    saved = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(saved[name], unbroken_weights[name]) for name in saved)


def test_each_logged_loss_is_the_mean_of_its_steps_batches(
    example, feature_dataset_dir, tmp_path, monkeypatch, capsys
):
    """9 batches in steps of 2: the epoch's last step has one batch, and its loss is that batch's, not half of it."""
    from hf_vidcap import S2VTForVideoCaptioning

    batch_losses = []
    forward = S2VTForVideoCaptioning.forward

    def recording_forward(self, *args, **kwargs):
        outputs = forward(self, *args, **kwargs)
        if self.training:
            batch_losses.append(outputs.loss.item())
        return outputs

    monkeypatch.setattr(S2VTForVideoCaptioning, "forward", recording_forward)
    argv = train_args(feature_dataset_dir, tmp_path / "run", "--num-train-epochs", "1", "--logging-steps", "1")
    result = run_example(example, argv)
    # The scores name their split, for the model card of `hf-vidcap push --metrics`.
    assert load_metrics(tmp_path / "run" / "metrics.json") == (result["metrics"], "validation")
    assert len(batch_losses) == 9
    step_batches = [batch_losses[0:2], batch_losses[2:4], batch_losses[4:6], batch_losses[6:8], batch_losses[8:]]
    expected = {step: sum(losses) / len(losses) for step, losses in enumerate(step_batches, start=1)}
    assert logged_losses(capsys.readouterr().out) == pytest.approx(expected, abs=1e-4)


def test_fp16_on_the_cpu_is_refused_before_anything_is_written(example, feature_dataset_dir, tmp_path):
    with pytest.raises(ValueError, match="--mixed-precision fp16 needs a GPU; on the CPU use bf16"):
        run_example(example, train_args(feature_dataset_dir, tmp_path / "run", "--mixed-precision", "fp16", "--cpu"))
    assert not (tmp_path / "run").exists()


RANK_SCRIPT = """
    import faulthandler, gc, hashlib, json, os, runpy, sys
    import torch

    faulthandler.dump_traceback_later(240, exit=True)  # a hung rank prints where it hangs, for the assertion message

    # Freeing a DDP wrapper after its process group is destroyed can deadlock the process (see the example's end).
    ddp_alive_when_group_destroyed = []
    destroy_process_group = torch.distributed.destroy_process_group

    def recording_destroy_process_group(*args, **kwargs):
        gc.collect()
        ddp = torch.nn.parallel.DistributedDataParallel
        ddp_alive_when_group_destroyed.append(any(isinstance(obj, ddp) for obj in gc.get_objects()))
        return destroy_process_group(*args, **kwargs)

    torch.distributed.destroy_process_group = recording_destroy_process_group
    output, example, *argv = sys.argv[1:]
    result = runpy.run_path(example)["main"](argv)
    digest = hashlib.sha256()
    for name, tensor in sorted(result["model"].state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    report = {
        "digest": digest.hexdigest(),
        "row_indices": result["row_indices"],
        "predictions": result["predictions"],
        "ddp_alive_when_group_destroyed": ddp_alive_when_group_destroyed,
    }
    with open(os.path.join(output, f"rank{os.environ['RANK']}.json"), "w") as file:
        json.dump(report, file)
"""


def test_two_processes_end_with_the_same_weights_and_gather_each_prediction_once(
    example, feature_dataset_dir, tmp_path
):
    script = tmp_path / "run_rank.py"
    script.write_text(textwrap.dedent(RANK_SCRIPT))
    # 5 validation clips in batches of 2 per process: the last step pads with a duplicate that must be dropped.
    argv = train_args(feature_dataset_dir, tmp_path / "run", "--per-device-eval-batch-size", "2")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run(
        [*command, str(script), str(tmp_path), str(example), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "2 process(es)" in result.stdout

    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert reports[0]["digest"] == reports[1]["digest"]
    for report in reports:
        assert report["ddp_alive_when_group_destroyed"] == [False]
        assert sorted(report["row_indices"]) == [0, 1, 2, 3, 4]
        assert report["predictions"] == reports[0]["predictions"]
    saved = load_file(tmp_path / "run" / "model.safetensors")
    digest = hashlib.sha256()
    for name, tensor in sorted(saved.items()):
        digest.update(name.encode() + tensor.numpy().tobytes())
    assert digest.hexdigest() == reports[0]["digest"]
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert [p["image_id"] for p in predictions] == [f"validation_{index}" for index in range(5)]


def test_a_tracker_that_is_not_installed_is_an_error_not_silence(example, feature_dataset_dir, tmp_path):
    missing = next(
        (name for name in ("tensorboard", "aim", "clearml") if importlib.util.find_spec(name) is None), None
    )
    if missing is None:
        pytest.skip("every tracker tried is installed")
    with pytest.raises(ValueError, match=f"--report-to {missing}: {missing} is not installed"):
        run_example(example, train_args(feature_dataset_dir, tmp_path / "run", "--report-to", missing))
    assert not (tmp_path / "run").exists()


def test_a_run_without_an_evaluation_split_trains_and_saves(example, feature_dataset_dir, tmp_path, capsys):
    argv = train_args(feature_dataset_dir, tmp_path / "run", "--eval-split", "none", "--num-train-epochs", "1",
                      "--lr-scheduler-type", "cosine")  # fmt: skip
    result = run_example(example, argv)
    assert result["metrics"] is None and result["predictions"] is None
    assert sorted(path.name for path in (tmp_path / "run").iterdir() if path.suffix == ".json") == [
        "config.json", "generation_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json"
    ]  # fmt: skip
    assert "Captioning the" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_example(example, ["--help"])
    assert "{linear,cosine," in capsys.readouterr().out  # the values it takes, not SchedulerType.LINEAR
