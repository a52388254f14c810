"""The processor batches the extra feature streams of multi-stream models (e.g. G2L's clip and region features)."""

import numpy as np
import pytest
import torch

from hf_vidcap import G2LConfig, G2LForVideoCaptioning, VideoCaptioningProcessor


@pytest.fixture(scope="module")
def processor():
    return VideoCaptioningProcessor.from_captions(["a red circle moves left", "a blue square grows"])


def test_streams_of_different_lengths_are_zero_padded(processor):
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(5, 3)), rng.normal(size=(2, 3))]
    clips = [rng.normal(size=(5, 2)), rng.normal(size=(2, 2))]
    regions = [rng.normal(size=(2, 4, 6)), rng.normal(size=(1, 4, 6))]
    out = processor(video_features=frames, clip_features=clips, region_features=regions, return_tensors="pt")
    assert out["clip_features"].shape == (2, 5, 2) and out["region_features"].shape == (2, 2, 4, 6)
    np.testing.assert_allclose(out["clip_features"][1, :2].numpy(), clips[1], rtol=1e-6)
    assert (out["clip_features"][1, 2:] == 0).all() and (out["region_features"][1, 1:] == 0).all()
    np.testing.assert_allclose(out["region_features"][0].numpy(), regions[0], rtol=1e-6)


def test_padded_streams_pass_through_and_feed_a_multi_stream_model(processor):
    model = G2LForVideoCaptioning(
        G2LConfig(
            vocab_size=len(processor.tokenizer),
            video_feature_size=3,
            clip_feature_size=2,
            region_feature_size=6,
            num_regions=4,
            **dict.fromkeys(
                ["projection_size", "aligned_embedding_size", "attention_size", "word_embedding_size", "hidden_size"],
                8,
            ),
        )
    ).eval()
    inputs = model.dummy_video_inputs(2, 5)
    batch = processor(**inputs, text=["a red circle moves left", "a blue square grows"], return_tensors="pt")
    for name in ("clip_features", "region_features"):
        torch.testing.assert_close(batch[name], inputs[name])
    assert torch.isfinite(model(**batch).loss)


def test_bad_streams_raise_clear_errors(processor):
    frames = [np.zeros((5, 3)), np.zeros((2, 3))]
    with pytest.raises(ValueError, match="2 videos but 1 `clip_features`"):
        processor(video_features=frames, clip_features=[np.zeros((5, 2))])
    with pytest.raises(ValueError, match=r"clip_features\[1\] has shape \[2, 3\], expected \['S', 2\]"):
        processor(video_features=frames, clip_features=[np.zeros((5, 2)), np.zeros((2, 3))])
    with pytest.raises(
        ValueError, match=r"clip_features\[1\] must have shape \[S, D\] \(or \[S, \.\.\., D\]\), got \[2\]"
    ):
        processor(video_features=frames, clip_features=[np.zeros((5, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match=r"Padded `region_features` must have shape \[B, S, \.\.\., D\] with B = 2"):
        processor(video_features=frames, region_features=np.zeros((3, 2, 4, 6)))
    with pytest.raises(ValueError, match="`clip_features` goes with `videos` or `video_features`"):
        processor(text=["a red circle"], clip_features=[np.zeros((5, 2))])
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_frame'"):
        processor(video_features=frames, num_frame=4)
    for misspelled in ("video", "images"):  # alone, not reported as "nothing to process"
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{misspelled}'"):
            processor(**{misspelled: ["a.mp4"]})
