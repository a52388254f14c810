"""
METEOR 1.5 (Denkowski and Lavie, 2014) as coco-caption computes it: the reference Java implementation, run with the
same flags (`-stdio -l en -norm`) and spoken to with the same protocol.

The jar and its English paraphrase table are the ones shipped with the `pycocoevalcap` package
(`pip install hf-vidcap[meteor]`), and a Java runtime must be on PATH. For every clip, a line
`SCORE ||| reference 1 ||| ... ||| reference n ||| prediction` returns the METEOR statistics of the clip; a final
line `EVAL ||| statistics 1 ||| ... ||| statistics N` returns the score of every clip followed by the corpus score,
which METEOR computes from the pooled statistics (it is not the mean of the clip scores).
"""

import contextlib
import importlib.util
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from .text import validate_caption_inputs


logger = logging.getLogger(__name__)

METEOR_JAR_NAME = "meteor-1.5.jar"
_PARAPHRASE_TABLE = Path("data") / "paraphrase-en.gz"
# The command line of coco-caption, after `java`: `-` `-` stand for the (unused) test and reference files.
_METEOR_ARGUMENTS = ["-jar", "-Xmx2G", METEOR_JAR_NAME, "-", "-", "-stdio", "-l", "en", "-norm"]
_FIELD_SEPARATOR = " ||| "
# How long to wait for METEOR to exit after its input is closed, before killing it.
_EXIT_TIMEOUT = 5.0


class MeteorUnavailableError(RuntimeError):
    """Raised when METEOR cannot run at all: no `java` executable on PATH, or no METEOR 1.5 jar installed."""


def find_meteor_jar() -> Path | None:
    """
    Locates the METEOR 1.5 jar shipped with the installed `pycocoevalcap` package, without importing it.

    Returns:
        `Path | None`: The path of `meteor-1.5.jar`, next to which lies its `data/paraphrase-en.gz`, or `None` when
        `pycocoevalcap` (or its METEOR files) is not installed.
    """
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or spec.submodule_search_locations is None:
        return None
    for package_directory in spec.submodule_search_locations:
        meteor_directory = Path(package_directory) / "meteor"
        if (meteor_directory / METEOR_JAR_NAME).is_file() and (meteor_directory / _PARAPHRASE_TABLE).is_file():
            return meteor_directory / METEOR_JAR_NAME
    return None


def _sanitize(caption: str) -> str:
    """Makes a caption safe for one field of a METEOR line: no line break, no `|||` separator, single spaces."""
    return " ".join(caption.replace("|||", " ").split())


class _MeteorProcess:
    """
    A METEOR process in `-stdio` mode, to which lines are sent one at a time.

    Each exchange (one line out, its answers back) is guarded by a watchdog that kills the process when the answers do
    not arrive within `timeout` seconds, so that a stuck or crashed Java process raises an error instead of hanging.
    """

    def __init__(self, java: str, meteor_directory: Path, timeout: float):
        self._timeout = timeout
        self._timed_out = False
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `close`, with the process)
        logger.debug("Starting METEOR 1.5 from %s with %s", meteor_directory, java)
        try:
            self._process = subprocess.Popen(
                [java, *_METEOR_ARGUMENTS],
                cwd=meteor_directory,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except OSError:
            self._stderr.close()
            raise

    def __enter__(self) -> "_MeteorProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def exchange(self, line: str, num_answers: int = 1) -> list[str]:
        """Sends one line and returns the `num_answers` lines that METEOR answers, stripped."""
        watchdog = threading.Timer(self._timeout, self._kill_on_timeout)
        watchdog.start()
        try:
            self._process.stdin.write(f"{line}\n".encode())
            self._process.stdin.flush()
            answers = [self._process.stdout.readline() for _ in range(num_answers)]
        except OSError:  # broken pipe: the process is gone
            answers = [b""]
        finally:
            watchdog.cancel()
        if not all(answers):  # end of file: the process died or was killed
            raise self._failure()
        return [answer.decode().strip() for answer in answers]

    def _kill_on_timeout(self) -> None:
        self._timed_out = True
        self._process.kill()

    def _failure(self) -> Exception:
        """The error to raise once the process has stopped answering."""
        if self._timed_out:
            return TimeoutError(
                f"METEOR did not answer within {self._timeout} s and was stopped; allow it more time with the "
                "`meteor_timeout` argument of `compute_caption_metrics` (`timeout` of `meteor`)."
            )
        self._wait_or_kill()
        self._stderr.seek(0)
        error_output = self._stderr.read().decode(errors="replace").strip()[-2000:]
        return RuntimeError(f"METEOR exited unexpectedly with code {self._process.returncode}:\n{error_output}")

    def _wait_or_kill(self) -> None:
        try:
            self._process.wait(_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def close(self) -> None:
        """Closes the input of the process, lets it exit (or kills it) and releases its pipes."""
        with contextlib.suppress(OSError):  # broken pipe: the process is gone already
            self._process.stdin.close()
        self._wait_or_kill()
        self._process.stdout.close()
        self._stderr.close()


def _check_statistics(answer: str, request: str) -> None:
    """Checks that METEOR answered a line of numbers to a SCORE request."""
    try:
        statistics = [float(field) for field in answer.split()]
    except ValueError:
        statistics = []
    if not statistics:
        raise RuntimeError(f"Unexpected answer {answer!r} of METEOR to {request[:200]!r}.")


def meteor(
    predictions: Sequence[str], references: Sequence[Sequence[str]], timeout: float = 120.0
) -> tuple[float, list[float]]:
    """
    Computes METEOR 1.5 exactly as coco-caption does, by running the reference Java implementation.

    Line breaks and `|||` (METEOR's field separator) are removed from the captions and whitespace is collapsed, so no
    caption can break the protocol; METEOR then normalizes the text itself (`-norm`). Each call starts a Java process,
    which takes a few seconds to load the paraphrase table, and stops it before returning.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip.
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip (at least one per clip).
        timeout (`float`, *optional*, defaults to 120.0):
            Seconds to wait for each answer of METEOR; the first one includes starting Java and loading the
            paraphrase table.

    Returns:
        `tuple[float, list[float]]`: The corpus score, in [0, 1], and the score of each clip, in the order of
        `predictions`.

    Raises:
        `MeteorUnavailableError`: If `java` is not on PATH or the METEOR jar is not installed.
        `TimeoutError`: If METEOR does not answer within `timeout` seconds.
        `RuntimeError`: If the METEOR process fails.
    """
    validate_caption_inputs(predictions, references)
    java = shutil.which("java")
    if java is None:
        raise MeteorUnavailableError(
            "METEOR 1.5 needs a Java runtime, but no `java` executable was found on PATH: install Java 17 "
            "(e.g. `apt-get install openjdk-17-jre-headless`) and make sure `java` is on PATH."
        )
    jar = find_meteor_jar()
    if jar is None:
        raise MeteorUnavailableError(
            f"METEOR 1.5 needs {METEOR_JAR_NAME} and its paraphrase table, shipped with pycocoevalcap, which is not "
            "installed: run `pip install hf-vidcap[meteor]`."
        )

    with _MeteorProcess(java, jar.parent, timeout) as process:
        clip_statistics = []
        for prediction, clip_references in zip(predictions, references):
            fields = ["SCORE", *(_sanitize(reference) for reference in clip_references), _sanitize(prediction)]
            request = _FIELD_SEPARATOR.join(fields)
            (answer,) = process.exchange(request)
            _check_statistics(answer, request)
            clip_statistics.append(answer)
        answers = process.exchange(_FIELD_SEPARATOR.join(["EVAL", *clip_statistics]), len(clip_statistics) + 1)

    try:
        scores = [float(answer) for answer in answers]
    except ValueError:
        raise RuntimeError(f"Unexpected answers of METEOR to its EVAL request: {answers[:3]!r}...") from None
    return scores[-1], scores[:-1]
