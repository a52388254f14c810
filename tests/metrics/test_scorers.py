"""Hand-checkable cases of BLEU, ROUGE-L, CIDEr-D and compute_caption_metrics (METEOR off: see test_meteor.py)."""

import math

import pytest

from hf_vidcap.metrics import bleu, cider_d, compute_caption_metrics, rouge_l


TOLERANCE = 1e-6


class TestBleu:
    def test_identical_captions_score_1(self):
        corpus, per_clip = bleu(["a man is playing a guitar"], [["a man is playing a guitar"]])

        assert corpus == pytest.approx([1.0] * 4, abs=TOLERANCE)
        assert per_clip == [pytest.approx([1.0] * 4, abs=TOLERANCE)]

    def test_disjoint_captions_score_0(self):
        corpus, per_clip = bleu(["a man is playing a guitar"], [["two dogs run on the beach"]])

        assert corpus == pytest.approx([0.0] * 4, abs=TOLERANCE)
        assert per_clip == [pytest.approx([0.0] * 4, abs=TOLERANCE)]

    def test_counts_of_repeated_words_are_clipped(self):
        # "the" occurs once in the reference, so one of the three matches: BLEU-1 = 1/3 (same lengths, no penalty).
        corpus, _ = bleu(["the the the"], [["the cat sat"]])

        assert corpus[0] == pytest.approx(1 / 3, abs=TOLERANCE)

    def test_brevity_penalty(self):
        # All words match, but 2 words against 5: BLEU-1 = exp(1 - 5/2).
        corpus, _ = bleu(["a cat"], [["a cat sat on mats"]])

        assert corpus[0] == pytest.approx(math.exp(1 - 5 / 2), abs=TOLERANCE)

    def test_brevity_penalty_uses_the_closest_reference_length_shorter_on_ties(self):
        # References of 2 and 4 words are equally close to 3 words: the 2-word one is taken, so there is no penalty.
        corpus, _ = bleu(["a b c"], [["a b", "a b c d"]])

        assert corpus[0] == pytest.approx(1.0, abs=TOLERANCE)

    def test_corpus_score_pools_counts_instead_of_averaging_clips(self):
        # 2 of 6 predicted words match overall: corpus BLEU-1 = 1/3, whereas the clips score 1 and 0.
        corpus, per_clip = bleu(["a b", "c d e f"], [["a b"], ["w x y z"]])

        assert corpus[0] == pytest.approx(1 / 3, abs=TOLERANCE)
        assert [scores[0] for scores in per_clip] == pytest.approx([1.0, 0.0], abs=TOLERANCE)

    def test_max_order(self):
        corpus, per_clip = bleu(["a b"], [["a b"]], max_order=2)

        assert corpus == pytest.approx([1.0, 1.0], abs=TOLERANCE)
        assert len(per_clip[0]) == 2


class TestRougeL:
    def test_identical_captions_score_1(self):
        assert rouge_l(["a man is playing a guitar"], [["a man is playing a guitar"]]) == (1.0, [1.0])

    def test_disjoint_captions_score_0(self):
        assert rouge_l(["a man is playing a guitar"], [["two dogs run on the beach"]]) == (0.0, [0.0])

    def test_f_measure_of_the_longest_common_subsequence(self):
        # LCS("a b c d", "a c e") = "a c": precision 2/4, recall 2/3, F = (1 + 1.2²) P R / (R + 1.2² P) = 2.44 / 4.16.
        corpus, per_clip = rouge_l(["a b c d"], [["a c e"]])

        assert per_clip == pytest.approx([2.44 / 4.16], abs=TOLERANCE)
        assert corpus == pytest.approx(2.44 / 4.16, abs=TOLERANCE)

    def test_best_precision_and_best_recall_may_come_from_different_references(self):
        # Against the first reference precision is 3/3 (recall 3/6), against the second recall is 1/1: F = 1.
        corpus, _ = rouge_l(["a b c"], [["a b c d e f", "c"]])

        assert corpus == pytest.approx(1.0, abs=TOLERANCE)

    def test_corpus_score_is_the_mean_over_clips(self):
        corpus, per_clip = rouge_l(["a b", "c d"], [["a b"], ["x y"]])

        assert per_clip == [1.0, 0.0]
        assert corpus == 0.5


class TestCiderD:
    def test_identical_two_word_captions(self):
        # Every n-gram occurs in the references of one clip out of 2: all weights are log(2), the unigram and bigram
        # cosines are 1 and there are no 3- or 4-grams, so each clip scores 10 * (1 + 1 + 0 + 0) / 4 = 5.
        corpus, per_clip = cider_d(["a b", "c d"], [["a b"], ["c d"]])

        assert per_clip == pytest.approx([5.0, 5.0], abs=TOLERANCE)
        assert corpus == pytest.approx(5.0, abs=TOLERANCE)

    def test_disjoint_captions_score_0(self):
        corpus, per_clip = cider_d(["a b", "c d"], [["x y"], ["z w"]])

        assert corpus == 0.0
        assert per_clip == [0.0, 0.0]

    def test_ngrams_found_in_every_clip_carry_no_weight(self):
        # "a" is in the references of both clips: its idf is log(2 / 2) = 0, so matching it earns nothing.
        corpus, _ = cider_d(["a", "a"], [["a"], ["a"]])

        assert corpus == 0.0

    def test_gaussian_length_penalty(self):
        # "z" and its n-grams are in the references of both clips, so they weigh 0: the unigram cosine is 1 and no
        # other order has a predicted n-gram. The references are 3 words longer than the predictions, so each clip
        # scores 10 * exp(-3^2 / (2 * 6^2)) * (1 + 0 + 0 + 0) / 4.
        corpus, per_clip = cider_d(["a", "c"], [["a z z z"], ["c z z z"]])

        expected = 10 * math.exp(-9 / 72) / 4
        assert per_clip == pytest.approx([expected, expected], abs=TOLERANCE)
        assert corpus == pytest.approx(expected, abs=TOLERANCE)

    def test_single_clip_scores_0(self):
        # With one clip, every reference n-gram occurs in all clips and weighs log(1 / 1) = 0.
        corpus, per_clip = cider_d(["a man is playing a guitar"], [["a man is playing a guitar"]])

        assert (corpus, per_clip) == (0.0, [0.0])


class TestComputeCaptionMetrics:
    def test_keys_and_identical_captions(self):
        scores = compute_caption_metrics(
            ["a man is playing a guitar", "two dogs are running"],
            [["a man is playing a guitar"], ["two dogs are running"]],
            meteor=False,
        )

        assert list(scores) == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]
        assert [scores[f"Bleu_{order}"] for order in range(1, 5)] == pytest.approx([1.0] * 4, abs=TOLERANCE)
        assert scores["ROUGE_L"] == pytest.approx(1.0, abs=TOLERANCE)
        assert scores["METEOR"] is None
        assert all(isinstance(scores[name], float) for name in ["Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"])

    def test_normalization_lower_cases_and_deletes_punctuation(self):
        predictions = ["A man's playing a GUITAR!", "Two dogs, running."]
        references = [["a mans playing a guitar"], ["two dogs running"]]

        normalized = compute_caption_metrics(predictions, references, meteor=False)
        raw = compute_caption_metrics(predictions, references, normalize=False, meteor=False)

        assert normalized["Bleu_1"] == pytest.approx(1.0, abs=TOLERANCE)
        assert normalized["ROUGE_L"] == pytest.approx(1.0, abs=TOLERANCE)
        # Split as they are, only "playing" and "a" of the 8 predicted words match.
        assert raw["Bleu_1"] == pytest.approx(2 / 8, abs=TOLERANCE)

    def test_empty_prediction(self):
        scores = compute_caption_metrics(
            ["", "a dog runs"], [["a man is playing a guitar"], ["a dog runs"]], meteor=False
        )

        # The 3 predicted words all match, but the corpus predicts 3 words where the references have 6 + 3.
        assert scores["Bleu_1"] == pytest.approx(math.exp(1 - 9 / 3), abs=TOLERANCE)
        assert scores["ROUGE_L"] == pytest.approx(0.5, abs=TOLERANCE)
        # The second clip matches its unigrams ("a" weighs 0, being in both clips), bigrams and trigram, not 4-grams:
        # 10 * 3 / 4, and the empty prediction scores 0.
        assert scores["CIDEr"] == pytest.approx(7.5 / 2, abs=TOLERANCE)

    def test_prediction_emptied_by_normalization(self):
        scores = compute_caption_metrics(["...", "a dog runs"], [["a cat"], ["a dog runs"]], meteor=False)

        assert scores["ROUGE_L"] == pytest.approx(0.5, abs=TOLERANCE)
