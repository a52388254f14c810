"""What every captioning architecture shares: the config fields, the recurrent state generate() carries, the output
class, and the pretrained base class that validates video inputs, runs an optional vision backbone, computes the loss
and plugs the model into `generate()`.

An architecture subclasses [`VideoCaptioningConfig`] and [`VideoCaptioningPreTrainedModel`] and implements two
methods: `encode_video` (frame features -> initial [`RecurrentState`]) and `decode` (token ids + state -> logits +
new state). Teacher-forced training, cached step-by-step generation, beam search and the loss then come for free.
An architecture that reads more than one stream of video features (3-D clip features, region features, ...) declares
them as [`VideoStream`]s; the base class validates, standardizes and carries them like the frame features.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from transformers import GenerationConfig, GenerationMixin, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.configuration_utils import SubConfigSpec
from transformers.models.auto import AutoConfig
from transformers.utils import ModelOutput

from .layers import (
    FrameFeatureEncoder,
    VisionFeaturePooling,
    check_positive_int,
    check_vision_pooling,
    load_pretrained_backbone,
    vision_feature_size,
)


class VideoCaptioningConfig(PreTrainedConfig):
    r"""
    Fields every captioning architecture shares. Architectures subclass it and add their own sizes.

    Args:
        vocab_size (`int`, *optional*, defaults to 10000):
            Size of the word vocabulary (the tokenizer's `len()`).
        video_feature_size (`int`, *optional*, defaults to 2048):
            Length of one frame's feature vector. With a `vision_config` it is derived from the backbone.
        vision_config (`dict` or [`PreTrainedConfig`], *optional*):
            Config of a transformers vision model that turns frames into features inside the captioner, so that
            `pixel_values_videos` can be passed instead of `video_features`.
        vision_feature_pooling (`str`, *optional*, defaults to `"mean"`):
            How the backbone output becomes one vector per frame: `"mean"`, `"cls"`, `"pooler"` or `"grid"`.
        vision_feature_grid_size (`int`, *optional*, defaults to 1):
            Side of the spatial grid kept per frame with `vision_feature_pooling="grid"`.
        freeze_vision_model (`bool`, *optional*, defaults to `True`):
            Whether the vision backbone is frozen.
        frame_chunk_size (`int`, *optional*, defaults to 64):
            How many frames go through the vision backbone at once.
        standardize_video_features (`bool`, *optional*, defaults to `False`):
            Whether frame features are standardized per dimension, `(x - mean) / std`, with statistics of the
            training set set by [`~VideoCaptioningPreTrainedModel.set_video_feature_statistics`] and saved with the
            weights. Frozen backbones (random ones above all) give features whose informative variation is small
            beside large constant offsets; standardizing makes it visible to the captioner from the first step.
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout probability applied by the architecture.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initializer of linear and embedding weights.
        max_caption_length (`int`, *optional*, defaults to 30):
            Default maximum number of generated words: the generation config's `max_length` is made one more (for
            `<bos>`) when the model is made or loaded with it. `max_new_tokens` or `max_length` given to `generate()`
            win over it; a loaded model's `generation_config.max_length` can be changed too.
        pad_token_id (`int`, *optional*, defaults to 0), bos_token_id (`int`, *optional*, defaults to 1),
        eos_token_id (`int`, *optional*, defaults to 2):
            Special token ids of the word-level tokenizer.
    """

    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="resnet", optional=True)
    }
    # Saving writes the code files next to the weights, so the folder loads with `trust_remote_code=True`.
    _auto_class: ClassVar[str | None] = "AutoConfig"

    vocab_size: int = 10000
    video_feature_size: int = 2048
    vision_config: dict | PreTrainedConfig | None = None
    vision_feature_pooling: VisionFeaturePooling = "mean"
    vision_feature_grid_size: int = 1
    freeze_vision_model: bool = True
    frame_chunk_size: int = 64
    standardize_video_features: bool = False
    dropout: float = 0.0
    initializer_range: float = 0.02
    max_caption_length: int = 30
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_positive_int("vocab_size", self.vocab_size)
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            token_id = getattr(self, name)
            if token_id is None and name == "eos_token_id":
                continue
            if isinstance(token_id, bool) or not isinstance(token_id, int):
                raise ValueError(
                    f"`{name}` must be a token id (the tokenizer's `<{name.split('_')[0]}>`), got {token_id!r}: "
                    "captions are padded with `<pad>`, decoded from `<bos>` and end at `<eos>`."
                )
            if not 0 <= token_id < self.vocab_size:
                raise ValueError(f"`{name}` is {token_id}, outside the vocabulary of `vocab_size={self.vocab_size}`.")
        check_vision_pooling(self.vision_feature_pooling, self.vision_feature_grid_size, prefix="vision_feature_")
        if self.vision_config is not None:
            self.video_feature_size = vision_feature_size(
                self.vision_config, self.vision_feature_pooling, self.vision_feature_grid_size
            )
        # Every size of every architecture (the fields named `*_size`), and the caption length, count something.
        for name in [field.name for field in dataclasses.fields(self) if field.name.endswith("_size")]:
            check_positive_int(name, getattr(self, name))
        check_positive_int("max_caption_length", self.max_caption_length)

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> VideoCaptioningConfig:
        """As [`PreTrainedConfig.from_dict`], with the fields given as keyword arguments (`from_pretrained(folder,
        max_caption_length=...)`) made part of the config before its checks run, not set after them. A sub-config
        given as a `dict` still updates the saved one."""
        sub_configs = getattr(cls, "sub_configs_defaults", {})
        fields = {field.name for field in dataclasses.fields(cls)} - set(sub_configs)
        overrides = {name: kwargs.pop(name) for name in list(kwargs) if name in fields}
        return super().from_dict({**config_dict, **overrides}, **kwargs)


@dataclass(frozen=True)
class VideoStream:
    """An extra stream of precomputed video features an architecture reads beside `video_features`, time-aligned with
    the frames and masked by the same `video_attention_mask`. Its name is a keyword argument of `forward()` and
    `generate()`.

    Step `j` of the stream covers frames `j * frame_stride` to `(j + 1) * frame_stride - 1` and is real when the first
    of them is: a stream with `frame_stride=1` has one step per frame, one with `frame_stride=3` one step per 3 frames
    (`ceil(num_frames / 3)` steps).

    A new model trained on a dataset of features (`hf_vidcap.training.load_or_build_captioner`) takes the sizes of the
    stream from the dataset's column of the same name, into the config fields `<prefix>_feature_size` (e.g.
    `clip_feature_size` for `clip_features`) and, for regions, `num_regions`.

    Args:
        name (`str`): the input name, ending with `_features` (e.g. `"clip_features"`).
        feature_size (`int`): length of the last axis.
        frame_stride (`int`, *optional*, defaults to 1): frames per step.
        num_regions (`int`, *optional*): if given, every step holds this many feature vectors (regions of a frame),
            an axis before the features.
    """

    name: str
    feature_size: int
    frame_stride: int = 1
    num_regions: int | None = None

    def shape(self, batch_size: int, num_frames: int) -> tuple[int, ...]:
        """The padded shape of the stream for `batch_size` videos of `num_frames` frames."""
        regions = () if self.num_regions is None else (self.num_regions,)
        return (batch_size, math.ceil(num_frames / self.frame_stride), *regions, self.feature_size)

    @property
    def layout(self) -> str:
        steps = "num_frames" if self.frame_stride == 1 else f"ceil(num_frames / {self.frame_stride})"
        regions = "" if self.num_regions is None else " num_regions,"
        return f"(batch_size, {steps},{regions} feature_size)"

    def step_mask(self, video_attention_mask: torch.Tensor) -> torch.Tensor:
        """`(batch_size, num_steps)`: 1 for the steps whose first frame is real."""
        return video_attention_mask[:, :: self.frame_stride]

    @property
    def statistics_names(self) -> tuple[str, str]:
        """Names of the standardization buffers (`config.standardize_video_features`) of this stream."""
        prefix = self.name.removesuffix("_features")
        return f"{prefix}_feature_mean", f"{prefix}_feature_std"


class RecurrentState:
    """The recurrent state carried between generation steps, in a form beam search can reorder.

    Every tensor is batch-first, so `reorder_cache` selects rows of all of them along dimension 0. The state also
    holds whatever the decoder needs from the encoded video (for example projected frame features for attention).

    Args:
        seen_tokens (`int`): how many word tokens the decoder has consumed.
        **tensors (`torch.Tensor`): named batch-first tensors.
    """

    is_compileable = False
    is_croppable = False

    def __init__(self, seen_tokens: int = 0, **tensors: torch.Tensor) -> None:
        self.seen_tokens = seen_tokens
        self.tensors = tensors

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def update(self, num_new_tokens: int, **tensors: torch.Tensor) -> RecurrentState:
        """A new state with `tensors` replaced and `num_new_tokens` more tokens seen (this one is left unchanged)."""
        return RecurrentState(self.seen_tokens + num_new_tokens, **{**self.tensors, **tensors})

    def repeat_interleave(self, repeats: int) -> RecurrentState:
        """A new state whose every row is repeated `repeats` times in place (rows `0, 0, ..., 1, 1, ...`), as
        `generate()` lays out beams and returned sequences."""
        tensors = {name: tensor.repeat_interleave(repeats, dim=0) for name, tensor in self.tensors.items()}
        return RecurrentState(self.seen_tokens, **tensors)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Keep the rows `beam_idx` picks, in place (called by beam search after every step)."""
        for name, tensor in self.tensors.items():
            self.tensors[name] = tensor.index_select(0, beam_idx.to(tensor.device))

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    @property
    def batch_size(self) -> int:
        return next(iter(self.tensors.values())).shape[0]


def _expand_step_mask(step_mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A `(batch_size, num_steps)` mask as booleans, with trailing axes of size 1 to broadcast over `values`."""
    return step_mask.bool().view(*step_mask.shape, *[1] * (values.dim() - 2))


def _check_finite(name: str, values: torch.Tensor, step_mask: torch.Tensor) -> None:
    """Raise a `ValueError` naming `name` and the videos if a real step (`step_mask` 1) of `values` holds NaN or
    infinity: they would silently give empty captions. Padding may hold anything."""
    finite = torch.isfinite(values).flatten(2).all(dim=2) | ~step_mask.bool()
    if not finite.all():
        videos = (~finite).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(f"`{name}` holds NaN or infinite values in the real frames of videos {videos} of the batch.")


def to_layer_first(state: torch.Tensor) -> torch.Tensor:
    """`(batch, layers, hidden)` as kept in a [`RecurrentState`] -> `(layers, batch, hidden)` as `nn.LSTM` wants."""
    return state.transpose(0, 1).contiguous()


def to_batch_first(state: torch.Tensor) -> torch.Tensor:
    """`(layers, batch, hidden)` from `nn.LSTM`/`nn.GRU` -> `(batch, layers, hidden)` for a [`RecurrentState`]."""
    return state.transpose(0, 1)


@dataclass
class VideoCaptioningOutput(ModelOutput):
    """
    Output of every captioning model.

    Args:
        loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `labels` are given):
            Mean cross-entropy of the caption tokens (or their sum over `num_items_in_batch`).
        logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, vocab_size)`):
            Next-word scores for every input position.
        past_key_values ([`RecurrentState`], *optional*, returned when `use_cache=True`):
            The recurrent state after the last input token; pass it back to continue decoding.
        attentions (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_frames)`, *optional*):
            Attention weights over the frames at every word step, for architectures that attend
            (returned when `output_attentions=True`). Architectures with several attentions return a [`ModelOutput`]
            of them instead (e.g. [`G2LAttentions`]).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    past_key_values: RecurrentState | None = None
    attentions: torch.FloatTensor | ModelOutput | None = None


class VideoCaptioningPreTrainedModel(PreTrainedModel, GenerationMixin):
    """Base class of every captioning architecture.

    Subclasses set `config_class` and implement:

    - `encode_video(video_features, video_attention_mask, **streams) -> RecurrentState`: read the (validated, padded)
      frame features, and the extra streams the architecture declares, and return the state the decoder starts from;
    - `decode(input_ids, state, output_attentions) -> (logits, state, attentions)`: consume a whole sequence of word ids
      (teacher forcing, in whole-sequence recurrent calls) or a single one (generation) and return the new state.

    Its word embedding is named `word_embedding` and its output layer `lm_head`, so that `resize_token_embeddings`
    grows both when words are added to the tokenizer, and `tie_word_embeddings=True` in the config shares one matrix
    between them (when the output layer reads vectors of the word embedding's size).

    An architecture reading more streams than the frame features overrides `video_streams()` (and, to compute them
    from pixels, `encode_pixel_streams()`, which also computes the frame features so that one backbone pass can give
    both).
    """

    config_class: ClassVar[type[VideoCaptioningConfig]] = VideoCaptioningConfig
    base_model_prefix = "captioner"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _is_stateful = True
    _input_embed_layer = "word_embedding"  # with `lm_head`, what `resize_token_embeddings` grows
    _tied_weights_keys = {"lm_head.weight": "word_embedding.weight"}  # with `config.tie_word_embeddings=True`
    _auto_class = "AutoModel"

    def __init__(self, config: VideoCaptioningConfig) -> None:
        super().__init__(config)
        self.vision_model = (
            FrameFeatureEncoder(
                config.vision_config,
                pooling=config.vision_feature_pooling,
                grid_size=config.vision_feature_grid_size,
                freeze=config.freeze_vision_model,
                frame_chunk_size=config.frame_chunk_size,
            )
            if config.vision_config is not None
            else None
        )
        if config.standardize_video_features:
            for stream in self._all_streams():
                mean_name, std_name = stream.statistics_names
                self.register_buffer(mean_name, torch.zeros(stream.feature_size))
                self.register_buffer(std_name, torch.ones(stream.feature_size))
        # As `max_length` (`<bos>` and the words): a length given to generate() wins, and `Seq2SeqTrainer`, which fills
        # the generation config's unset fields with transformers' defaults (`max_length=20`), leaves it alone.
        self.generation_config.max_length = config.max_caption_length + 1

    def post_init(self) -> None:
        """Refuse `tie_word_embeddings=True` for an output layer that reads vectors of another size than the word
        embedding gives, before transformers ties them (or fails deep inside), then initialize as transformers does."""
        if getattr(self.config, "tie_word_embeddings", False):
            embedded, read = self.word_embedding.embedding_dim, self.lm_head.in_features
            if embedded != read:
                raise ValueError(
                    f"tie_word_embeddings=True shares the word embedding with the output layer, but the "
                    f"{type(self).__name__} embeds words in {embedded} values (word_embedding_size) and its output "
                    f"layer reads {read}: make them equal, or leave tie_word_embeddings off."
                )
        super().post_init()

    def _prepare_generated_length(self, generation_config: GenerationConfig, *args: Any, **kwargs: Any):
        # The model's own `max_length` (from `max_caption_length`) is a default, not a length the user set: without
        # this, every `generate(max_new_tokens=...)` would warn that both were given.
        if (
            generation_config.max_new_tokens is not None
            and generation_config.max_length == self.generation_config.max_length
        ):
            generation_config.max_length = None
        return super()._prepare_generated_length(generation_config, *args, **kwargs)

    def _prepare_model_inputs(
        self, inputs: torch.Tensor | None, bos_token_id: torch.Tensor | None, model_kwargs: dict[str, Any]
    ) -> tuple[torch.Tensor, str | None, dict[str, Any]]:
        """Check the caption start `generate()` continues, once: word ids (a video passed positionally would be taken
        for them) that do not hold `<eos>` (a start built with `tokenizer(text)` ends with it, and generation would go
        on past the end of the caption)."""
        inputs_tensor, input_name, model_kwargs = super()._prepare_model_inputs(inputs, bos_token_id, model_kwargs)
        if input_name == "input_ids" and isinstance(inputs_tensor, torch.Tensor):
            if inputs_tensor.dim() != 2 or inputs_tensor.is_floating_point():
                raise ValueError(
                    f"generate() takes the caption start (`input_ids`, word ids) as its positional argument, got a "
                    f"{inputs_tensor.dtype} tensor of shape {list(inputs_tensor.shape)}: pass the video by name, "
                    "`generate(video_features=...)` or `generate(pixel_values_videos=...)`."
                )
            eos = self.config.eos_token_id
            if eos is not None and (ended := (inputs_tensor == eos).any(dim=1)).any():
                raise ValueError(
                    f"The caption start `input_ids` holds `<eos>` (id {eos}) in rows {ended.nonzero().flatten().tolist()}"
                    ": generation would go on past the end of the caption. Build it without: `[tokenizer.bos_token_id, "
                    "*tokenizer(text, add_special_tokens=False).input_ids]`."
                )
        return inputs_tensor, input_name, model_kwargs

    @classmethod
    def can_generate(cls) -> bool:
        # transformers only looks for `GenerationMixin` among the direct bases of classes whose name lacks
        # "PreTrainedModel", which would miss every architecture built on this class.
        return True

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell)):
            bound = module.hidden_size**-0.5
            for name, param in module.named_parameters():
                if name.startswith("weight"):
                    init.uniform_(param, -bound, bound)
                else:
                    init.zeros_(param)
                    if isinstance(module, (nn.LSTM, nn.LSTMCell)) and name.startswith("bias_ih"):
                        # Forget-gate bias of 1 (gates are ordered input, forget, cell, output).
                        init.ones_(param[module.hidden_size : 2 * module.hidden_size])
        else:
            super()._init_weights(module)

    # ------------------------------------------------------------------ architecture interface

    def encode_video(
        self, video_features: torch.Tensor, video_attention_mask: torch.Tensor, **streams: torch.Tensor
    ) -> RecurrentState:
        raise NotImplementedError(f"{type(self).__name__} must implement `encode_video`.")

    def video_streams(self) -> tuple[VideoStream, ...]:
        """The extra video inputs this model reads beside `video_features` (none by default). May depend on the
        config (an ablation that reads fewer streams declares fewer)."""
        return ()

    def encode_pixel_streams(
        self, pixel_values_videos: torch.Tensor, video_attention_mask: torch.Tensor, names: list[str]
    ) -> dict[str, torch.Tensor]:
        """Compute the video inputs `names` from frames: `"video_features"` with the vision backbone, and the extra
        streams of `video_streams()` that `pixel_values_videos` inputs come without.

        The pixel flow asks for the frame features and the missing streams in one call, so that an architecture whose
        streams come from the same backbone can run it once for all of them.

        Args:
            pixel_values_videos (`torch.Tensor` of shape `(batch_size, num_frames, 3, height, width)`): the frames.
            video_attention_mask (`torch.Tensor` of shape `(batch_size, num_frames)`): their (validated) mask.
            names (`list[str]`): the inputs to compute.

        Returns:
            `dict[str, torch.Tensor]`: one padded tensor per name, not yet standardized. By default only the frame
            features can be computed: for any other stream the error says to pass it precomputed.
        """
        if names != ["video_features"]:
            streams = [f"`{name}`" for name in names if name != "video_features"]
            raise ValueError(
                f"{type(self).__name__} cannot compute {', '.join(streams)} from `pixel_values_videos`: pass "
                "precomputed features."
            )
        self._check_vision_model()
        return {"video_features": self.vision_model(pixel_values_videos.to(self.dtype), video_attention_mask)}

    def _num_channels(self) -> int:
        """The channels of a frame the vision backbone reads (3 without a backbone)."""
        return getattr(self.config.vision_config, "num_channels", 3)

    def _check_vision_model(self) -> None:
        """Raise the error for frames given to a model without a vision backbone."""
        if self.vision_model is None:
            raise ValueError(
                f"{type(self).__name__} has no vision backbone (`config.vision_config` is None): pass precomputed "
                "`video_features`, or build the model with a `vision_config` / `from_vision_pretrained(...)`."
            )

    def decode(
        self, input_ids: torch.LongTensor, state: RecurrentState, output_attentions: bool = False
    ) -> tuple[torch.Tensor, RecurrentState, torch.Tensor | None]:
        raise NotImplementedError(f"{type(self).__name__} must implement `decode`.")

    def attention_maps(
        self, attentions: torch.Tensor, video_attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The attentions of a forward pass with `output_attentions=True` as pictures show them (see
        [`hf_vidcap.visualization.plot_attention`]): the temporal attention `(batch_size, sequence_length, num_frames)`,
        the frames the model picked (`None` here) and its attention over their regions (`None` here). An architecture
        whose `decode` returns several attentions overrides this."""
        return attentions, None, None

    # ------------------------------------------------------------------ shared machinery

    def dummy_video_inputs(
        self, batch_size: int, num_frames: int, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Random precomputed-feature inputs of the right sizes, with ragged frame counts (for tests and benchmarks).

        Args:
            batch_size (`int`): number of videos.
            num_frames (`int`): padded number of frames; video `i` has `num_frames - i % 3` real frames (at least 1).
            generator (`torch.Generator`, *optional*): random generator, for reproducible inputs.

        Returns:
            `dict` with `video_features`, `video_attention_mask` and every stream of `video_streams()`, zero on padding.
        """
        features = torch.randn(batch_size, num_frames, self.config.video_feature_size, generator=generator)
        lengths = torch.tensor([max(1, num_frames - i % 3) for i in range(batch_size)])
        mask = (torch.arange(num_frames)[None, :] < lengths[:, None]).long()
        inputs = {"video_features": features * mask[..., None], "video_attention_mask": mask}
        for stream in self.video_streams():
            values = torch.randn(stream.shape(batch_size, num_frames), generator=generator)
            inputs[stream.name] = values.where(_expand_step_mask(stream.step_mask(mask), values), 0)
        return inputs

    def get_video_features(
        self,
        video_features: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate the video inputs and return padded frame features with their mask.

        Args:
            video_features (`torch.Tensor` of shape `(batch_size, num_frames, video_feature_size)`, *optional*):
                Precomputed frame features.
            pixel_values_videos (`torch.Tensor` of shape `(batch_size, num_frames, channels, height, width)`, *optional*):
                Frames, encoded by the model's vision backbone (`config.vision_config`).
            video_attention_mask (`torch.Tensor` of shape `(batch_size, num_frames)`, *optional*):
                1 for real frames, 0 for padding after them. Defaults to all frames real.

        Returns:
            `tuple(torch.Tensor, torch.Tensor)`: features `(batch_size, num_frames, video_feature_size)` and the mask.

        Raises:
            `ValueError`: naming the input and what is wrong with it.
        """
        inputs, _ = self._frame_inputs(video_features, pixel_values_videos, video_attention_mask, pixel_streams=[])
        return inputs["video_features"], inputs["video_attention_mask"]

    def get_video_inputs(
        self,
        video_features: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_attention_mask: torch.Tensor | None = None,
        **streams: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Validate every video input, the frame features as [`~VideoCaptioningPreTrainedModel.get_video_features`]
        does and each stream of `video_streams()` against their shape, and return them as `encode_video` takes them.

        Args:
            video_features, pixel_values_videos, video_attention_mask:
                As for [`~VideoCaptioningPreTrainedModel.get_video_features`].
            **streams (`torch.Tensor`):
                The extra streams, by name (e.g. `clip_features`). With `pixel_values_videos`, those not given are
                computed from the frames by `encode_pixel_streams`, together with the frame features.

        Returns:
            `dict[str, torch.Tensor]`: `video_features`, `video_attention_mask` and every declared stream.

        Raises:
            `ValueError`: naming the input and what is wrong with it.
        """
        declared = self.video_streams()
        missing = [stream.name for stream in declared if streams.get(stream.name) is None]
        inputs, computed = self._frame_inputs(
            video_features,
            pixel_values_videos,
            video_attention_mask,
            missing if pixel_values_videos is not None else [],
        )
        streams = {**streams, **computed}
        if missing and pixel_values_videos is None:
            raise ValueError(
                f"{type(self).__name__} also reads {', '.join(f'`{name}`' for name in missing)}: pass "
                f"{'it' if len(missing) == 1 else 'them'} with `video_features` (see `model.video_streams()`; a "
                "`Trainer` keeps such columns with `remove_unused_columns=False`)."
            )
        video_attention_mask = inputs["video_attention_mask"]
        batch_size, num_frames = video_attention_mask.shape
        for stream in declared:
            values, expected = streams[stream.name], stream.shape(batch_size, num_frames)
            if not isinstance(values, torch.Tensor) or tuple(values.shape) != expected:
                shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
                raise ValueError(
                    f"`{stream.name}` must have shape {stream.layout} = {expected} for {batch_size} videos of "
                    f"{num_frames} frames, got {shape}."
                )
            if stream.name not in computed:
                _check_finite(stream.name, values, stream.step_mask(video_attention_mask))
            inputs[stream.name] = self._standardize(stream, values.to(self.dtype), video_attention_mask)
        return inputs

    def _frame_inputs(
        self,
        video_features: torch.Tensor | None,
        pixel_values_videos: torch.Tensor | None,
        video_attention_mask: torch.Tensor | None,
        pixel_streams: list[str],
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Validate the frame inputs and return the standardized `video_features` with the `video_attention_mask`, and
        (from `pixel_values_videos`, else none) the extra streams `pixel_streams` computed with the frame features."""
        if (video_features is None) == (pixel_values_videos is None):
            raise ValueError("Pass exactly one of `video_features` (precomputed) or `pixel_values_videos` (frames).")
        name, video = (
            ("video_features", video_features)
            if video_features is not None
            else ("pixel_values_videos", pixel_values_videos)
        )
        expected_dims = 3 if video_features is not None else 5
        if not isinstance(video, torch.Tensor) or video.dim() != expected_dims:
            shape = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
            layout = (
                "(batch_size, num_frames, feature_size)"
                if expected_dims == 3
                else "(batch_size, num_frames, 3, height, width)"
            )
            raise ValueError(f"`{name}` must be a {expected_dims}-D tensor {layout}, got {shape}.")
        if pixel_values_videos is not None:
            if not pixel_values_videos.is_floating_point():
                raise ValueError(
                    f"`pixel_values_videos` must be the normalized float frames the processor makes, got "
                    f"{pixel_values_videos.dtype} values."
                )
            if pixel_values_videos.shape[2] != (channels := self._num_channels()):
                raise ValueError(
                    f"`pixel_values_videos` must be (batch_size, num_frames, {channels}, height, width), got shape "
                    f"{tuple(pixel_values_videos.shape)} (frames channels last?): the processor lays them out so."
                )
        batch_size, num_frames = video.shape[:2]
        if batch_size == 0:
            raise ValueError(f"`{name}` holds no video (shape {tuple(video.shape)}).")
        if num_frames == 0:
            raise ValueError(f"`{name}` has no frames (shape {tuple(video.shape)}).")
        if video_attention_mask is None:
            video_attention_mask = torch.ones(batch_size, num_frames, dtype=torch.long, device=video.device)
        elif tuple(video_attention_mask.shape) != (batch_size, num_frames):
            raise ValueError(
                f"`video_attention_mask` has shape {tuple(video_attention_mask.shape)} but `{name}` has "
                f"{batch_size} videos of {num_frames} frames: expected ({batch_size}, {num_frames})."
            )
        if not ((video_attention_mask == 0) | (video_attention_mask == 1)).all():
            values = sorted(set(video_attention_mask.flatten().tolist()) - {0, 1})[:5]
            raise ValueError(f"`video_attention_mask` must hold only 0 and 1, got {values}.")
        video_attention_mask = video_attention_mask.long()  # a float or bool mask indexes frames further on
        lengths = video_attention_mask.sum(dim=1)
        if (empty := (lengths == 0).nonzero().flatten()).numel():
            raise ValueError(
                f"Videos {empty.tolist()} of the batch have no frames: their `video_attention_mask` is all 0."
            )
        prefix = torch.arange(num_frames, device=lengths.device)[None, :] < lengths[:, None]
        if not torch.equal(prefix, video_attention_mask.bool()):
            raise ValueError(
                "`video_attention_mask` must mark real frames first and padding after them (1...1 0...0)."
            )

        _check_finite(name, video, video_attention_mask)

        computed = {}
        if pixel_values_videos is not None:
            self._check_vision_model()
            computed = self.encode_pixel_streams(
                pixel_values_videos, video_attention_mask, ["video_features", *pixel_streams]
            )
            video_features = computed.pop("video_features")
        elif video_features.shape[-1] != self.config.video_feature_size:
            raise ValueError(
                f"`video_features` has feature size {video_features.shape[-1]} (shape {tuple(video_features.shape)}) "
                f"but this model expects {self.config.video_feature_size} (`config.video_feature_size`)."
            )
        video_features = self._standardize(self._all_streams()[0], video_features.to(self.dtype), video_attention_mask)
        return {"video_features": video_features, "video_attention_mask": video_attention_mask}, computed

    def _all_streams(self) -> tuple[VideoStream, ...]:
        """The frame features as a stream, then the extra streams."""
        return (VideoStream("video_features", self.config.video_feature_size), *self.video_streams())

    def _standardize(
        self, stream: VideoStream, values: torch.Tensor, video_attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """`(values - mean) / std` with the stream's saved statistics (when enabled), and zero on padding whatever the
        padding held: the architectures mask by multiplying, and `0 * nan` is `nan`."""
        if self.config.standardize_video_features:
            mean_name, std_name = stream.statistics_names
            values = (values - getattr(self, mean_name)) / getattr(self, std_name)
        return values.where(_expand_step_mask(stream.step_mask(video_attention_mask), values), 0)

    def set_video_feature_statistics(
        self, mean: torch.Tensor, std: torch.Tensor, input_name: str = "video_features"
    ) -> None:
        """Set the per-dimension statistics used by `config.standardize_video_features` (see
        [`hf_vidcap.data.video_feature_statistics`] to compute them over a feature dataset).

        Args:
            mean (`torch.Tensor` of shape `(feature_size,)`): mean of the training features.
            std (`torch.Tensor` of shape `(feature_size,)`): their standard deviation. A dimension constant in
                training (below 1e-6) is only centred (its std taken as 1): dividing by its tiny spread would blow
                up any value it takes on other videos.
            input_name (`str`, *optional*, defaults to `"video_features"`): the stream they belong to (one of
                `video_streams()` for architectures that read several).
        """
        if not self.config.standardize_video_features:
            raise ValueError("This model was built with `standardize_video_features=False`; it keeps no statistics.")
        streams = {stream.name: stream for stream in self._all_streams()}
        if input_name not in streams:
            raise ValueError(f"{type(self).__name__} has no input `{input_name}`; it reads {', '.join(streams)}.")
        stream = streams[input_name]
        expected = (stream.feature_size,)
        if tuple(mean.shape) != expected or tuple(std.shape) != expected:
            raise ValueError(
                f"Statistics of `{input_name}` must have shape {expected}, got {tuple(mean.shape)} and "
                f"{tuple(std.shape)}."
            )
        mean_name, std_name = stream.statistics_names
        getattr(self, mean_name).copy_(mean)
        getattr(self, std_name).copy_(torch.where(std < 1e-6, torch.ones_like(std), std))

    def shift_tokens_right(self, labels: torch.LongTensor) -> torch.LongTensor:
        """Decoder inputs for teacher forcing: `<bos>` followed by the labels, -100 replaced by `<pad>`."""
        shifted = labels.new_full(labels.shape, self.config.pad_token_id)
        shifted[:, 1:] = labels[:, :-1]
        shifted[:, 0] = self.config.bos_token_id
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        video_features: torch.FloatTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        video_attention_mask: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        past_key_values: RecurrentState | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: int | torch.Tensor | None = None,
        **kwargs: Any,
    ) -> VideoCaptioningOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Word ids fed to the decoder. Built from `labels` (`<bos>` + labels shifted right) when omitted.
            video_features (`torch.FloatTensor` of shape `(batch_size, num_frames, video_feature_size)`, *optional*):
                Precomputed frame features. Ignored when `past_key_values` already holds the encoded video.
            pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, 3, height, width)`, *optional*):
                Frames for the model's vision backbone, instead of `video_features`.
            video_attention_mask (`torch.LongTensor` of shape `(batch_size, num_frames)`, *optional*):
                1 for real frames, 0 for padding frames after them.
            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Caption word ids ending with `<eos>`, padded with -100 (as the processor makes them).
            past_key_values ([`RecurrentState`], *optional*):
                State returned by a previous call: decoding continues from it and the video is not read again.
            use_cache (`bool`, *optional*):
                Whether to return the state. Defaults to `True` in eval mode, `False` in training.
            output_attentions (`bool`, *optional*):
                Whether to return the attention weights over frames (architectures that attend).
            output_hidden_states (`bool`, *optional*):
                Not supported (`True` raises): the recurrent models return logits, attentions and their state.
            num_items_in_batch (`int`, *optional*):
                Number of label tokens across the whole (accumulated) batch; the loss is then a sum divided by it,
                as `Trainer` expects for exact gradient accumulation.
            **kwargs:
                The extra video streams the architecture reads, by name (see `video_streams()`; e.g. `clip_features`).
        """
        if unknown := sorted(set(kwargs) - set(self._stream_names())):
            raise TypeError(
                f"{type(self).__name__}.forward() got unexpected keyword arguments {', '.join(unknown)}; its video "
                f"inputs are {', '.join(self._video_input_names())}."
            )
        if output_hidden_states:
            self._refuse_hidden_states()
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        use_cache = use_cache if use_cache is not None else not self.training
        text_name = self._check_text_inputs(input_ids, labels, self.config.vocab_size)
        if input_ids is None:
            input_ids = self.shift_tokens_right(labels)

        if past_key_values is None:
            streams = {name: kwargs[name] for name in self._stream_names() if name in kwargs}
            video = self.get_video_inputs(video_features, pixel_values_videos, video_attention_mask, **streams)
            self._check_batch_size(text_name, len(input_ids), len(video["video_attention_mask"]), "videos")
            past_key_values = self.encode_video(**video)
        elif not isinstance(past_key_values, RecurrentState):
            raise ValueError(
                f"`past_key_values` must be the `RecurrentState` an earlier call returned, got a "
                f"{type(past_key_values).__name__}."
            )
        else:
            self._check_batch_size(
                text_name, len(input_ids), past_key_values.batch_size, "videos in `past_key_values`"
            )
        logits, state, attentions = self.decode(input_ids, past_key_values, output_attentions=bool(output_attentions))

        loss = None
        if labels is not None:
            reduction = "sum" if num_items_in_batch is not None else "mean"
            if num_items_in_batch is None and not (labels != -100).any():
                raise ValueError("`labels` hold no word to predict (every id is -100): the mean loss would be NaN.")
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1).to(torch.promote_types(logits.dtype, torch.float32)),  # half precision up
                labels.flatten().to(logits.device, torch.long),
                ignore_index=-100,
                reduction=reduction,
            )
            if num_items_in_batch is not None:
                loss = loss / num_items_in_batch

        output = VideoCaptioningOutput(
            loss=loss,
            logits=logits,
            past_key_values=state if use_cache else None,
            attentions=attentions if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _check_text_inputs(input_ids: torch.Tensor | None, labels: torch.Tensor | None, vocab_size: int) -> str:
        """Check that the word inputs are `(batch_size, sequence_length)` tensors of ids in the vocabulary (or -100 in
        labels), with labels the shape of the inputs they follow, and return the name of the one decoding is driven
        by."""
        if input_ids is None and labels is None:
            raise ValueError("Pass `input_ids` or `labels` (the decoder inputs are built from the labels).")
        for name, ids in (("input_ids", input_ids), ("labels", labels)):
            if ids is None:
                continue
            if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
                shape = list(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
                raise ValueError(
                    f"`{name}` must be a 2-D tensor of word ids (batch_size, sequence_length), got {shape}."
                )
            outside = (ids < 0) | (ids >= vocab_size)
            if name == "labels":
                outside &= ids != -100  # the positions the loss ignores
            if outside.any():
                raise ValueError(
                    f"`{name}` holds ids outside the vocabulary of {vocab_size} words (`config.vocab_size`): "
                    f"{sorted(set(ids[outside].tolist()))[:5]}. After growing the tokenizer, call "
                    "`model.resize_token_embeddings(len(tokenizer))`."
                )
        name, ids = ("input_ids", input_ids) if input_ids is not None else ("labels", labels)
        if ids.shape[1] == 0:
            raise ValueError(f"`{name}` is empty (shape {list(ids.shape)}): there is no word to decode.")
        if input_ids is not None and labels is not None and input_ids.shape != labels.shape:
            raise ValueError(
                f"`labels` has shape {list(labels.shape)} but `input_ids` has {list(input_ids.shape)}: each label is the "
                "word that follows the input at its position."
            )
        return name

    @staticmethod
    def _check_batch_size(name: str, num_rows: int, num_videos: int, videos: str) -> None:
        if num_rows != num_videos:
            raise ValueError(f"`{name}` has {num_rows} rows but there are {num_videos} {videos}: give one per video.")

    def _prepare_cache_for_generation(
        self, generation_config, model_kwargs: dict, generation_mode, batch_size: int, *args, **kwargs
    ) -> None:
        """Encode each video once into the state decoding starts from. `generate()` has already repeated every video
        for its beams (or returned sequences); the repeats share one encoding instead of each reading the video.
        `batch_size` is the number of prompts (`input_ids` rows) before that repetition."""
        if generation_config.output_hidden_states:  # before anything is encoded
            self._refuse_hidden_states()
        if generation_config.stop_strings:  # transformers' criterion probes the tokenizer with sub-word pieces
            raise ValueError(
                "`stop_strings` needs a sub-word tokenizer; the captioners' word-level one cannot spell them. Stop at "
                "whole words instead: `eos_token_id=[<eos id>, *their ids]` (from "
                "`processor.tokenizer.convert_tokens_to_ids`)."
            )
        repeats = max(generation_config.num_beams, generation_config.num_return_sequences)
        video = {name: model_kwargs[name] for name in self._video_input_names() if model_kwargs.get(name) is not None}
        if video and model_kwargs.get("past_key_values") is None:  # the user's counts, before the repetition
            num_videos = len(next(iter(video.values()))) // repeats
            self._check_batch_size("input_ids", batch_size, num_videos, "videos")
        state = model_kwargs.get("past_key_values")
        if isinstance(state, RecurrentState) and repeats > 1 and state.batch_size == batch_size:
            model_kwargs["past_key_values"] = state.repeat_interleave(repeats)  # a returned state, one row per video
        if not generation_config.use_cache or state is not None:
            return
        video = {name: model_kwargs.pop(name)[::repeats] for name in video}
        state = self.encode_video(**self.get_video_inputs(**video))
        model_kwargs["past_key_values"] = state.repeat_interleave(repeats)

    def _refuse_hidden_states(self) -> None:
        raise ValueError(
            f"{type(self).__name__} does not return hidden states (`output_hidden_states=True`): its outputs are "
            "the logits, the recurrent state (`past_key_values`) and, for models that attend, `attentions`."
        )

    def _stream_names(self) -> list[str]:
        return [stream.name for stream in self.video_streams()]

    def _video_input_names(self) -> list[str]:
        """Every video input of `forward()` and `generate()`: the frames or their features, the mask, the streams."""
        return ["video_features", "pixel_values_videos", "video_attention_mask", *self._stream_names()]

    def _validate_model_kwargs(self, model_kwargs: dict[str, Any]) -> None:
        # The extra streams are keyword arguments `forward` reads from `**kwargs`, which generate() cannot see.
        streams = self._stream_names()
        super()._validate_model_kwargs({name: value for name, value in model_kwargs.items() if name not in streams})

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        past_key_values: RecurrentState | None = None,
        use_cache: bool | None = None,
        video_features: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """With a state, feed the tokens it has not consumed yet (the video is already in it); without one
        (`use_cache=False`), feed the whole sequence and the video so that `forward` recomputes everything."""
        inputs: dict[str, Any] = {"use_cache": use_cache, "output_attentions": output_attentions}
        if past_key_values is not None:
            new_tokens = input_ids[:, past_key_values.get_seq_length() :]
            return {**inputs, "input_ids": new_tokens, "past_key_values": past_key_values}
        return {
            **inputs,
            "input_ids": input_ids,
            "video_features": video_features,
            "pixel_values_videos": pixel_values_videos,
            "video_attention_mask": video_attention_mask,
            **{name: kwargs.get(name) for name in self._stream_names()},
        }

    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> VideoCaptioningPreTrainedModel | tuple:
        """Load as [`PreTrainedModel.from_pretrained`]. The config's `max_caption_length` and the generation config's
        `max_length` are one setting: a `generation_config=...` given here sets both with its `max_length`; else
        `max_caption_length` (a `max_caption_length=...` given here wins, as it does for a new model) sets
        `max_length`, whatever a hand-edited `generation_config.json` says."""
        loaded = super().from_pretrained(*args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded  # (with `output_loading_info=True`)
        model._follow_max_length(getattr(kwargs.get("generation_config"), "max_length", None))
        model.generation_config.max_length = model.config.max_caption_length + 1
        return loaded

    def _follow_max_length(self, max_length: int | None) -> None:
        """Make `max_caption_length` the words of a generation `max_length` (`<bos>` and the words), if it is one."""
        if isinstance(max_length, int) and max_length >= 2:
            self.config.max_caption_length = max_length - 1

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """Save as [`PreTrainedModel.save_pretrained`]. The code files are copied next to the weights and the
        config's `auto_map` names this class for `AutoModel` and `AutoModelForImageTextToText` alike, so the folder
        loads with either under `trust_remote_code=True`. A `generation_config.max_length` changed on the model is
        saved as its `max_caption_length` too."""
        self._follow_max_length(self.generation_config.max_length)
        if self._auto_class is not None:
            # Saving adds the `AutoModel` entry as `<module file>.<class>`; the captioning Auto class gets the same.
            code_name = f"{type(self).__module__.rsplit('.', 1)[-1]}.{type(self).__name__}"
            self.config.auto_map = {
                **(getattr(self.config, "auto_map", None) or {}),
                "AutoModelForImageTextToText": code_name,
            }
        super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_vision_pretrained(
        cls,
        pretrained_vision_model_name_or_path: str,
        vision_feature_pooling: VisionFeaturePooling = "mean",
        **config_kwargs: Any,
    ) -> VideoCaptioningPreTrainedModel:
        """A new captioner whose frame encoder is a pretrained transformers vision model (e.g. a ResNet checkpoint).

        Args:
            pretrained_vision_model_name_or_path (`str`):
                A local folder or Hub id of any transformers vision model, loaded with `AutoModel.from_pretrained`.
            vision_feature_pooling (`str`, *optional*, defaults to `"mean"`):
                How the backbone output becomes one vector per frame (see [`VideoCaptioningConfig`]).
            **config_kwargs:
                Fields of the architecture's config (`vocab_size`, sizes, ...).

        Returns:
            The captioner, with the backbone's pretrained weights and randomly initialised captioning weights.

        Raises:
            `ValueError`: naming the backbone, if it cannot be loaded.
        """
        backbone = load_pretrained_backbone(pretrained_vision_model_name_or_path)
        config = cls.config_class(
            vision_config=backbone.config, vision_feature_pooling=vision_feature_pooling, **config_kwargs
        )
        model = cls(config)
        model.vision_model.backbone.load_state_dict(backbone.state_dict())
        return model
