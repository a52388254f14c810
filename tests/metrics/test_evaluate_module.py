"""The `evaluate` module of the caption metrics loads offline from its path and computes compute_caption_metrics."""

import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hf_vidcap.metrics import EVALUATE_METRIC_PATH, compute_caption_metrics


PREDICTIONS = ["A man is playing a guitar.", "", "two dogs run on the beach"]
REFERENCES = [
    ["a man plays the guitar", "someone is playing a guitar"],
    ["a woman is slicing an onion"],
    ["dogs are running on a beach", "two dogs play in the sand", "a dog runs"],
]

# Run in a fresh interpreter, so that the offline switches (read when evaluate is imported) are in force and the script
# is imported from evaluate's cache on its own.
LOAD_AND_COMPUTE = """
import json, sys
import evaluate
from hf_vidcap.metrics import EVALUATE_METRIC_PATH

predictions, references = json.loads(sys.stdin.read())
metric = evaluate.load(EVALUATE_METRIC_PATH)
results = {
    "default": metric.compute(predictions=predictions, references=references, meteor=False),
    "raw": metric.compute(predictions=predictions, references=references, normalize=False, meteor=False),
}
print(json.dumps({"name": metric.name, "results": results}))
"""


def test_evaluate_metric_path_is_a_file_of_the_package():
    path = Path(EVALUATE_METRIC_PATH)

    assert path.is_file()
    assert path == Path(importlib.resources.files("hf_vidcap.metrics") / "vidcap_caption_metrics.py")


def test_evaluate_module_loads_offline_and_matches_compute_caption_metrics(tmp_path):
    environment = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf_home"),  # evaluate copies the script under HF_HOME/modules
        "HF_HUB_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }

    completed = subprocess.run(
        [sys.executable, "-c", LOAD_AND_COMPUTE],
        input=json.dumps([PREDICTIONS, REFERENCES]),
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout.splitlines()[-1])
    assert output["name"] == "vidcap_caption_metrics"
    assert output["results"]["default"] == pytest.approx(
        compute_caption_metrics(PREDICTIONS, REFERENCES, meteor=False)
    )
    assert output["results"]["raw"] == pytest.approx(
        compute_caption_metrics(PREDICTIONS, REFERENCES, normalize=False, meteor=False)
    )
    assert output["results"]["default"] != output["results"]["raw"]
    assert list(output["results"]["default"]) == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]
