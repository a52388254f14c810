"""The package's top level, as a fresh interpreter sees it after `import hf_vidcap`."""

import subprocess
import sys


def test_the_modules_the_readme_names_are_attributes_after_import_hf_vidcap():
    """The README writes `hf_vidcap.visualization.caption_with_attention(...)`, `hf_vidcap.hub.push_to_hub(...)`..."""
    code = (
        "import hf_vidcap\n"
        "assert callable(hf_vidcap.visualization.caption_with_attention)\n"
        "assert callable(hf_vidcap.hub.push_to_hub) and callable(hf_vidcap.training.build_model)\n"
        "assert callable(hf_vidcap.metrics.compute_caption_metrics)\n"
        "try:\n"
        "    hf_vidcap.nothing\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "module 'hf_vidcap' has no attribute 'nothing'"
