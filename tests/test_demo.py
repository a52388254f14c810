"""The demo end to end on a few clips (the full-size run, with its quality targets, is marked slow)."""

import json

import pytest

from hf_vidcap.demo import DemoArguments, blind_baseline, run_demo
from hf_vidcap.modeling import ARCHITECTURES

from .helpers import run_without_hf_vidcap


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    output = tmp_path_factory.mktemp("demo")
    results = run_demo(DemoArguments(output_dir=str(output), num_clips=30, epochs=1, batch_size=32, num_beams=2))
    return output, results


def test_demo_writes_scores_predictions_and_a_reloadable_model(small_demo):
    output, results = small_demo
    saved = json.loads((output / "results.json").read_text())
    assert saved["metrics"] == results["metrics"]
    assert set(saved["metrics"]) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"}
    assert len(saved["predictions"]) == 30 - 24 - 1
    # The saved folder, read back through the Auto classes from the video file, says what the trained model said
    # from the extracted features.
    assert saved["reloaded_caption"]["caption"] == saved["predictions"][0]["caption"]
    for name in (
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        "s2vt.py",
        "processing.py",
    ):
        assert (output / "model" / name).is_file(), name


def test_demo_folder_loads_with_trust_remote_code_without_hf_vidcap(small_demo):
    output, results = small_demo
    caption = (
        run_without_hf_vidcap(
            f"""
        from transformers import AutoModel, AutoProcessor
        model = AutoModel.from_pretrained("model", trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained("model", trust_remote_code=True)
        inputs = processor(videos=[{results["reloaded_caption"]["video"]!r}], return_tensors="pt")
        print(processor.batch_decode(model.generate(**inputs, num_beams=2))[0])
        """,
            cwd=output,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert caption == results["reloaded_caption"]["caption"]


def test_demo_reuses_its_own_folder_and_refuses_a_foreign_one(small_demo, tmp_path):
    output, _ = small_demo
    rerun = run_demo(DemoArguments(output_dir=str(output), num_clips=30, epochs=0.1, batch_size=32, num_beams=1))
    assert rerun["model"] == "s2vt"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by `hf-vidcap demo`"):
        run_demo(DemoArguments(output_dir=str(tmp_path)))
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_blind_baseline_is_the_most_frequent_caption():
    assert blind_baseline(["b c", "a", "b c", "a", "d"], 3) == ["a", "a", "a"]  # tie broken alphabetically
    assert blind_baseline(["x", "y", "y"], 2) == ["y", "y"]


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(ARCHITECTURES))
def test_full_demo_meets_its_quality_targets(model, tmp_path):
    results = run_demo(DemoArguments(output_dir=str(tmp_path), model=model))
    assert results["metrics"]["CIDEr"] >= 1.0
    assert results["metrics"]["CIDEr"] >= 3 * results["blind_baseline"]["CIDEr"]
    assert results["seconds"] < 600
