"""Fixtures of the metric tests: the real MSVD test captions, and skipping METEOR tests without Java or the jar."""

import shutil
from collections import defaultdict

import pytest

from hf_vidcap.metrics import find_meteor_jar

from ..helpers import msvd_file


MSVD_TEST_CAPTIONS = "sents_test_lc_nopunc.txt"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("java") is None:
        return
    if shutil.which("java") is None:
        pytest.skip("needs a Java runtime on PATH for METEOR 1.5 (install Java 17)")
    if find_meteor_jar() is None:
        pytest.skip("needs the METEOR 1.5 jar of pycocoevalcap (pip install hf-vidcap[meteor])")


@pytest.fixture(scope="session")
def msvd_test_captions() -> dict[str, list[str]]:
    """The captions of the 670 MSVD test clips, by clip id, in file order."""
    captions = defaultdict(list)
    with msvd_file(MSVD_TEST_CAPTIONS).open(encoding="utf-8") as lines:
        for line in lines:
            clip_id, caption = line.rstrip("\n").split("\t")
            captions[clip_id].append(caption)
    return dict(captions)


@pytest.fixture(scope="session")
def msvd_leave_one_out(msvd_test_captions: dict[str, list[str]]) -> tuple[list[str], list[list[str]]]:
    """Human agreement on MSVD test: each clip's first caption is the prediction, the others its references."""
    predictions = [captions[0] for captions in msvd_test_captions.values()]
    references = [captions[1:] for captions in msvd_test_captions.values()]
    return predictions, references
