"""The optional vision backbone inside a captioner: frames in, one feature vector per frame, frozen by default."""

import pytest
import torch
from transformers import ResNetConfig, ResNetModel, ViTConfig

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning


TINY_RESNET = dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")


def tiny_captioner(**overrides) -> S2VTForVideoCaptioning:
    torch.manual_seed(0)
    config = S2VTConfig(
        vocab_size=20,
        frame_embedding_size=8,
        word_embedding_size=8,
        hidden_size=12,
        vision_config=ResNetConfig(**TINY_RESNET),
        **overrides,
    )
    return S2VTForVideoCaptioning(config).eval()


def frames(batch_size=2, num_frames=4) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = torch.randn(batch_size, num_frames, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(batch_size, num_frames, dtype=torch.long)
    mask[1, 2:] = 0
    return pixels, mask


@pytest.mark.parametrize("pooling, grid, size", [("mean", 1, 16), ("pooler", 1, 16), ("grid", 2, 64)])
def test_feature_size_follows_backbone_and_pooling(pooling, grid, size):
    model = tiny_captioner(vision_feature_pooling=pooling, vision_feature_grid_size=grid)
    assert model.config.video_feature_size == size
    pixels, mask = frames()
    features = model.vision_model(pixels, mask)
    assert features.shape == (2, 4, size)
    assert not features[1, 2:].any(), "padding frames must not be encoded"


def test_pixels_give_the_same_captions_as_their_precomputed_features():
    model = tiny_captioner(vision_feature_pooling="grid", vision_feature_grid_size=2, frame_chunk_size=3)
    pixels, mask = frames()
    # Reference: the backbone run on each real frame alone.
    expected = torch.stack(
        [
            torch.stack(
                [
                    torch.nn.functional.adaptive_avg_pool2d(
                        model.vision_model.backbone(pixel_values=pixels[b, t : t + 1]).last_hidden_state, 2
                    ).flatten()
                    if mask[b, t]
                    else torch.zeros(64)
                    for t in range(4)
                ]
            )
            for b in range(2)
        ]
    )
    torch.testing.assert_close(model.vision_model(pixels, mask), expected, rtol=1e-4, atol=1e-5)
    from_pixels = model.generate(pixel_values_videos=pixels, video_attention_mask=mask, num_beams=3, max_new_tokens=5)
    from_features = model.generate(video_features=expected, video_attention_mask=mask, num_beams=3, max_new_tokens=5)
    assert torch.equal(from_pixels, from_features)


def test_frames_that_are_not_the_processors_are_named():
    model = tiny_captioner()
    pixels, mask = frames()
    with pytest.raises(
        ValueError, match=r"`pixel_values_videos` must be the normalized float frames .* got torch.uint8"
    ):
        model(pixel_values_videos=(pixels * 255).to(torch.uint8), video_attention_mask=mask, labels=mask[:, :2])
    channels_last = pixels.permute(0, 1, 3, 4, 2)  # as decoders give frames
    with pytest.raises(ValueError, match=r"must be \(batch_size, num_frames, 3, height, width\), got shape .* last"):
        model.generate(pixel_values_videos=channels_last, video_attention_mask=mask)


def test_frozen_backbone_gets_no_gradient_and_stays_in_eval_mode():
    model = tiny_captioner().train()
    assert not model.vision_model.backbone.training
    pixels, mask = frames()
    labels = torch.tensor([[5, 6, 2], [7, 2, -100]])
    model(pixel_values_videos=pixels, video_attention_mask=mask, labels=labels).loss.backward()
    assert all(p.grad is None for p in model.vision_model.parameters())
    assert model.lm_head.weight.grad is not None


@pytest.mark.parametrize("freeze", [True, False])
def test_a_reloaded_backbone_is_frozen_as_configured(tmp_path, freeze):
    """transformers' loading puts in new parameters, which require gradients: a frozen backbone must stay out of the
    trainable parameters (an optimizer or DDP would otherwise take them)."""
    model = tiny_captioner(freeze_vision_model=freeze)
    model.save_pretrained(tmp_path)
    reloaded = S2VTForVideoCaptioning.from_pretrained(tmp_path)
    assert all(p.requires_grad != freeze for p in reloaded.vision_model.parameters())
    assert reloaded.num_parameters(only_trainable=True) == model.num_parameters(only_trainable=True)
    reloaded.train()
    assert reloaded.vision_model.backbone.training != freeze


def test_trainable_backbone_gets_gradient():
    model = tiny_captioner(freeze_vision_model=False).train()
    pixels, mask = frames()
    model(pixel_values_videos=pixels, video_attention_mask=mask, labels=torch.tensor([[5, 2], [6, 2]])).loss.backward()
    assert any(p.grad is not None and p.grad.any() for p in model.vision_model.parameters())


def test_from_vision_pretrained_keeps_the_backbone_weights(tmp_path):
    torch.manual_seed(3)
    backbone = ResNetModel(ResNetConfig(**TINY_RESNET))
    backbone.save_pretrained(tmp_path / "backbone")
    model = S2VTForVideoCaptioning.from_vision_pretrained(str(tmp_path / "backbone"), vocab_size=20, hidden_size=12)
    for name, value in backbone.state_dict().items():
        torch.testing.assert_close(model.vision_model.backbone.state_dict()[name], value)
    model.save_pretrained(tmp_path / "captioner")
    reloaded = S2VTForVideoCaptioning.from_pretrained(tmp_path / "captioner")
    torch.testing.assert_close(
        reloaded.vision_model.backbone.embedder.embedder.convolution.weight,
        backbone.embedder.embedder.convolution.weight,
    )


def test_vit_backbone_with_cls_and_grid_pooling():
    vit = ViTConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=8
    )
    pixels, mask = frames()
    for pooling, grid, size in (("cls", 1, 16), ("grid", 2, 64), ("mean", 1, 16)):
        config = S2VTConfig(
            vocab_size=20,
            hidden_size=8,
            vision_config=vit,
            vision_feature_pooling=pooling,
            vision_feature_grid_size=grid,
        )
        model = S2VTForVideoCaptioning(config).eval()
        assert model.vision_model(pixels, mask).shape == (2, 4, size)
