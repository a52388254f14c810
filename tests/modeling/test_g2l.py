"""G2L beyond the shared model tests: the Gumbel top-k sampler, the attention weights, the ablation switches, the three
streams from pixels, and the training schedule."""

from __future__ import annotations

import pytest
import torch
from transformers import ResNetConfig

from hf_vidcap import G2LConfig, G2LForVideoCaptioning
from hf_vidcap.modeling.g2l import G2L_ABLATIONS, G2LAttentions, GumbelTopKSampler, g2l_optimizer_and_scheduler

from ..helpers import TINY_RESNET, TINY_VIDEOMAE


BATCH, FRAMES, VOCAB = 3, 7, 20
TINY = {
    "vocab_size": VOCAB,
    "video_feature_size": 6,
    "clip_feature_size": 5,
    "region_feature_size": 4,
    "num_regions": 4,
    "projection_size": 8,
    "aligned_embedding_size": 8,
    "attention_size": 8,
    "word_embedding_size": 8,
    "hidden_size": 8,
    "initializer_range": 0.5,
}


def tiny_model(**overrides) -> G2LForVideoCaptioning:
    torch.manual_seed(0)
    return G2LForVideoCaptioning(G2LConfig(**{**TINY, **overrides})).eval()


def inputs_for(model: G2LForVideoCaptioning, num_frames: int = FRAMES) -> dict[str, torch.Tensor]:
    return model.dummy_video_inputs(BATCH, num_frames, generator=torch.Generator().manual_seed(0))


def teacher_forced_attentions(model, inputs) -> G2LAttentions:
    labels = torch.randint(3, VOCAB, (BATCH, 5), generator=torch.Generator().manual_seed(1))
    return model(**inputs, labels=labels, output_attentions=True).attentions


# ---------------------------------------------------------------------------------------------- Gumbel top-k sampler


def test_sampler_draws_k_distinct_near_one_hot_items():
    torch.manual_seed(0)
    probabilities = torch.rand(64, 6).softmax(dim=-1)
    draws = GumbelTopKSampler(3).train()(probabilities, torch.ones(64, 6))
    assert draws.shape == (64, 3, 6)
    assert (draws.max(dim=-1).values > 0.999).all()
    torch.testing.assert_close(draws.sum(dim=-1), torch.ones(64, 3))
    chosen = draws.argmax(dim=-1)
    assert all(len(set(row)) == 3 for row in chosen.tolist())


def test_sampler_is_random_in_training_and_the_top_k_in_eval():
    probabilities = torch.tensor([[0.3, 0.25, 0.2, 0.15, 0.1]]).expand(200, -1)
    sampler = GumbelTopKSampler(2)
    torch.manual_seed(0)
    first = sampler.train()(probabilities, torch.ones(200, 5)).argmax(dim=-1)[:, 0]
    # Training draws follow the distribution: every item is drawn first sometimes, the likeliest most often.
    counts = torch.bincount(first, minlength=5)
    assert (counts > 0).all() and counts.argmax() == 0
    evaluated = sampler.eval()(probabilities, torch.ones(200, 5))
    assert (evaluated.argmax(dim=-1) == torch.tensor([0, 1])).all()
    assert torch.equal(evaluated, sampler(probabilities, torch.ones(200, 5)))


def test_sampler_gradients_flow_to_the_probabilities():
    logits = torch.randn(4, 5, requires_grad=True)
    draws = GumbelTopKSampler(2, temperature=0.5).train()(logits.softmax(dim=-1), torch.ones(4, 5))
    (draws * torch.randn(5)).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    # At the paper's temperature the draws are one-hot to float precision; gradients stay finite.
    logits.grad = None
    draws = GumbelTopKSampler(2).train()(logits.softmax(dim=-1), torch.ones(4, 5))
    (draws * torch.randn(5)).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_sampler_skips_masked_items_and_leaves_extra_draws_empty():
    probabilities = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.3, 0.2]])
    mask = torch.tensor([[1, 0, 1], [1, 0, 0]])
    for training in (True, False):
        draws = GumbelTopKSampler(2).train(training)(probabilities, mask)
        assert (draws[:, :, 1] == 0).all()
        assert sorted(draws[0].argmax(dim=-1).tolist()) == [0, 2]
        torch.testing.assert_close(draws[1], torch.tensor([[1.0, 0, 0], [0, 0, 0]]))


def test_hard_sampler_takes_the_largest_in_turn_without_gradient():
    probabilities = torch.tensor([[0.1, 0.5, 0.4]], requires_grad=True)
    draws = GumbelTopKSampler(2, hard=True).train()(probabilities, torch.ones(1, 3))
    assert torch.equal(draws, torch.tensor([[[0.0, 1, 0], [0, 0, 1]]]))
    assert not draws.requires_grad


# ---------------------------------------------------------------------------------------------- attention weights


def test_attention_weights_sum_to_one_and_padding_gets_zero():
    model = tiny_model()
    inputs = inputs_for(model)
    attentions = teacher_forced_attentions(model, inputs)
    mask = inputs["video_attention_mask"].bool()[:, None, :].expand(-1, 5, -1)
    for name in ("frame", "clip", "aligned"):
        weights = getattr(attentions, name)
        assert weights.shape == (BATCH, 5, FRAMES)
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(BATCH, 5))
        assert (weights[~mask] == 0).all()
    # 7 frames -> 3 region steps; the videos have 7, 6 and 5 real frames, so 3, 2 and 2 real steps.
    assert attentions.key_frames.shape == (BATCH, 5, 2, 3)
    assert (attentions.key_frames[1:, :, :, 2] == 0).all()
    assert (attentions.key_frames.max(dim=-1).values > 0.999).all()
    torch.testing.assert_close(attentions.regions.sum(dim=-1), torch.ones(BATCH, 5, 2))


def test_key_frames_follow_the_grouped_aligned_weights():
    """Eq. 8 then the sampler: in eval the key frames are the two groups of 3 frames with the most aligned weight."""
    model = tiny_model()
    attentions = teacher_forced_attentions(model, inputs_for(model))
    grouped = torch.nn.functional.pad(attentions.aligned, (0, 2)).unflatten(-1, (3, 3)).sum(dim=-1)
    expected = grouped.topk(2, dim=-1).indices
    assert torch.equal(attentions.key_frames.argmax(dim=-1), expected)


def test_generate_returns_the_attentions_of_every_word():
    model = tiny_model()
    inputs = inputs_for(model)
    for num_beams in (1, 3):
        output = model.generate(
            **inputs, num_beams=num_beams, max_new_tokens=4, output_attentions=True, return_dict_in_generate=True
        )
        assert len(output.attentions) == output.sequences.shape[1] - 1
        for step in output.attentions:
            assert isinstance(step, G2LAttentions)
            assert step.frame.shape == (BATCH * num_beams, 1, FRAMES)
            assert step.regions.shape == (BATCH * num_beams, 1, 2, 4)
    greedy = model.generate(**inputs, max_new_tokens=4, output_attentions=True, return_dict_in_generate=True)
    forced = model(input_ids=greedy.sequences[:, :-1], **inputs, output_attentions=True).attentions
    for name in ("frame", "clip", "aligned", "key_frames", "regions"):
        stepwise = torch.cat([getattr(step, name) for step in greedy.attentions], dim=1)
        torch.testing.assert_close(stepwise, getattr(forced, name))


# ---------------------------------------------------------------------------------------------- ablation switches


@pytest.mark.parametrize("ablation", sorted(G2L_ABLATIONS))
def test_ablation_switches_change_what_is_computed(ablation):
    settings = G2L_ABLATIONS[ablation]
    model = tiny_model(**settings)
    names = {name.split(".")[0] for name, _ in model.named_parameters()}
    streams = [stream.name for stream in model.video_streams()]
    local = settings["num_key_frames"] > 0
    assert ("aligned_attention" in names) == settings["use_alignment"]
    assert ("aligned_embedding" in names) == settings["use_alignment"]
    assert ("region_attention" in names) == local and ("region_projection" in names) == local
    assert streams == (["clip_features", "region_features"] if local else ["clip_features"])
    visual_size = 8 + 8 + 8 * settings["use_alignment"] + 8 * local
    assert model.gru.input_size == visual_size + 8

    inputs = inputs_for(model)
    attentions = teacher_forced_attentions(model, inputs)
    assert (attentions.aligned is not None) == settings["use_alignment"]
    if not local:
        assert attentions.key_frames is None and attentions.regions is None
        # Region features are not read, so they are refused as any unknown input, as generate() refuses them.
        with pytest.raises(TypeError, match="unexpected keyword arguments region_features; its video inputs are "):
            model(**inputs, region_features=torch.randn(BATCH, 3, 4, 4), labels=torch.full((BATCH, 3), 5))
        return
    assert attentions.key_frames.shape[2] == settings["num_key_frames"]
    # Training draws: random with the Gumbel sampler, always the same without it.
    model.train()
    draws = [teacher_forced_attentions(model, inputs).key_frames.argmax(dim=-1) for _ in range(8)]
    varied = any(not torch.equal(draws[0], other) for other in draws[1:])
    assert varied == settings["use_gumbel"]


def test_local_branch_needs_alignment():
    with pytest.raises(ValueError, match="num_key_frames > 0.*use_alignment"):
        G2LConfig(use_alignment=False, num_key_frames=2)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_key_frames", 1.5, r"`num_key_frames` must be 0 \(no local branch\) or more, got 1.5"),
        ("num_key_frames", -1, r"`num_key_frames` must be 0 .* got -1"),
        ("region_frame_stride", 0, r"`region_frame_stride` must be a positive integer, got 0"),
        ("num_regions", 2.0, r"`num_regions` must be a positive integer, got 2.0"),
        ("num_hidden_layers", 0, r"`num_hidden_layers` must be a positive integer"),
    ],
)
def test_counts_of_the_config_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        G2LConfig(**{field: value})


# ---------------------------------------------------------------------------------------------- streams


def test_missing_or_misshapen_streams_raise_clear_errors():
    model = tiny_model()
    inputs = inputs_for(model)
    ids = torch.ones(BATCH, 1, dtype=torch.long)
    without_regions = {name: value for name, value in inputs.items() if name != "region_features"}
    with pytest.raises(ValueError, match="also reads `region_features`"):
        model(input_ids=ids, **without_regions)
    with pytest.raises(
        ValueError, match=r"`region_features` must have shape .*ceil\(num_frames / 3\).* = \(3, 3, 4, 4\)"
    ):
        model(input_ids=ids, **{**inputs, "region_features": inputs["region_features"][:, :2]})
    with pytest.raises(ValueError, match=r"`clip_features` must have shape .* = \(3, 7, 5\).*got \(3, 7, 4\)"):
        model.generate(**{**inputs, "clip_features": inputs["clip_features"][..., :4]}, max_new_tokens=2)
    with pytest.raises(ValueError, match="`clip_features` cannot be computed.*no `clip_vision_config`"):
        model = tiny_model(vision_config=ResNetConfig(embedding_size=4, hidden_sizes=[4], depths=[1]))
        model(input_ids=ids, pixel_values_videos=torch.zeros(BATCH, 2, 3, 16, 16))


def test_statistics_of_every_stream_standardize_it():
    model = tiny_model(standardize_video_features=True)
    inputs = inputs_for(model)
    model.set_video_feature_statistics(torch.full((5,), 2.0), torch.full((5,), 4.0), input_name="clip_features")
    standardized = model.get_video_inputs(**inputs)["clip_features"]
    mask = inputs["video_attention_mask"].bool()
    torch.testing.assert_close(standardized[mask], (inputs["clip_features"][mask] - 2) / 4)
    assert (standardized[~mask] == 0).all()
    with pytest.raises(ValueError, match="no input `motion_features`"):
        model.set_video_feature_statistics(torch.zeros(5), torch.ones(5), input_name="motion_features")


def test_pixels_give_all_three_streams():
    """Frames in, every stream computed: 2-D features from the image backbone, clip features from a video model over
    a window around each frame, and regions as a grid over the image backbone's map on the middle frame of each group."""
    model = tiny_model(
        vision_config=TINY_RESNET,
        clip_vision_config=TINY_VIDEOMAE,
    )
    assert (model.config.video_feature_size, model.config.clip_feature_size, model.config.region_feature_size) == (
        16,
        12,
        16,
    )
    pixels = torch.randn(2, 5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    frames_read = []
    hook = model.vision_model.backbone.register_forward_pre_hook(
        lambda module, args, kwargs: frames_read.append(len(kwargs["pixel_values"])), with_kwargs=True
    )
    streams = model.get_video_inputs(pixel_values_videos=pixels, video_attention_mask=mask)
    hook.remove()
    assert streams["region_features"].shape == (2, 2, 4, 16)
    # One 2-D backbone pass over the 9 real frames gives the frame features and the regions alike.
    assert sum(frames_read) == 9
    frames_only, _ = model.get_video_features(pixel_values_videos=pixels, video_attention_mask=mask)
    torch.testing.assert_close(streams["video_features"], frames_only)
    # The regions of that pass equal the backbone run on the region frames alone, and a padding step is zero.
    short = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    shared = model.get_video_inputs(pixel_values_videos=pixels, video_attention_mask=short)["region_features"]
    with torch.no_grad():
        alone = model.encode_pixel_streams(pixels, short, ["region_features"])["region_features"]
    torch.testing.assert_close(shared, alone)  # (no standardization in this config)
    assert not shared[1, 1].any() and shared[1, 0].any()
    with torch.no_grad():
        # Frame 0's clip is frames (0, 0) (the window starts one frame before, clamped); video 1's region step 1 reads
        # frame 4, past its 4 real frames: the last real frame, 3.
        clip = model.clip_model.backbone(pixel_values=pixels[0, [0, 0]][None]).last_hidden_state.mean(dim=1)
        torch.testing.assert_close(streams["clip_features"][0, 0], clip[0])
        feature_map = model.vision_model.backbone(pixel_values=pixels[1, 3][None]).last_hidden_state
        cells = torch.nn.functional.adaptive_avg_pool2d(feature_map, 2).flatten(2).transpose(1, 2)
        torch.testing.assert_close(streams["region_features"][1, 1], cells[0])
    assert (streams["clip_features"][1, 4] == 0).all()
    # Region features a user passes are used instead of the grid.
    own = torch.randn(2, 2, 4, 16)
    assert torch.equal(
        model.get_video_inputs(pixel_values_videos=pixels, video_attention_mask=mask, region_features=own)[
            "region_features"
        ],
        own,
    )
    ids = model.generate(pixel_values_videos=pixels, video_attention_mask=mask, num_beams=2, max_new_tokens=3)
    assert torch.equal(ids, model.generate(**streams, num_beams=2, max_new_tokens=3))
    # A float or bool mask a user builds selects the same frames (it indexes the clip windows and region frames).
    for other_mask in (mask.float(), mask.bool()):
        assert torch.equal(
            model.generate(pixel_values_videos=pixels, video_attention_mask=other_mask, num_beams=2, max_new_tokens=3),
            ids,
        )


# ---------------------------------------------------------------------------------------------- training schedule


def test_schedule_warms_up_linearly_then_decays_and_holds():
    model = tiny_model(vision_config=ResNetConfig(embedding_size=4, hidden_sizes=[4], depths=[1]))
    optimizer, scheduler = g2l_optimizer_and_scheduler(model, num_training_steps=300)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["weight_decay"] == 2e-5
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(id(p) in optimized for p in model.vision_model.parameters())  # frozen backbone
    rates = []
    for _ in range(300):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(1e-7)
    assert rates[15] == pytest.approx(1e-7 + (1e-4 - 1e-7) / 2)
    assert rates[30] == pytest.approx(1e-4)
    assert rates[130] == pytest.approx((1e-4 + 1e-6) / 2)
    assert rates[230] == pytest.approx(1e-6) and rates[299] == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="num_training_steps"):
        g2l_optimizer_and_scheduler(model, num_training_steps=0)


# ---------------------------------------------------------------------------------------------- attention you can see


def test_attention_plot_shows_the_key_frames_and_their_regions(tiny_clips):
    pytest.importorskip("matplotlib")
    from hf_vidcap import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor
    from hf_vidcap.visualization import caption_with_attention

    clip = tiny_clips["test"][0]
    processor = VideoCaptioningProcessor.from_captions(
        [caption for captions in tiny_clips["train"]["captions"] for caption in captions],
        feature_extractor=VideoCaptioningFeatureExtractor(num_frames=8, size=32),
    )
    model = tiny_model(
        vocab_size=len(processor.tokenizer),
        vision_config=TINY_RESNET,
        clip_vision_config=TINY_VIDEOMAE,
    )
    model.generation_config.min_new_tokens = 3
    result = caption_with_attention(model, processor, clip["video_path"], max_new_tokens=4)
    num_words, num_frames = len(result.words), len(result.frames)
    inputs = processor(videos=[clip["video_path"]], return_tensors="pt")
    ids = processor.tokenizer.convert_tokens_to_ids(result.words)
    forced = model(**inputs, input_ids=torch.tensor([[1, *ids[:-1]]]), output_attentions=True).attentions
    # The key frames are the middle frames (1, 4, 7 of 8) of the groups the sampler drew.
    middle_frames = torch.tensor([1, 4, 7])
    torch.testing.assert_close(result.selected_frames, middle_frames[forced.key_frames[0].argmax(dim=-1)])
    torch.testing.assert_close(result.temporal_attention, forced.aligned[0])
    assert result.spatial_attention.shape == (num_words, 2, 2, 2)
    torch.testing.assert_close(result.spatial_attention.flatten(2), forced.regions[0])
    plot = result.plot()
    assert plot.temporal_attention.shape == (num_words, num_frames)
    assert (plot.selected_frames == result.selected_frames.numpy()).all()


def test_attention_maps_mark_a_draw_that_selects_no_frame():
    """With 2 key frames and 3 frames, the regions are sampled on one frame only: the second draw selects none."""
    model = tiny_model(num_key_frames=2, vision_config=TINY_RESNET)
    pixels = torch.rand(1, 3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, 3, dtype=torch.long)
    clips = torch.rand(1, 3, model.config.clip_feature_size)
    attentions = model(
        pixel_values_videos=pixels,
        clip_features=clips,
        video_attention_mask=mask,
        input_ids=torch.tensor([[1, 5]]),
        output_attentions=True,
    ).attentions
    assert attentions.key_frames[0, :, 1].sum() == 0  # the empty draw
    _, key_frames, regions = model.attention_maps(attentions, mask)
    assert key_frames[0].tolist() == [[1, -1], [1, -1]]  # the middle frame of the only group, then none
    assert not regions[0, :, 1].any() and regions[0, :, 0].flatten(1).sum(-1).allclose(torch.ones(2))
