"""
METEOR: agreement with pycocoevalcap's own METEOR wrapper (needs Java), reporting it as None when it cannot run, and
robust driving of the Java process, checked against a fake `java` that records what it receives.
"""

import os
import sys
import warnings
from pathlib import Path

import pytest

from hf_vidcap.metrics import MeteorUnavailableError, compute_caption_metrics, find_meteor_jar, meteor, meteor_metric


TOLERANCE = 1e-6
NUM_MSVD_CLIPS = 100

# Stands for `java -jar meteor-1.5.jar ... -stdio`: records its pid and every line it receives, then, depending on
# FAKE_METEOR_MODE, answers like METEOR ("answer"), never answers ("hang"), answers nonsense ("garbage") or crashes.
FAKE_JAVA = f"""\
#!{sys.executable}
import os, sys, time
log_dir = os.environ["FAKE_METEOR_LOG_DIR"]
mode = os.environ["FAKE_METEOR_MODE"]
with open(os.path.join(log_dir, "pid"), "w") as pid_file:
    pid_file.write(str(os.getpid()))
if mode == "crash":
    sys.exit("Error occurred during initialization of VM: too small initial heap")
for line in sys.stdin:
    with open(os.path.join(log_dir, "requests"), "a") as requests:
        requests.write(line)
    if mode == "hang":
        time.sleep(60)
    fields = line.rstrip("\\n").split(" ||| ")
    if mode == "garbage":
        print("Error: specify hypothesis and at least one reference", flush=True)
    elif fields[0] == "SCORE":
        print("1.0 2.0 3.0", flush=True)
    else:  # EVAL: one score per clip, then the corpus score
        for score in range(len(fields)):
            print(score / 10, flush=True)
"""


@pytest.fixture
def fake_java(tmp_path, monkeypatch):
    """Puts a fake `java` (and nothing else) on PATH and a dummy METEOR jar in place; returns its log folder."""
    if sys.platform == "win32":
        pytest.skip("the fake `java` is a POSIX script")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text(FAKE_JAVA)
    java.chmod(0o755)
    jar = tmp_path / "meteor" / meteor_metric.METEOR_JAR_NAME
    jar.parent.mkdir()
    jar.touch()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(meteor_metric, "find_meteor_jar", lambda: jar)
    monkeypatch.setenv("FAKE_METEOR_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("FAKE_METEOR_MODE", "answer")
    return tmp_path


def assert_process_is_gone(log_dir: Path) -> None:
    pid = int((log_dir / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class TestProtocol:
    def test_requests_and_answers(self, fake_java):
        corpus, per_clip = meteor(["a man plays", "a dog"], [["a man plays a guitar", "a person"], ["a dog runs"]])

        requests = (fake_java / "requests").read_text().splitlines()
        assert requests == [
            "SCORE ||| a man plays a guitar ||| a person ||| a man plays",
            "SCORE ||| a dog runs ||| a dog",
            "EVAL ||| 1.0 2.0 3.0 ||| 1.0 2.0 3.0",
        ]
        assert per_clip == [0.0, 0.1]
        assert corpus == 0.2
        assert_process_is_gone(fake_java)

    def test_line_breaks_and_separators_cannot_break_the_protocol(self, fake_java):
        predictions = ["a man\nplays ||| a guitar", "", "two |||| dogs\r\n"]
        references = [["a man\r\nplays a guitar", "|||"], ["a cat\u2028sleeps"], ["two dogs |||"]]

        _, per_clip = meteor(predictions, references)

        requests = (fake_java / "requests").read_text().split("\n")[:-1]
        assert requests == [
            "SCORE ||| a man plays a guitar |||  ||| a man plays a guitar",
            "SCORE ||| a cat sleeps ||| ",
            "SCORE ||| two dogs ||| two | dogs",
            "EVAL ||| 1.0 2.0 3.0 ||| 1.0 2.0 3.0 ||| 1.0 2.0 3.0",
        ]
        assert len(per_clip) == 3

    def test_a_process_that_stops_answering_times_out_and_is_killed(self, fake_java, monkeypatch):
        monkeypatch.setenv("FAKE_METEOR_MODE", "hang")

        with pytest.raises(TimeoutError, match="did not answer within 1.0 s"):
            meteor(["a cat"], [["a cat"]], timeout=1.0)
        assert_process_is_gone(fake_java)

    def test_a_crash_is_reported_with_its_error_output(self, fake_java, monkeypatch):
        monkeypatch.setenv("FAKE_METEOR_MODE", "crash")

        with pytest.raises(
            RuntimeError, match="exited unexpectedly with code 1:\nError occurred during initialization"
        ):
            meteor(["a cat"], [["a cat"]])

    def test_an_unexpected_answer_is_reported(self, fake_java, monkeypatch):
        monkeypatch.setenv("FAKE_METEOR_MODE", "garbage")

        with pytest.raises(RuntimeError, match="Unexpected answer 'Error: specify hypothesis"):
            meteor(["a cat"], [["a cat"]])
        assert_process_is_gone(fake_java)

    def test_compute_caption_metrics_sends_normalized_captions_and_reports_the_corpus_score(self, fake_java):
        scores = compute_caption_metrics(["A man, playing!", "Two dogs."], [["A man plays."], ["Dogs run"]])

        requests = (fake_java / "requests").read_text().splitlines()
        assert requests[:2] == ["SCORE ||| a man plays ||| a man playing", "SCORE ||| dogs run ||| two dogs"]
        assert scores["METEOR"] == 0.2  # the fake answers 0.0 and 0.1 for the clips, then 0.2 for the corpus


class TestUnavailable:
    def test_without_java_meteor_is_none_with_one_warning(self, tmp_path, monkeypatch):
        monkeypatch.setenv("PATH", str(tmp_path))  # no `java` in an empty folder

        with pytest.warns(UserWarning) as records:
            scores = compute_caption_metrics(["a man is playing a guitar"], [["a man plays a guitar"]])

        assert len(records) == 1
        message = str(records[0].message)
        assert "no `java` executable was found on PATH" in message
        assert "install Java 17" in message
        assert scores["METEOR"] is None
        assert scores == compute_caption_metrics(
            ["a man is playing a guitar"], [["a man plays a guitar"]], meteor=False
        )

    def test_without_the_jar_meteor_is_none_with_one_warning(self, fake_java, monkeypatch):
        monkeypatch.setattr(meteor_metric, "find_meteor_jar", lambda: None)

        with pytest.warns(UserWarning) as records:
            scores = compute_caption_metrics(["a cat"], [["a cat"]])

        assert len(records) == 1
        assert "pip install hf-vidcap[meteor]" in str(records[0].message)
        assert scores["METEOR"] is None

    def test_meteor_itself_raises(self, tmp_path, monkeypatch):
        monkeypatch.setenv("PATH", str(tmp_path))

        with pytest.raises(MeteorUnavailableError, match="Java 17"):
            meteor(["a cat"], [["a cat"]])

    def test_meteor_turned_off_is_none_without_warning(self, tmp_path, monkeypatch):
        monkeypatch.setenv("PATH", str(tmp_path))

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            scores = compute_caption_metrics(["a cat"], [["a cat"]], meteor=False)

        assert scores["METEOR"] is None


def test_find_meteor_jar_finds_the_jar_of_pycocoevalcap():
    pytest.importorskip("pycocoevalcap.meteor.meteor", reason="needs pycocoevalcap (hf-vidcap[meteor])")

    jar = find_meteor_jar()

    assert jar is not None and jar.name == "meteor-1.5.jar" and jar.is_file()
    assert (jar.parent / "data" / "paraphrase-en.gz").is_file()


@pytest.mark.java
def test_meteor_with_java_on_hand_checkable_clips():
    # Once line breaks and separators are removed, the first prediction is its first reference: METEOR 1.5 gives an
    # exact match 1 (no fragmentation penalty). Nothing matches in the empty and in the disjoint prediction.
    predictions = ["a man ||| is playing\na guitar", "", "a zebra"]
    references = [["a man is playing a guitar", "someone\r\nplays"], ["a dog runs"], ["two cars race |||"]]

    corpus, per_clip = meteor(predictions, references)

    assert per_clip == pytest.approx([1.0, 0.0, 0.0], abs=TOLERANCE)
    assert 0.0 < corpus < 1.0


@pytest.mark.java
@pytest.mark.slow  # two Java processes load the paraphrase table (20-40 s on 2 cores)
def test_meteor_matches_pycocoevalcap_on_msvd(msvd_leave_one_out):
    pycocoevalcap_meteor = pytest.importorskip("pycocoevalcap.meteor.meteor", reason="needs pycocoevalcap")
    predictions, references = (captions[:NUM_MSVD_CLIPS] for captions in msvd_leave_one_out)
    # One more clip, with an empty prediction.
    predictions, references = [*predictions, ""], [*references, ["a man is playing a guitar"]]

    reference_meteor = pycocoevalcap_meteor.Meteor()  # starts its Java process, which loads while ours runs
    corpus, per_clip = meteor(predictions, references)

    expected_corpus, expected_per_clip = reference_meteor.compute_score(
        dict(enumerate(references)), {clip: [prediction] for clip, prediction in enumerate(predictions)}
    )
    del reference_meteor  # stops its Java process
    assert corpus == pytest.approx(expected_corpus, abs=TOLERANCE)
    assert per_clip == pytest.approx(expected_per_clip, abs=TOLERANCE)
    assert per_clip[-1] == 0.0


@pytest.mark.java
@pytest.mark.slow  # starts Java once more (10-20 s); the wiring is checked with the fake `java` above
def test_compute_caption_metrics_with_meteor():
    # Identical captions once normalized.
    scores = compute_caption_metrics(
        ["A man is playing a GUITAR!", "Two dogs,\nrunning ||| on grass."],
        [["a man is playing a guitar", "someone plays"], ["two dogs running on grass"]],
    )

    assert scores["METEOR"] == pytest.approx(1.0, abs=TOLERANCE)
    assert scores["Bleu_4"] == pytest.approx(1.0, abs=TOLERANCE)
    assert scores["ROUGE_L"] == pytest.approx(1.0, abs=TOLERANCE)
