"""Blocks shared by two or more captioning architectures.

Everything here is architecture-agnostic: a frame encoder that turns pixels into one feature vector per frame (or a
grid of region features) with any transformers vision model, a clip encoder that runs any transformers video model
over a window around every frame (3-D features time-aligned with the frames), additive attention over a masked set
(frames in time, regions in space) with the masked softmax every attention form ends with, and small tensor helpers
over padded frame sequences. An architecture-specific block lives in that architecture's own file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from functools import partial
from numbers import Integral
from typing import Any, Literal, get_args

import torch
from torch import nn
from transformers import AutoModel, PreTrainedConfig, PreTrainedModel


VisionFeaturePooling = Literal["mean", "cls", "pooler", "grid"]


def region_frame_indices(lengths: torch.Tensor, num_frames: int, stride: int) -> torch.Tensor:
    """The frame each region step reads when regions are taken on one frame in every `stride`: the middle frame of
    each group of `stride` frames, or the last real frame of a video whose last group is short.

    Args:
        lengths (`torch.Tensor` of shape `(batch_size,)`): real frames per video.
        num_frames (`int`): padded number of frames.
        stride (`int`): frames per group.

    Returns:
        `torch.LongTensor` of shape `(batch_size, ceil(num_frames / stride))`.
    """
    middle = torch.arange(math.ceil(num_frames / stride), device=lengths.device) * stride + stride // 2
    return torch.minimum(middle[None], lengths[:, None] - 1)


def masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the frame axis, counting only the frames the mask marks as real.

    Args:
        features (`torch.Tensor` of shape `(batch_size, num_frames, feature_size)`): frame features.
        mask (`torch.Tensor` of shape `(batch_size, num_frames)`): 1 for real frames, 0 for padding.

    Returns:
        `torch.Tensor` of shape `(batch_size, feature_size)`.
    """
    weights = mask.to(features.dtype).unsqueeze(-1)
    return (features * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def check_positive_int(name: str, value: Any) -> None:
    """Raise a `ValueError` naming `name` unless `value` is an integer of at least 1 (a count, a size)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


def check_vision_pooling(pooling: str, grid_size: int, prefix: str = "") -> None:
    """Raise a `ValueError` naming `{prefix}pooling` or `{prefix}grid_size` if the frame pooling is not one of
    [`VisionFeaturePooling`] or the grid side is not a positive integer."""
    if pooling not in get_args(VisionFeaturePooling):
        raise ValueError(f"`{prefix}pooling` must be one of {get_args(VisionFeaturePooling)}, got {pooling!r}.")
    check_positive_int(f"{prefix}grid_size", grid_size)
    if pooling == "grid" and grid_size == 1:  # the default grid size: a layout that was asked for would be lost
        raise ValueError(
            f"`{prefix}pooling='grid'` with `{prefix}grid_size=1` is one cell, the 'mean' pooling: give a grid side of "
            "2 or more to keep a coarse spatial layout, or pool by 'mean'."
        )


def vision_feature_size(vision_config: PreTrainedConfig, pooling: VisionFeaturePooling, grid_size: int) -> int:
    """The length of the per-frame feature vector a [`FrameFeatureEncoder`] produces.

    Args:
        vision_config ([`PreTrainedConfig`]): the config of the vision backbone.
        pooling (`str`): how the backbone output is reduced to one vector per frame.
        grid_size (`int`): side of the spatial grid kept by `pooling="grid"`.

    Returns:
        `int`: the feature size.
    """
    check_vision_pooling(pooling, grid_size)
    hidden_sizes = getattr(vision_config, "hidden_sizes", None)
    channels = hidden_sizes[-1] if hidden_sizes else getattr(vision_config, "hidden_size", None)
    if channels is None:
        raise ValueError(
            f"Cannot tell the output size of a {type(vision_config).__name__} backbone: it has neither `hidden_sizes` "
            "nor `hidden_size`. Extract features yourself and pass `video_features`."
        )
    return channels * grid_size**2 if pooling == "grid" else channels


def load_pretrained_backbone(name_or_path: str | os.PathLike) -> PreTrainedModel:
    """`AutoModel.from_pretrained(name_or_path)`, with an error that names the backbone when it cannot be loaded.

    Raises:
        `ValueError`: if `name_or_path` is neither a folder nor a Hub id (reachable or cached) of a transformers model.
    """
    try:
        return AutoModel.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"Backbone {os.fspath(name_or_path)!r} is neither a local folder holding a transformers model (config.json "
            f"and weights) nor a model id available offline: {str(error).splitlines()[0]}"
        ) from error


class FrameFeatureEncoder(nn.Module):
    """Runs a transformers vision model over every real frame of a batch of videos, in chunks.

    A frozen backbone (the default) stays in eval mode, its parameters require no gradient (so optimizers and DDP
    leave them out) and it runs without gradients, whatever mode the captioner is in.

    Args:
        vision_config ([`PreTrainedConfig`]): config of any transformers vision model (ResNet, ConvNeXt, ViT, ...).
        pooling (`str`): `"mean"` averages the spatial map (or the patch tokens), `"cls"` takes the first token,
            `"pooler"` takes the backbone's `pooler_output`, `"grid"` average-pools a CNN map (or square patch grid)
            to `grid_size x grid_size` cells and concatenates them, keeping coarse spatial layout.
        grid_size (`int`): side of the grid for `pooling="grid"`.
        freeze (`bool`): whether the backbone is frozen.
        frame_chunk_size (`int`): how many frames go through the backbone at once.
    """

    def __init__(
        self,
        vision_config: PreTrainedConfig,
        pooling: VisionFeaturePooling = "mean",
        grid_size: int = 1,
        freeze: bool = True,
        frame_chunk_size: int = 64,
    ) -> None:
        super().__init__()
        self.backbone = AutoModel.from_config(vision_config)
        self.pooling = pooling
        self.grid_size = grid_size
        self.freeze = freeze
        self.frame_chunk_size = frame_chunk_size
        self.output_size = vision_feature_size(vision_config, pooling, grid_size)
        self.train(self.training)

    def train(self, mode: bool = True) -> FrameFeatureEncoder:
        super().train(mode)
        if self.freeze:
            # Frozen again at every mode switch: loading weights (`from_pretrained`, which ends with `eval()`) puts
            # new parameters in, which require gradients.
            self.backbone.requires_grad_(False)
            self.backbone.eval()
        return self

    def _grid(self, output, grid_size: int) -> torch.Tensor:
        """`(frames, channels, grid_size, grid_size)`: the spatial map (a CNN map, or the square grid of patch tokens
        after the first token) average-pooled to `grid_size x grid_size` cells."""
        hidden = output.last_hidden_state
        if hidden.dim() == 3:
            patches = hidden[:, 1:]
            side = int(patches.shape[1] ** 0.5)
            if side * side != patches.shape[1]:
                raise ValueError(f"A spatial grid needs a square patch grid, got {patches.shape[1]} patch tokens.")
            hidden = patches.transpose(1, 2).reshape(hidden.shape[0], -1, side, side)
        return nn.functional.adaptive_avg_pool2d(hidden, grid_size)

    def _pool(self, output) -> torch.Tensor:
        if self.pooling == "pooler":
            return output.pooler_output.flatten(1)
        if self.pooling == "grid":
            return self._grid(output, self.grid_size).flatten(1)
        hidden = output.last_hidden_state
        if hidden.dim() == 3:  # tokens (batch, tokens, channels)
            return hidden[:, 0] if self.pooling == "cls" else hidden.mean(dim=1)
        if self.pooling == "mean":
            return hidden.mean(dim=(2, 3))
        raise ValueError(f"pooling={self.pooling!r} is not available for a backbone with a spatial feature map.")

    def _encode(
        self, chunks: Iterable[torch.Tensor], *poolings: Callable[[Any], torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        """Each of `poolings` of the backbone output of every chunk of backbone inputs, concatenated over the chunks
        (without gradient if frozen): one backbone pass serves every pooling."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            pooled = []
            for chunk in chunks:  # pooled as it comes, so that one chunk's backbone output is held at a time
                output = self.backbone(pixel_values=chunk)
                pooled.append([pool(output) for pool in poolings])
            return tuple(torch.cat(per_chunk) for per_chunk in zip(*pooled))

    def _regions(self, output, region_grid_size: int) -> torch.Tensor:
        """`(frames, region_grid_size**2, channels)`: the cells of the spatial map, in row-major order."""
        return self._grid(output, region_grid_size).flatten(2).transpose(1, 2)

    def forward(
        self,
        pixel_values_videos: torch.Tensor,
        video_attention_mask: torch.Tensor,
        region_grid_size: int | None = None,
        with_frame_features: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Encode the real frames; padding frames get zero features.

        Args:
            pixel_values_videos (`torch.Tensor` of shape `(batch_size, num_frames, channels, height, width)`).
            video_attention_mask (`torch.Tensor` of shape `(batch_size, num_frames)`).
            region_grid_size (`int`, *optional*):
                If given, each frame gives the cells of its spatial map average-pooled to a
                `region_grid_size x region_grid_size` grid, as region features, instead of one pooled vector.
            with_frame_features (`bool`, *optional*, defaults to `False`):
                With `region_grid_size`, return the pooled features as well, from the same backbone pass.

        Returns:
            `torch.Tensor` of shape `(batch_size, num_frames, output_size)`; with `region_grid_size`,
            `(batch_size, num_frames, region_grid_size**2, channels)` (cells in row-major order), after the pooled
            features if `with_frame_features`.
        """
        if region_grid_size is None:
            return self._encode_real_frames(pixel_values_videos, video_attention_mask, self._pool)[0]
        regions = partial(self._regions, region_grid_size=region_grid_size)
        if with_frame_features:
            return self._encode_real_frames(pixel_values_videos, video_attention_mask, self._pool, regions)
        return self._encode_real_frames(pixel_values_videos, video_attention_mask, regions)[0]

    def _encode_real_frames(
        self,
        pixel_values_videos: torch.Tensor,
        video_attention_mask: torch.Tensor,
        *poolings: Callable[[Any], torch.Tensor],
    ) -> tuple[torch.Tensor, ...]:
        real = video_attention_mask.bool()
        # A chunk of real frames is gathered at a time, not all of them at once: a copy of every frame would double
        # the memory of a long clip sampled densely.
        frames = pixel_values_videos.flatten(0, 1)
        chunks = (frames[index] for index in real.flatten().nonzero().squeeze(1).split(self.frame_chunk_size))
        return tuple(scatter_real_frames(encoded, real) for encoded in self._encode(chunks, *poolings))


class ClipFeatureEncoder(FrameFeatureEncoder):
    """Runs a transformers video model (VideoMAE, TimeSformer, ViViT, ...) over a window of frames centred on every
    real frame, giving 3-D clip features time-aligned with the frames: one clip feature per frame.

    The window of frame `i` holds the `clip_num_frames` frames from `i - clip_num_frames // 2` on, clamped to the
    video's real frames (the first and last frames repeat at the edges).

    Args:
        video_config ([`PreTrainedConfig`]): config of any transformers video model taking `pixel_values` of shape
            `(batch_size, frames, channels, height, width)`.
        pooling (`str`): `"mean"` averages the output tokens, `"cls"` takes the first one, `"pooler"` the
            `pooler_output`.
        clip_num_frames (`int`, *optional*): frames per window; defaults to the model's `num_frames`.
        freeze (`bool`): whether the backbone is frozen.
        frame_chunk_size (`int`): how many windows go through the backbone at once.
    """

    def __init__(
        self,
        video_config: PreTrainedConfig,
        pooling: VisionFeaturePooling = "mean",
        clip_num_frames: int | None = None,
        freeze: bool = True,
        frame_chunk_size: int = 8,
    ) -> None:
        super().__init__(video_config, pooling=pooling, freeze=freeze, frame_chunk_size=frame_chunk_size)
        self.clip_num_frames = clip_num_frames or video_config.num_frames

    def forward(self, pixel_values_videos: torch.Tensor, video_attention_mask: torch.Tensor) -> torch.Tensor:
        """Encode the window around every real frame; padding frames get zero features.

        Args:
            pixel_values_videos (`torch.Tensor` of shape `(batch_size, num_frames, channels, height, width)`).
            video_attention_mask (`torch.Tensor` of shape `(batch_size, num_frames)`).

        Returns:
            `torch.Tensor` of shape `(batch_size, num_frames, output_size)`.
        """
        batch_size, num_frames = pixel_values_videos.shape[:2]
        device = pixel_values_videos.device
        last_frame = video_attention_mask.sum(dim=1).to(device) - 1
        offsets = torch.arange(self.clip_num_frames, device=device) - self.clip_num_frames // 2
        windows = (torch.arange(num_frames, device=device)[:, None] + offsets).clamp(min=0)
        windows = torch.minimum(windows[None], last_frame[:, None, None])
        real = video_attention_mask.bool().to(device)
        frame_index = (torch.arange(batch_size, device=device)[:, None, None] * num_frames + windows)[real]
        frames = pixel_values_videos.flatten(0, 1)
        (encoded,) = self._encode((frames[index] for index in frame_index.split(self.frame_chunk_size)), self._pool)
        return scatter_real_frames(encoded, real)


def scatter_real_frames(encoded: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Put per-real-frame outputs `(num_real_frames, ...)` back at their places in `(batch_size, num_frames, ...)`,
    with zeros for the padding frames (`real`: boolean `(batch_size, num_frames)`)."""
    padded = encoded.new_zeros(*real.shape, *encoded.shape[1:])
    padded[real] = encoded
    return padded


class AdditiveAttention(nn.Module):
    r"""Additive (Bahdanau) attention of a query over a masked set of keys: frames in time, or regions in space.

    $e_i = w^\top \tanh(W_q q + U k_i + b)$, $\alpha = \mathrm{softmax}(e)$ over the unmasked keys (masked keys get
    weight exactly 0), and the context is $\sum_i \alpha_i v_i$. The key projection $U k_i + b$ depends on the video
    only, so a decoder computes it once with [`~AdditiveAttention.project_keys`] and reuses it at every word step.

    Any leading dimensions are allowed, as long as query, keys, values and mask agree on them.

    Another way of combining query and keys (e.g. G2L's bilinear attention) subclasses this one and overrides
    [`~AdditiveAttention.energy`].

    Args:
        query_size (`int`): size of the query (e.g. the decoder's previous hidden state).
        key_size (`int`): size of each key (e.g. one frame's features).
        attention_size (`int`): size of the space in which query and keys are added.
        key_bias (`bool`, *optional*, defaults to `True`): whether the key projection has the bias `b`.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int, key_bias: bool = True) -> None:
        super().__init__()
        self.key_projection = nn.Linear(key_size, attention_size, bias=key_bias)
        self.query_projection = nn.Linear(query_size, attention_size, bias=False)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """`(..., num_keys, key_size)` -> `(..., num_keys, attention_size)`: the query-independent half."""
        return self.key_projection(keys)

    def forward(
        self, query: torch.Tensor, projected_keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend once.

        Args:
            query (`torch.Tensor` of shape `(..., query_size)`).
            projected_keys (`torch.Tensor` of shape `(..., num_keys, attention_size)`): from `project_keys`.
            values (`torch.Tensor` of shape `(..., num_keys, value_size)`): what the context averages (often the keys).
            mask (`torch.Tensor` of shape `(..., num_keys)`, *optional*): 1 for keys to attend to, 0 for padding.
                Every row needs at least one 1. Without it, every key is attended to.

        Returns:
            `tuple(torch.Tensor, torch.Tensor)`: the context `(..., value_size)` and the weights `(..., num_keys)`,
            which sum to 1 over the unmasked keys.
        """
        return attend(self.energy(query, projected_keys), values, mask)

    def energy(self, query: torch.Tensor, projected_keys: torch.Tensor) -> torch.Tensor:
        """The score of every key, `(..., num_keys)`: $w^\top \tanh(W_q q + U k_i + b)$."""
        return self.score(torch.tanh(projected_keys + self.query_projection(query).unsqueeze(-2))).squeeze(-1)


def attend(
    energy: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax of attention energies over the unmasked keys (masked keys get weight exactly 0) and the weighted sum of
    the values: the common end of every attention form.

    Args:
        energy (`torch.Tensor` of shape `(..., num_keys)`): one score per key.
        values (`torch.Tensor` of shape `(..., num_keys, value_size)`): what the context averages.
        mask (`torch.Tensor` of shape `(..., num_keys)`, *optional*): 1 for keys to attend to, 0 for padding; every
            row needs a 1. Without it, every key is attended to.

    Returns:
        `tuple(torch.Tensor, torch.Tensor)`: the context `(..., value_size)` and the weights `(..., num_keys)`.
    """
    if mask is not None:
        energy = energy.masked_fill(~mask.bool(), float("-inf"))
    weights = energy.softmax(dim=-1)
    context = (weights.unsqueeze(-2) @ values).squeeze(-2)
    return context, weights
