"""G2L: Global2Local, a joint-hierarchical attention for video captioning (Dai et al.).

Three time-aligned streams describe a video: 2-D frame features `f_i`, 3-D clip features `v_i` (one per frame) and
region features on one frame in every 3. At each word step, with the decoder's previous hidden state `h_{t-1}`:

1. *Joint clip-frame attention*: the projected streams `f'_i = σ(W_f f_i + b_f)`, `v'_i = σ(W_v v_i + b_v)` (Eq. 1)
   are attended with bilinear (Hadamard) attention `w^T tanh((W_ha h) ⊙ (W_va V_i) + b_a)` (Eqs. 2-3): separately
   (`a^2d`, `a^3d`) and, aligned, over `[f'_i, v'_i]` (`a^al`); the global embedding is
   `x_G = [Σ a^2d f', Σ a^3d v', φ(Σ a^al [f', v'])]` with the compact mapping `φ(x) = σ(W_al x + b_al)` (Eq. 4).
2. *Hierarchical frame-region attention*: the aligned weights, averaged over each group of 3 frames (Eq. 8), guide a
   Gumbel top-k sampler (Eqs. 5-6) that selects `k` key frames; a shared spatial attention over the projected region
   features of each selected frame (Eq. 7) gives the local embedding `x_L = Σ_j Σ_i a^l_{j,i} r'_{j,i}` (Eq. 9).
3. A 2-layer GRU reads `[x_G, x_L]` (Eq. 11) with the word embedding (Eq. 10) and predicts the next word (Eq. 12).

The switches `use_alignment`, `num_key_frames` and `use_gumbel` give the rows of the paper's ablation (Table 1); see
[`G2LConfig`] and `G2L_ABLATIONS`. [`g2l_optimizer_and_scheduler`] gives the paper's training schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedConfig
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.configuration_utils import SubConfigSpec
from transformers.models.auto import AutoConfig
from transformers.utils import ModelOutput

from .base import (
    RecurrentState,
    VideoCaptioningConfig,
    VideoCaptioningPreTrainedModel,
    VideoStream,
    to_batch_first,
    to_layer_first,
)
from .layers import (
    AdditiveAttention,
    ClipFeatureEncoder,
    check_positive_int,
    region_frame_indices,
    vision_feature_size,
)


G2L_ABLATIONS: dict[str, dict] = {
    "global_base": {"use_alignment": False, "num_key_frames": 0},
    "alignment": {"use_alignment": True, "num_key_frames": 0},
    "local_1f": {"use_alignment": True, "num_key_frames": 1, "use_gumbel": True},
    "local_2f": {"use_alignment": True, "num_key_frames": 2, "use_gumbel": True},
    "local_3f": {"use_alignment": True, "num_key_frames": 3, "use_gumbel": True},
    "local_2f_without_gumbel": {"use_alignment": True, "num_key_frames": 2, "use_gumbel": False},
}
"""The rows of the paper's ablation (Table 1) as config switches: `G2LConfig(**G2L_ABLATIONS["alignment"], ...)`."""


class G2LConfig(VideoCaptioningConfig):
    r"""
    Configuration of [`G2LForVideoCaptioning`]. Defaults are the paper's settings (MSR-VTT: Inception-V4 frame
    features, 3-D ResNeXt-101 clip features, 16 Faster R-CNN regions on one frame in 3, the "+ Local 2f" model).
    Shared fields are documented in [`VideoCaptioningConfig`]; `video_feature_size` is the size of the 2-D features.

    Args:
        clip_feature_size (`int`, *optional*, defaults to 2048):
            Size of the 3-D clip features `clip_features` (one per frame). Derived from `clip_vision_config`.
        region_feature_size (`int`, *optional*, defaults to 2048):
            Size of each region feature in `region_features`. With a `vision_config` the regions are the cells of a
            grid over the 2-D backbone's spatial map, and this is the backbone's channel count.
        num_regions (`int`, *optional*, defaults to 16):
            Regions per sampled frame (`N_o`). With a `vision_config`, a square number: the grid is
            `sqrt(num_regions)` cells a side.
        region_frame_stride (`int`, *optional*, defaults to 3):
            Region features are read on one frame in every `region_frame_stride` (the middle one): `region_features`
            has `ceil(num_frames / region_frame_stride)` steps.
        clip_vision_config (`dict` or [`PreTrainedConfig`], *optional*):
            Config of a transformers video model (VideoMAE, TimeSformer, ...) that computes `clip_features` from
            `pixel_values_videos`, over a window of `clip_num_frames` frames centred on every frame.
        clip_num_frames (`int`, *optional*):
            Frames per clip window; defaults to the video model's `num_frames`.
        projection_size (`int`, *optional*, defaults to 1024):
            Size every stream is projected to (Eqs. 1 and 7).
        aligned_embedding_size (`int`, *optional*, defaults to 512):
            Size of the compact mapping `φ` of the aligned attention's context (Eq. 4).
        attention_size (`int`, *optional*, defaults to 384):
            Size `d_a` of every bilinear attention (Eq. 3).
        word_embedding_size (`int`, *optional*, defaults to 300):
            Size of the word embedding.
        hidden_size (`int`, *optional*, defaults to 768):
            Hidden size of the GRU decoder.
        num_hidden_layers (`int`, *optional*, defaults to 2):
            Number of GRU layers.
        hidden_act (`str`, *optional*, defaults to `"relu"`):
            The activation `σ` of the projections and of `φ` (the paper does not name it).
        use_alignment (`bool`, *optional*, defaults to `True`):
            Whether the aligned attention over `[f', v']` and its compact mapping are part of the global embedding.
            `False` with `num_key_frames=0` is the paper's "Global base" row.
        num_key_frames (`int`, *optional*, defaults to 2):
            Key frames `k` the sampler selects for the local branch; 0 removes the local branch (no region input, no
            region parameters). Needs `use_alignment` (the aligned weights guide the selection).
        use_gumbel (`bool`, *optional*, defaults to `True`):
            Whether key frames are chosen by the Gumbel top-k sampler (stochastic in training, differentiable);
            `False` takes the `k` largest weights (argmax in turn, no gradient): the "w/o Gumbel" row.
        gumbel_scale (`float`, *optional*, defaults to 10.0):
            The scaling ratio `λ` of Eqs. 5-6.
        gumbel_temperature (`float`, *optional*, defaults to 1e-4):
            The softmax temperature `τ` of Eqs. 5-6.

    Example:

    ```python
    >>> from hf_vidcap import G2LConfig, G2LForVideoCaptioning
    >>> from hf_vidcap.modeling.g2l import G2L_ABLATIONS
    >>> model = G2LForVideoCaptioning(G2LConfig(vocab_size=5000))  # the full model, "+ Local 2f"
    >>> global_only = G2LForVideoCaptioning(G2LConfig(vocab_size=5000, **G2L_ABLATIONS["global_base"]))
    ```
    """

    model_type = "vidcap_g2l"
    sub_configs_defaults = {
        **VideoCaptioningConfig.sub_configs_defaults,
        "clip_vision_config": SubConfigSpec(config_class=AutoConfig, model_type="videomae", optional=True),
    }

    video_feature_size: int = 1536
    clip_feature_size: int = 2048
    region_feature_size: int = 2048
    num_regions: int = 16
    region_frame_stride: int = 3
    clip_vision_config: dict | PreTrainedConfig | None = None
    clip_num_frames: int | None = None
    projection_size: int = 1024
    aligned_embedding_size: int = 512
    attention_size: int = 384
    word_embedding_size: int = 300
    hidden_size: int = 768
    num_hidden_layers: int = 2
    hidden_act: str = "relu"
    use_alignment: bool = True
    num_key_frames: int = 2
    use_gumbel: bool = True
    gumbel_scale: float = 10.0
    gumbel_temperature: float = 1e-4

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if (
            isinstance(self.num_key_frames, bool)
            or not isinstance(self.num_key_frames, int)
            or self.num_key_frames < 0
        ):
            raise ValueError(f"`num_key_frames` must be 0 (no local branch) or more, got {self.num_key_frames!r}.")
        if self.num_key_frames and not self.use_alignment:
            raise ValueError(
                "`num_key_frames > 0` needs `use_alignment=True`: the aligned attention selects the key frames."
            )
        for name in ("num_regions", "region_frame_stride", "num_hidden_layers"):
            check_positive_int(name, getattr(self, name))
        if self.gumbel_scale <= 0 or self.gumbel_temperature <= 0:
            raise ValueError(
                f"`gumbel_scale` and `gumbel_temperature` must be positive, got {self.gumbel_scale} and "
                f"{self.gumbel_temperature}."
            )
        if self.vision_config is not None:
            if math.isqrt(self.num_regions) ** 2 != self.num_regions:
                raise ValueError(
                    f"With a `vision_config`, regions are the cells of a square grid: `num_regions` must be a square "
                    f"number, got {self.num_regions}."
                )
            self.region_feature_size = vision_feature_size(self.vision_config, "mean", 1)
        if self.clip_vision_config is not None:
            self.clip_feature_size = vision_feature_size(self.clip_vision_config, "mean", 1)


@dataclass
class G2LAttentions(ModelOutput):
    """
    The attention weights of [`G2LForVideoCaptioning`] at every word step (`output_attentions=True`).

    Args:
        frame (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_frames)`):
            The 2-D frame attention `a^2d` (Eq. 2).
        clip (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_frames)`):
            The 3-D clip attention `a^3d`.
        aligned (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_frames)`, *optional*):
            The aligned attention `a^al` over `[f', v']`, which guides the key-frame selection (with `use_alignment`).
        key_frames (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_key_frames, num_region_frames)`, *optional*):
            The sampler's (near) one-hot selections over the sparsely sampled frames, in the order drawn; a selection
            beyond a video's number of sampled frames is all zero. Sampled frame `j` is frame
            `min(j * region_frame_stride + region_frame_stride // 2, last real frame)` (with a local branch).
        regions (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_key_frames, num_regions)`, *optional*):
            The spatial attention `a^l` over the regions of each selected frame (Eq. 9) (with a local branch).
    """

    frame: torch.FloatTensor | None = None
    clip: torch.FloatTensor | None = None
    aligned: torch.FloatTensor | None = None
    key_frames: torch.FloatTensor | None = None
    regions: torch.FloatTensor | None = None


class BilinearAttention(AdditiveAttention):
    r"""Bilinear (Hadamard) attention of a query over a masked set of keys (Eqs. 2-3):
    $e_i = w^\top \tanh((W_{ha} h) \odot (W_{va} V_i) + b_a)$, softmax over the unmasked keys. Query and keys are
    multiplied where [`AdditiveAttention`] adds them; projecting keys once and masking are inherited.

    The key projection $W_{va} V_i$ depends on the video only and, being linear, commutes with mixing keys (the
    key-frame selection mixes projected keys directly).

    Args:
        query_size (`int`): size of the query `h`.
        key_size (`int`): size of each key `V_i`.
        attention_size (`int`): the size `d_a` of the space where query and keys are multiplied.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__(query_size, key_size, attention_size, key_bias=False)
        self.bias = nn.Parameter(torch.zeros(attention_size))

    def energy(self, query: torch.Tensor, projected_keys: torch.Tensor) -> torch.Tensor:
        """The score of every key, `(..., num_keys)`."""
        product = self.query_projection(query).unsqueeze(-2) * projected_keys
        return self.score(torch.tanh(product + self.bias)).squeeze(-1)


class GumbelTopKSampler(nn.Module):
    r"""Selects `k` items of a discrete distribution in turn, each an approximate one-hot vector (Eqs. 5-6).

    Draw `m` is $\pi^m = \mathrm{softmax}((\log(\lambda\pi^0 - \lambda\sum_{n<m}\pi^n) + g^m) / \tau)$ with
    $g^m \sim \mathrm{Gumbel}(0, 1)$: the earlier draws are subtracted from the scaled distribution, which suppresses
    them. Where the difference is not positive (an item already drawn) the logarithm's argument is floored at
    `1e-10`, so that item is not drawn again while others remain. At a low temperature each draw is a sample of the
    remaining distribution, near one-hot, and gradients flow through the softmax.

    In eval mode the draws are exact one-hot vectors of the `k` largest probabilities in order, ties going to the
    first (the noiseless limit `τ -> 0`; deterministic generation, a whole frame even where weights tie, as they do
    at the first word, when the attention is uniform). With `hard=True` that is also the training behaviour, without
    noise or gradient (the paper's "w/o Gumbel" ablation).

    Args:
        num_samples (`int`): `k`.
        scale (`float`, *optional*, defaults to 10.0): the scaling ratio `λ`.
        temperature (`float`, *optional*, defaults to 1e-4): the softmax temperature `τ`.
        hard (`bool`, *optional*, defaults to `False`): argmax selections instead of Gumbel-softmax samples.
    """

    floor = 1e-10

    def __init__(self, num_samples: int, scale: float = 10.0, temperature: float = 1e-4, hard: bool = False) -> None:
        super().__init__()
        self.num_samples = num_samples
        self.scale = scale
        self.temperature = temperature
        self.hard = hard

    def forward(self, probabilities: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """
        Args:
            probabilities (`torch.Tensor` of shape `(batch_size, n)`): the distribution `π^0` (need not sum to 1).
            mask (`torch.Tensor` of shape `(batch_size, n)`): 1 for the items that may be drawn; at least one per row.

        Returns:
            `torch.Tensor` of shape `(batch_size, num_samples, n)`: the draws, in order, in the input's dtype. A row
            with fewer than `num_samples` drawable items gets all-zero draws after it has drawn each of them once.
        """
        scaled = self.scale * probabilities.float()
        allowed = mask.bool()
        drawn = torch.zeros_like(scaled)
        draws = []
        for _ in range(self.num_samples):
            logits = (scaled - self.scale * drawn).clamp(min=self.floor).log().masked_fill(~allowed, float("-inf"))
            if self.hard or not self.training:
                draw = nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
            else:
                uniform = torch.rand_like(logits).clamp(min=torch.finfo(logits.dtype).tiny)
                draw = ((logits - torch.log(-torch.log(uniform))) / self.temperature).softmax(dim=-1)
            draws.append(draw)
            drawn = drawn + draw
        available = torch.arange(self.num_samples, device=mask.device) < allowed.sum(dim=-1, keepdim=True)
        return (torch.stack(draws, dim=1) * available[..., None]).to(probabilities.dtype)


class G2LForVideoCaptioning(VideoCaptioningPreTrainedModel):
    """G2L captioner; see [`VideoCaptioningPreTrainedModel.forward`] for the inputs. Besides `video_features` (2-D
    frame features) it reads `clip_features` `(batch_size, num_frames, clip_feature_size)` and, with a local branch,
    `region_features` `(batch_size, ceil(num_frames / region_frame_stride), num_regions, region_feature_size)`; with
    `pixel_values_videos` it computes them itself (clips with `clip_vision_config`'s video model, regions as a grid
    over the 2-D backbone's map), unless they are passed. With `output_attentions=True` it returns [`G2LAttentions`].
    """

    config_class = G2LConfig

    def __init__(self, config: G2LConfig) -> None:
        super().__init__(config)
        projection, attention, hidden = config.projection_size, config.attention_size, config.hidden_size
        self.activation = ACT2FN[config.hidden_act]
        self.clip_model = (
            ClipFeatureEncoder(
                config.clip_vision_config,
                clip_num_frames=config.clip_num_frames,
                freeze=config.freeze_vision_model,
                frame_chunk_size=config.frame_chunk_size,
            )
            if config.clip_vision_config is not None
            else None
        )
        self.frame_projection = nn.Linear(config.video_feature_size, projection)
        self.clip_projection = nn.Linear(config.clip_feature_size, projection)
        self.frame_attention = BilinearAttention(hidden, projection, attention)
        self.clip_attention = BilinearAttention(hidden, projection, attention)
        visual_size = 2 * projection
        if config.use_alignment:
            self.aligned_attention = BilinearAttention(hidden, 2 * projection, attention)
            self.aligned_embedding = nn.Linear(2 * projection, config.aligned_embedding_size)
            visual_size += config.aligned_embedding_size
        if config.num_key_frames:
            self.region_projection = nn.Linear(config.region_feature_size, projection)
            self.key_frame_sampler = GumbelTopKSampler(
                config.num_key_frames,
                scale=config.gumbel_scale,
                temperature=config.gumbel_temperature,
                hard=not config.use_gumbel,
            )
            self.region_attention = BilinearAttention(hidden, projection, attention)
            visual_size += projection
        self.word_embedding = nn.Embedding(
            config.vocab_size, config.word_embedding_size, padding_idx=config.pad_token_id
        )
        self.gru = nn.GRU(
            visual_size + config.word_embedding_size,
            hidden,
            num_layers=config.num_hidden_layers,
            dropout=config.dropout if config.num_hidden_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(hidden, config.vocab_size)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, BilinearAttention):
            init.zeros_(module.bias)

    # ------------------------------------------------------------------ inputs

    def video_streams(self) -> tuple[VideoStream, ...]:
        clips = VideoStream("clip_features", self.config.clip_feature_size)
        if not self.config.num_key_frames:
            return (clips,)
        regions = VideoStream(
            "region_features",
            self.config.region_feature_size,
            frame_stride=self.config.region_frame_stride,
            num_regions=self.config.num_regions,
        )
        return clips, regions

    def region_frame_indices(self, video_attention_mask: torch.Tensor) -> torch.Tensor:
        """`(batch_size, num_region_frames)`: the frame each region step reads, the middle of its group of
        `region_frame_stride` frames (the last real frame for a short last group)."""
        lengths = video_attention_mask.sum(dim=1)
        return region_frame_indices(lengths, video_attention_mask.shape[1], self.config.region_frame_stride)

    def encode_pixel_streams(
        self, pixel_values_videos: torch.Tensor, video_attention_mask: torch.Tensor, names: list[str]
    ) -> dict[str, torch.Tensor]:
        """Clip features from the video model over windows around every frame; region features as the
        `sqrt(num_regions)`-a-side grid of the 2-D backbone's spatial map on the middle frame of every group.

        Asked for with the frame features, the regions come from the same backbone pass over every real frame, as
        feature extraction takes them (a trainable backbone in training mode then normalizes its batches over every
        frame, not only the region frames)."""
        backbones = {"clip_features": "clip_vision_config", "region_features": "vision_config"}
        for name in names:
            if name in backbones and getattr(self.config, backbones[name]) is None:
                raise ValueError(
                    f"`{name}` cannot be computed from `pixel_values_videos`: the model has no `{backbones[name]}`. "
                    f"Pass `{name}` precomputed."
                )
        pixels = pixel_values_videos.to(self.dtype)
        streams = {}
        if "clip_features" in names:
            streams["clip_features"] = self.clip_model(pixels, video_attention_mask)
        if "region_features" in names:
            grid_size = math.isqrt(self.config.num_regions)
            steps = self.region_frame_indices(video_attention_mask)
            rows = torch.arange(len(steps), device=steps.device)[:, None]
            step_mask = self.video_streams()[1].step_mask(video_attention_mask)
            if "video_features" in names:
                streams["video_features"], regions = self.vision_model(
                    pixels, video_attention_mask, region_grid_size=grid_size, with_frame_features=True
                )
                streams["region_features"] = regions[rows, steps] * step_mask[:, :, None, None].to(regions.dtype)
            else:
                streams["region_features"] = self.vision_model(
                    pixels[rows, steps], step_mask, region_grid_size=grid_size
                )
        if rest := [name for name in names if name not in streams]:
            streams.update(super().encode_pixel_streams(pixel_values_videos, video_attention_mask, rest))
        return streams

    def attention_maps(
        self, attentions: G2LAttentions, video_attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The attentions as pictures show them (see [`hf_vidcap.visualization.plot_attention`]).

        Args:
            attentions ([`G2LAttentions`]): from a forward pass with `output_attentions=True`.
            video_attention_mask (`torch.Tensor` of shape `(batch_size, num_frames)`): the frame mask of that pass.

        Returns:
            `tuple`: the temporal attention `(batch_size, sequence_length, num_frames)` (the aligned one, or the 2-D
            one without alignment); the frame index of each key frame `(batch_size, sequence_length, k)`, -1 for a
            draw beyond the video's sampled frames, which selects none (or `None` without a local branch); and the
            spatial attention over each key frame's grid of regions `(batch_size, sequence_length, k, side, side)`, 0
            for a draw that selects none (or `None` when the regions are not the backbone's grid).
        """
        temporal = attentions.aligned if attentions.aligned is not None else attentions.frame
        if attentions.key_frames is None:
            return temporal, None, None
        drawn = attentions.key_frames.sum(dim=-1) > 0
        steps = attentions.key_frames.argmax(dim=-1)
        frame_of_step = self.region_frame_indices(video_attention_mask)
        key_frames = frame_of_step.gather(1, steps.flatten(1)).view_as(steps).masked_fill(~drawn, -1)
        if self.vision_model is None:
            return temporal, key_frames, None
        side = math.isqrt(self.config.num_regions)
        regions = attentions.regions.masked_fill(~drawn[..., None], 0)
        return temporal, key_frames, regions.unflatten(-1, (side, side))

    # ------------------------------------------------------------------ encoder and decoder

    def encode_video(
        self,
        video_features: torch.Tensor,
        video_attention_mask: torch.Tensor,
        clip_features: torch.Tensor,
        region_features: torch.Tensor | None = None,
    ) -> RecurrentState:
        """Project the streams (Eqs. 1 and 7) and their attention keys once per video; the GRU starts from zeros."""
        frames = self.activation(self.frame_projection(video_features))
        clips = self.activation(self.clip_projection(clip_features))
        aligned = self.dropout(torch.cat([frames, clips], dim=-1))
        frames, clips = aligned.split(self.config.projection_size, dim=-1)
        tensors = {
            "aligned": aligned,
            "frame_keys": self.frame_attention.project_keys(frames),
            "clip_keys": self.clip_attention.project_keys(clips),
            "frame_mask": video_attention_mask,
            "h": video_features.new_zeros(len(video_features), self.config.num_hidden_layers, self.config.hidden_size),
        }
        if self.config.use_alignment:
            tensors["aligned_keys"] = self.aligned_attention.project_keys(aligned)
        if self.config.num_key_frames:
            regions = self.dropout(self.activation(self.region_projection(region_features)))
            tensors["regions"] = regions
            tensors["region_keys"] = self.region_attention.project_keys(regions)
            tensors["region_mask"] = self.video_streams()[1].step_mask(video_attention_mask)
        return RecurrentState(**tensors)

    def attend(self, query: torch.Tensor, state: RecurrentState) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The visual input `x_t = [x_G, x_L]` of one word step (Eqs. 2-9) and the attention weights behind it."""
        aligned, mask = state["aligned"], state["frame_mask"]
        frames, clips = aligned.split(self.config.projection_size, dim=-1)
        frame_context, frame_weights = self.frame_attention(query, state["frame_keys"], frames, mask)
        clip_context, clip_weights = self.clip_attention(query, state["clip_keys"], clips, mask)
        parts, weights = [frame_context, clip_context], {"frame": frame_weights, "clip": clip_weights}
        if self.config.use_alignment:
            aligned_context, weights["aligned"] = self.aligned_attention(query, state["aligned_keys"], aligned, mask)
            parts.append(self.activation(self.aligned_embedding(aligned_context)))
        if self.config.num_key_frames:
            # Eq. 8: the aligned weights averaged over each group of frames, one per region step.
            stride, region_mask = self.config.region_frame_stride, state["region_mask"]
            grouped = nn.functional.pad(weights["aligned"], (0, region_mask.shape[1] * stride - mask.shape[1]))
            group_weights = grouped.view(*region_mask.shape, stride).sum(dim=-1) / stride
            selection = self.key_frame_sampler(group_weights, region_mask)
            # Each draw weights the region steps: the selected frame's (projected) regions and their keys.
            keys = torch.einsum("bkj,bjnd->bknd", selection, state["region_keys"])
            values = torch.einsum("bkj,bjnd->bknd", selection, state["regions"])
            region_context, weights["regions"] = self.region_attention(query[:, None], keys, values)
            parts.append(region_context.sum(dim=1))
            weights["key_frames"] = selection
        return torch.cat(parts, dim=-1), weights

    def decode(
        self, input_ids: torch.LongTensor, state: RecurrentState, output_attentions: bool = False
    ) -> tuple[torch.Tensor, RecurrentState, G2LAttentions | None]:
        """One attention and one GRU step per word (the attention reads the previous top hidden state); the word
        embedding and the output layer run once over all the words."""
        words = self.dropout(self.word_embedding(input_ids))
        h = to_layer_first(state["h"])
        outputs, step_weights = [], []
        for word in words.unbind(dim=1):
            visual, weights = self.attend(h[-1], state)
            output, h = self.gru(torch.cat([self.dropout(visual), word], dim=-1)[:, None], h)
            outputs.append(output)
            step_weights.append(weights)
        logits = self.lm_head(self.dropout(torch.cat(outputs, dim=1)))
        attentions = None
        if output_attentions:
            attentions = G2LAttentions(
                **{name: torch.stack([weights[name] for weights in step_weights], dim=1) for name in step_weights[0]}
            )
        return logits, state.update(input_ids.shape[1], h=to_batch_first(h)), attentions


def g2l_optimizer_and_scheduler(
    model: nn.Module,
    num_training_steps: int,
    learning_rate: float = 1e-4,
    initial_learning_rate: float = 1e-7,
    final_learning_rate: float = 1e-6,
    warmup_ratio: float = 0.1,
    final_ratio: float = 7 / 30,
    weight_decay: float = 2e-5,
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """The paper's training schedule: AdamW with decoupled weight decay 2e-5; the learning rate rises linearly from
    1e-7 to 1e-4 over the first 3 of 30 epochs, then falls linearly to 1e-6, reached when 7 epochs remain and held
    for them. Pass the result to `Trainer(optimizers=...)` (or step the scheduler once per optimizer step).

    Args:
        model (`nn.Module`): its trainable parameters (those with `requires_grad`) are optimized.
        num_training_steps (`int`): total optimizer steps.
        learning_rate (`float`, *optional*, defaults to 1e-4): the peak learning rate.
        initial_learning_rate (`float`, *optional*, defaults to 1e-7): the learning rate at step 0.
        final_learning_rate (`float`, *optional*, defaults to 1e-6): the learning rate at the end of the decay.
        warmup_ratio (`float`, *optional*, defaults to 0.1): share of the steps spent warming up (3 of 30 epochs).
        final_ratio (`float`, *optional*, defaults to 7/30): share of the steps, at the end, held at
            `final_learning_rate`.
        weight_decay (`float`, *optional*, defaults to 2e-5): AdamW's decoupled weight decay.

    Returns:
        `tuple(torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR)`: the optimizer and its scheduler.
    """
    if num_training_steps < 1:
        raise ValueError(f"`num_training_steps` must be at least 1, got {num_training_steps}.")
    if warmup_ratio < 0 or final_ratio < 0 or warmup_ratio + final_ratio > 1:
        raise ValueError(
            f"`warmup_ratio` and `final_ratio` must be non-negative and sum to at most 1, got {warmup_ratio} and "
            f"{final_ratio}."
        )
    warmup_end = warmup_ratio * num_training_steps
    decay_end = (1 - final_ratio) * num_training_steps
    start, end = initial_learning_rate / learning_rate, final_learning_rate / learning_rate

    def factor(step: int) -> float:
        if step < warmup_end:
            return start + (1 - start) * step / warmup_end
        if step < decay_end:
            return 1 + (end - 1) * (step - warmup_end) / (decay_end - warmup_end)
        return end

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=learning_rate, weight_decay=weight_decay
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
