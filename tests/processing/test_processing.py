"""Tests of `VideoCaptioningProcessor`: inputs, labels, feature batching, decoding, saving and remote-code loading."""

import json

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import AutoProcessor

from hf_vidcap.processing import (
    PROCESSING_MODEL_TYPE,
    VideoCaptioningFeatureExtractor,
    VideoCaptioningProcessor,
    register_processing_auto_classes,
)

from ..helpers import run_without_hf_vidcap
from .conftest import CAPTIONS


def word_ids(processor, caption):
    """Ids of the words of a caption, looked up one by one in the vocabulary."""
    vocab = processor.tokenizer.get_vocab()
    return [vocab.get(word, processor.tokenizer.unk_token_id) for word in caption.split()]


def test_from_captions(processor):
    vocab = processor.tokenizer.get_vocab()
    # "a" is the most frequent word (5 times), then "man", "the", "woman" ... ; specials first.
    assert [vocab[token] for token in ("<pad>", "<bos>", "<eos>", "<unk>", "a")] == [0, 1, 2, 3, 4]
    assert isinstance(processor.feature_extractor, VideoCaptioningFeatureExtractor)
    default = VideoCaptioningProcessor.from_captions(CAPTIONS, min_count=2)
    assert default.feature_extractor.num_frames == 16
    assert sorted(default.tokenizer.get_vocab())[4:] == ["a", "guitar", "is", "man", "the", "woman"]
    assert len(VideoCaptioningProcessor.from_captions(CAPTIONS, max_vocab_size=6).tokenizer) == 6


def test_videos_and_text(processor, videos):
    text = ["A man plays the guitar.", "a dog"]
    batch = processor(videos=[videos["counter"], videos["short"]], text=text, return_tensors="pt")
    assert set(batch) == {"pixel_values_videos", "video_attention_mask", "labels"}
    assert (
        batch["pixel_values_videos"].shape == (2, 8, 3, 16, 16) and batch["pixel_values_videos"].dtype == torch.float32
    )
    assert batch["video_attention_mask"].tolist() == [[1] * 8, [1] * 5 + [0] * 3]
    eos = processor.tokenizer.eos_token_id
    first, second = word_ids(processor, "a man plays the guitar"), word_ids(processor, "a dog")
    assert batch["labels"].dtype == torch.int64
    assert batch["labels"].tolist() == [first + [eos], second + [eos] + [-100] * 3]
    assert processor.tokenizer.bos_token_id not in batch["labels"]


def test_a_dataset_column_of_videos_is_a_batch(processor, videos):
    """`dataset["video_path"]` is a lazy `Column` in datasets 5: a sequence of videos, not one video."""
    dataset = Dataset.from_dict({"video_path": [str(videos["counter"]), str(videos["short"])]})
    batch = processor(videos=dataset["video_path"], return_tensors="pt")
    expected = processor(videos=list(dataset["video_path"]), return_tensors="pt")
    assert batch["video_attention_mask"].tolist() == [[1] * 8, [1] * 5 + [0] * 3]
    assert torch.equal(batch["pixel_values_videos"], expected["pixel_values_videos"])


def test_labels_truncation_keeps_eos(processor):
    labels = processor(text=["a man is playing a guitar", "a dog"], max_length=3)["labels"]
    eos = processor.tokenizer.eos_token_id
    assert isinstance(labels, np.ndarray) and labels.dtype == np.int64
    assert labels.tolist() == [word_ids(processor, "a man") + [eos], word_ids(processor, "a dog") + [eos]]
    assert processor(text="dog", max_length=1)["labels"].tolist() == [[eos]]


def test_unknown_words_map_to_unk(processor):
    labels = processor(text="A zebra!")["labels"]
    assert labels.tolist() == [[4, processor.tokenizer.unk_token_id, processor.tokenizer.eos_token_id]]


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({}, "Nothing to process"),
        ({"text": ["a", "b"], "video_features": [np.ones((2, 4))]}, "Got 1 videos but 2 captions"),
        ({"videos": "x.mp4", "video_features": [np.ones((2, 4))]}, "either `videos` or `video_features`"),
        ({"text": "a", "video_attention_mask": np.ones((1, 2))}, "`video_attention_mask` goes with `video_features`"),
        ({"text": []}, "`text` is an empty list"),
        ({"text": ["a", 3]}, r"text\[1\] must be a string"),
        ({"text": "a", "max_length": 0}, "`max_length` must be at least 1"),
    ],
)
def test_invalid_calls(processor, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        processor(**kwargs)


def test_video_count_must_match_caption_count(processor, videos):
    with pytest.raises(ValueError, match="Got 1 videos but 2 captions"):
        processor(videos=[videos["counter"]], text=["a", "b"])


def test_ragged_video_features_are_padded(processor):
    first, second = np.arange(12, dtype=np.float64).reshape(3, 4), torch.ones(5, 4, dtype=torch.float16)
    batch = processor(video_features=[first, second], text=["a", "a dog"], return_tensors="pt")
    features, mask = batch["video_features"], batch["video_attention_mask"]
    assert features.shape == (2, 5, 4) and features.dtype == torch.float32
    assert mask.dtype == torch.int64 and mask.tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    np.testing.assert_array_equal(features[0, :3].numpy(), first)
    assert not features[0, 3:].any() and (features[1] == 1).all()
    assert batch["labels"].shape == (2, 3)


def test_region_features_are_padded(processor):
    batch = processor(video_features=[np.ones((2, 6, 4)), np.ones((3, 6, 4))])
    assert batch["video_features"].shape == (2, 3, 6, 4)
    assert batch["video_attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]


def test_padded_video_features(processor):
    features = torch.randn(2, 4, 8)
    batch = processor(video_features=features, return_tensors="pt")
    torch.testing.assert_close(batch["video_features"], features)
    assert batch["video_attention_mask"].tolist() == [[1] * 4, [1] * 4]
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    batch = processor(video_features=features.numpy(), video_attention_mask=mask, return_tensors="pt")
    assert (
        batch["video_attention_mask"].dtype == torch.int64 and batch["video_attention_mask"].tolist() == mask.tolist()
    )


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        (
            {"video_features": [np.ones((3, 4)), np.ones((3, 5))]},
            r"video_features\[1\] has shape \[3, 5\], expected \['T', 4\] like video_features\[0\] \[3, 4\]",
        ),
        ({"video_features": [np.ones(4)]}, r"video_features\[0\] must have shape \[T, D\].*got \[4\]"),
        ({"video_features": [np.ones((3, 4)), np.ones((0, 4))]}, r"video_features\[1\] is empty: shape \[0, 4\]"),
        ({"video_features": []}, "`video_features` is an empty list"),
        ({"video_features": np.ones((3, 4))}, r"must have shape \[B, T, D\].*got \[3, 4\]"),
        (
            {"video_features": np.ones((2, 3, 4)), "video_attention_mask": np.ones((2, 4))},
            r"must have shape \[B, T\] = \[2, 3\].*\[2, 3, 4\], got \[2, 4\]",
        ),
        (
            {"video_features": np.ones((2, 3, 4)), "video_attention_mask": np.array([[1, 1, 1], [0, 0, 0]])},
            r"video_features\[1\] is empty",
        ),
        ({"video_features": [np.ones((3, 4))], "video_attention_mask": np.ones((1, 3))}, "pass a padded array"),
    ],
)
def test_bad_video_features(processor, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        processor(**kwargs)


def test_batch_decode_cuts_at_first_eos_and_skips_bos(processor):
    a, dog, man = word_ids(processor, "a dog man")
    bos, eos, pad = 1, 2, 0
    sequences = [
        [bos, a, dog, eos, man, pad],  # greedy output: stop at the first <eos>
        [a, man, eos, eos, eos, eos],  # beam search pads finished rows with <eos>
        [bos, man, pad, pad, pad, pad],  # or with <pad>
        [bos, eos, a, a, a, a],  # empty caption
    ]
    expected = ["a dog", "a man", "man", ""]
    for form in (sequences, np.array(sequences), torch.tensor(sequences)):
        assert processor.batch_decode(form) == expected
    assert processor.decode(torch.tensor(sequences[0])) == "a dog"
    assert processor.decode(sequences[2], skip_special_tokens=False) == "man <pad> <pad> <pad> <pad>"
    assert processor.batch_decode([torch.tensor(row) for row in sequences]) == expected  # a list of rows
    with pytest.raises(ValueError, match=r"`batch_decode` takes a batch of id sequences \[B, L\]; .*`decode`"):
        processor.batch_decode(torch.tensor(sequences[0]))
    with pytest.raises(ValueError, match=r"`decode` takes one id sequence \[L\]; .*`batch_decode`"):
        processor.decode(torch.tensor(sequences))


def test_special_tokens_written_in_a_caption_are_words(processor):
    """A caption that spells out "<eos>" or "<pad>" (scraped text, markup) must not end or pad the labels there."""
    labels = processor(text=["a man <eos> plays the <pad> guitar"])["labels"]
    eos = processor.tokenizer.eos_token_id
    assert labels.tolist() == [word_ids(processor, "a man eos plays the pad guitar") + [eos]]
    assert processor.tokenizer.pad_token_id not in labels


def test_labels_decode_back_to_the_normalized_captions(processor):
    captions = ["A man plays the guitar!", "The woman, slicing onions."]
    labels = processor(text=captions, return_tensors="pt")["labels"]
    assert processor.batch_decode(labels) == ["a man plays the guitar", "the woman slicing onions"]


def test_model_input_names(processor):
    assert processor.model_input_names == ["pixel_values_videos", "video_features", "video_attention_mask"]


def test_save_and_load_with_auto_processor(processor, videos, tmp_path):
    processor.save_pretrained(tmp_path)
    files = {path.name for path in tmp_path.iterdir()}
    assert {"processor_config.json", "tokenizer.json", "tokenizer_config.json"} <= files
    assert {"processing.py", "feature_extraction.py", "tokenization.py", "video_io.py"} <= files
    config = json.loads((tmp_path / "processor_config.json").read_text())
    assert config["processor_class"] == "VideoCaptioningProcessor"
    assert config["auto_map"] == {"AutoProcessor": "processing.VideoCaptioningProcessor"}
    assert config["feature_extractor"]["auto_map"]["AutoFeatureExtractor"] == (
        "feature_extraction.VideoCaptioningFeatureExtractor"
    )

    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(reloaded) is VideoCaptioningProcessor
    assert type(reloaded.feature_extractor) is VideoCaptioningFeatureExtractor
    assert reloaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()
    assert reloaded.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    inputs = {"videos": [videos["counter"], videos["short"]], "text": ["a man plays the guitar", "a dog runs"]}
    expected, actual = processor(**inputs), reloaded(**inputs)
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


REMOTE_CODE_SCRIPT = """
import numpy as np
from transformers import AutoProcessor

processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
assert type(processor).__module__.startswith("transformers_modules."), type(processor).__module__
assert type(processor.feature_extractor).__module__.startswith("transformers_modules.")
videos, text = [sys.argv[2], sys.argv[3]], ["a man plays the guitar", "a dog runs"]
batch = processor(videos=videos, text=text, return_tensors="np")
np.savez(sys.argv[4], decoded=np.array(processor.batch_decode(batch["labels"])), **batch)
"""


def test_load_with_trust_remote_code_without_the_package(processor, videos, tmp_path):
    saved, output = tmp_path / "saved", tmp_path / "remote.npz"
    processor.save_pretrained(saved)
    run_without_hf_vidcap(
        REMOTE_CODE_SCRIPT, tmp_path, str(saved), str(videos["counter"]), str(videos["short"]), str(output)
    )
    remote = np.load(output)
    expected = processor(videos=[videos["counter"], videos["short"]], text=["a man plays the guitar", "a dog runs"])
    assert sorted(remote.files) == sorted([*expected, "decoded"])
    for key in expected:
        np.testing.assert_array_equal(remote[key], expected[key])
    assert remote["decoded"].tolist() == ["a man plays the guitar", "a dog runs"]


def test_registration_is_idempotent(processor):
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    register_processing_auto_classes()
    register_processing_auto_classes()
    assert PROCESSOR_MAPPING._extra_content[PROCESSING_MODEL_TYPE] is VideoCaptioningProcessor
    assert FEATURE_EXTRACTOR_MAPPING._extra_content[PROCESSING_MODEL_TYPE] is VideoCaptioningFeatureExtractor
    assert VideoCaptioningProcessor._auto_class == "AutoProcessor"
    assert VideoCaptioningFeatureExtractor._auto_class == "AutoFeatureExtractor"
