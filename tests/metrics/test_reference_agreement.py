"""
BLEU, ROUGE-L and CIDEr-D agree with pycocoevalcap, the reference implementation, on the real MSVD test captions, and
give the leave-one-out human agreement documented with the caption files (shared/data/msvd/README.md): BLEU-4 49.5,
ROUGE-L 75.7, CIDEr-D 112.5. METEOR is compared with pycocoevalcap in test_meteor.py.
"""

import pytest

from hf_vidcap.metrics import bleu, cider_d, normalize_caption, rouge_l


TOLERANCE = 1e-6

pycocoevalcap_bleu = pytest.importorskip("pycocoevalcap.bleu.bleu", reason="needs pycocoevalcap (hf-vidcap[test])")
pycocoevalcap_cider = pytest.importorskip("pycocoevalcap.cider.cider", reason="needs pycocoevalcap (hf-vidcap[test])")
pycocoevalcap_rouge = pytest.importorskip("pycocoevalcap.rouge.rouge", reason="needs pycocoevalcap (hf-vidcap[test])")


def as_coco_dicts(predictions: list[str], references: list[list[str]]) -> tuple[dict, dict]:
    """The `gts` (references) and `res` (predictions) dictionaries of pycocoevalcap's scorers."""
    references_by_clip = dict(enumerate(references))
    predictions_by_clip = {clip: [prediction] for clip, prediction in enumerate(predictions)}
    return references_by_clip, predictions_by_clip


def test_normalization_leaves_the_lower_cased_punctuation_free_msvd_captions_unchanged(msvd_leave_one_out):
    predictions, references = msvd_leave_one_out
    assert len(predictions) == 670
    captions = predictions + [reference for clip_references in references for reference in clip_references]
    assert all(normalize_caption(caption) == caption for caption in captions)


def test_bleu_matches_pycocoevalcap(msvd_leave_one_out):
    predictions, references = msvd_leave_one_out
    expected_corpus, expected_per_order = pycocoevalcap_bleu.Bleu(4).compute_score(
        *as_coco_dicts(predictions, references), verbose=0
    )

    corpus, per_clip = bleu(predictions, references)

    assert corpus == pytest.approx(expected_corpus, abs=TOLERANCE)
    assert corpus[3] == pytest.approx(0.495, abs=5e-4)
    for order in range(4):
        assert [scores[order] for scores in per_clip] == pytest.approx(expected_per_order[order], abs=TOLERANCE)


def test_rouge_l_matches_pycocoevalcap(msvd_leave_one_out):
    predictions, references = msvd_leave_one_out
    expected_corpus, expected_per_clip = pycocoevalcap_rouge.Rouge().compute_score(
        *as_coco_dicts(predictions, references)
    )

    corpus, per_clip = rouge_l(predictions, references)

    assert corpus == pytest.approx(expected_corpus, abs=TOLERANCE)
    assert corpus == pytest.approx(0.757, abs=5e-4)
    assert per_clip == pytest.approx(list(expected_per_clip), abs=TOLERANCE)


def test_cider_d_matches_pycocoevalcap(msvd_leave_one_out):
    predictions, references = msvd_leave_one_out
    expected_corpus, expected_per_clip = pycocoevalcap_cider.Cider().compute_score(
        *as_coco_dicts(predictions, references)
    )

    corpus, per_clip = cider_d(predictions, references)

    assert corpus == pytest.approx(expected_corpus, abs=TOLERANCE)
    assert corpus == pytest.approx(1.125, abs=5e-4)
    assert per_clip == pytest.approx(list(expected_per_clip), abs=TOLERANCE)
