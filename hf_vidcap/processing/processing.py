"""Processor for video captioning: videos or frame features in, model inputs and labels out, captions back.

[`VideoCaptioningProcessor`] pairs a [`VideoCaptioningFeatureExtractor`] (video files or frames) with a word-level
tokenizer. It also batches precomputed frame features, turns captions into `labels` for the decoder, and decodes
generated ids back into captions.
"""

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from transformers import BatchFeature, PreTrainedTokenizerBase, ProcessorMixin
from transformers.utils import TensorType

from .feature_extraction import VideoCaptioningFeatureExtractor, VideoInput
from .tokenization import build_word_tokenizer


class VideoCaptioningProcessor(ProcessorMixin):
    r"""
    Processor for recurrent video captioning models.

    Args:
        feature_extractor ([`VideoCaptioningFeatureExtractor`]):
            Turns videos into `pixel_values_videos` and `video_attention_mask`.
        tokenizer ([`PreTrainedTokenizerFast`]):
            Word-level tokenizer with `<pad>`, `<bos>`, `<eos>` and `<unk>` tokens, e.g. from [`build_word_tokenizer`].
    """

    model_input_names = ["pixel_values_videos", "video_features", "video_attention_mask"]

    def __init__(self, feature_extractor: VideoCaptioningFeatureExtractor, tokenizer: PreTrainedTokenizerBase):
        super().__init__(feature_extractor, tokenizer)

    @classmethod
    def from_captions(
        cls,
        captions: Iterable[str],
        feature_extractor: VideoCaptioningFeatureExtractor | None = None,
        min_count: int = 1,
        max_vocab_size: int | None = None,
    ) -> "VideoCaptioningProcessor":
        """
        Builds a processor whose tokenizer's vocabulary comes from a corpus of captions.

        Args:
            captions (`Iterable[str]`):
                The training captions.
            feature_extractor ([`VideoCaptioningFeatureExtractor`], *optional*):
                The frame preprocessor; a default one if not given.
            min_count (`int`, *optional*, defaults to 1):
                Words seen fewer times map to `<unk>`.
            max_vocab_size (`int`, *optional*):
                Largest vocabulary size, special tokens included.

        Returns:
            [`VideoCaptioningProcessor`]: The processor.
        """
        tokenizer = build_word_tokenizer(captions, min_count=min_count, max_vocab_size=max_vocab_size)
        return cls(feature_extractor or VideoCaptioningFeatureExtractor(), tokenizer)

    def __call__(
        self,
        videos: VideoInput | list[VideoInput] | None = None,
        text: str | list[str] | None = None,
        video_features: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor] | None = None,
        video_attention_mask: np.ndarray | torch.Tensor | None = None,
        return_tensors: str | TensorType | None = None,
        max_length: int | None = None,
        num_frames: int | None = None,
        fps: float | None = None,
        do_sample_frames: bool | None = None,
        **video_streams: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
    ) -> BatchFeature:
        """
        Prepares videos (or precomputed frame features) and/or captions for the model.

        Args:
            videos (`str`, `os.PathLike`, `np.ndarray`, `torch.Tensor`, or a list of them, *optional*):
                Video files or `[T, H, W, 3]` frames, passed to the feature extractor.
            text (`str` or `list[str]`, *optional*):
                Target captions, one per video.
            video_features (`np.ndarray`, `torch.Tensor`, or a list of them, *optional*):
                Precomputed frame features instead of `videos`: a list of `[T_i, D]` (or `[T_i, ..., D]`) arrays, one
                per video, whose lengths may differ, or a padded `[B, T, D]` (or `[B, T, ..., D]`) array.
            video_attention_mask (`np.ndarray` or `torch.Tensor` of shape `[B, T]`, *optional*):
                Frame mask (1 = real frame) of padded `video_features`; all ones if not given. Computed for a list.
            return_tensors (`str` or [`~utils.TensorType`], *optional*):
                `"pt"` for PyTorch tensors, `"np"` or `None` for NumPy arrays.
            max_length (`int`, *optional*):
                Longest `labels` row: longer captions are truncated, keeping `<eos>` last.
            num_frames (`int`, *optional*):
                Overrides the feature extractor's `num_frames`.
            fps (`float`, *optional*):
                Overrides the feature extractor's `fps`.
            do_sample_frames (`bool`, *optional*):
                Overrides the feature extractor's `do_sample_frames`: `False` takes `videos` given as frames as they
                are, already sampled.
            **video_streams (`np.ndarray`, `torch.Tensor`, or a list of them, *optional*):
                Extra precomputed feature streams for models that read several (e.g. G2L's `clip_features` and
                `region_features`), by name, each ending with `_features`: one `[S_i, ..., D]` array per video
                (padded with zeros to the longest) or a padded `[B, S, ..., D]` array. The model checks their shapes
                against the frames; with `videos`, a model with the backbones computes those not given.

        Returns:
            [`BatchFeature`]: with, from `videos`, `pixel_values_videos` float32 `[B, T, 3, H, W]`; from
            `video_features`, `video_features` float32 `[B, T_max, ..., D]`; either way `video_attention_mask` int64
            `[B, T]`; each extra stream, float32; and from `text`, `labels` int64 `[B, L]`: the caption's word ids
            then `<eos>` (no `<bos>`: the model prepends it when shifting labels right), padded with -100.

        Raises:
            `ValueError`: for missing, conflicting or malformed inputs, or batch sizes that differ between videos and
            text; [`InvalidVideoError`] (a `ValueError`) for a video that cannot be used.
        """
        for name in video_streams:  # first: a misspelled `video=` or `images=` is not "nothing"
            if not name.endswith("_features"):
                raise TypeError(f"VideoCaptioningProcessor got an unexpected keyword argument {name!r}.")
        if videos is None and video_features is None and text is None:
            raise ValueError("Nothing to process: give `videos`, `video_features` or `text`.")
        if videos is not None and video_features is not None:
            raise ValueError("Give either `videos` or `video_features`, not both.")
        if video_attention_mask is not None and video_features is None:
            raise ValueError("`video_attention_mask` goes with `video_features`; for `videos` it is computed.")
        data = {}
        if videos is not None:
            data.update(
                self.feature_extractor(videos, num_frames=num_frames, fps=fps, do_sample_frames=do_sample_frames)
            )
        elif video_features is not None:
            data.update(_pad_video_features(video_features, video_attention_mask))
        for name, stream in video_streams.items():
            if not data:
                raise ValueError(f"`{name}` goes with `videos` or `video_features`.")
            data[name] = _pad_stream(name, stream, len(data["video_attention_mask"]))
        if text is not None:
            labels = self._encode_labels(text, max_length)
            if data and len(labels) != len(data["video_attention_mask"]):
                raise ValueError(
                    f"Got {len(data['video_attention_mask'])} videos but {len(labels)} captions: give one caption per "
                    "video."
                )
            data["labels"] = labels
        return BatchFeature(data, tensor_type=return_tensors)

    def _encode_labels(self, text: str | list[str], max_length: int | None) -> np.ndarray:
        """Encodes captions as `<eos>`-terminated word ids, padded with -100, into int64 `[B, L]`."""
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise ValueError("`text` is an empty list.")
        for index, caption in enumerate(texts):
            if not isinstance(caption, str):
                raise ValueError(f"text[{index}] must be a string, got {type(caption).__name__}.")
        if max_length is not None and max_length < 1:
            raise ValueError(f"`max_length` must be at least 1 (room for `<eos>`), got {max_length}.")
        limit = None if max_length is None else max_length - 1
        # A caption's literal "<eos>" or "<pad>" is words, not the end of the caption or padding.
        encoded = self.tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        rows = [ids[:limit] + [self.tokenizer.eos_token_id] for ids in encoded]
        labels = np.full((len(rows), max(map(len, rows))), -100, dtype=np.int64)
        for index, row in enumerate(rows):
            labels[index, : len(row)] = row
        return labels

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        """
        Decodes generated (or label) ids into captions.

        Each row loses a leading `<bos>`, is cut at its first `<eos>` (beam search pads finished rows with `<eos>` or
        `<pad>`), drops negative ids (the -100 of labels), and is decoded to space-separated words.

        Args:
            sequences (`torch.Tensor`, `np.ndarray` or `list[list[int]]` of shape `[B, L]`):
                Token ids.
            skip_special_tokens (`bool`, *optional*, defaults to `True`):
                Whether to drop the remaining special tokens (`<pad>`, `<unk>`).
            kwargs (`dict[str, Any]`, *optional*):
                Passed to the tokenizer's `decode`.

        Returns:
            `list[str]`: One caption per row.
        """
        if isinstance(sequences, (torch.Tensor, np.ndarray)):
            sequences = sequences.tolist()
        if any(isinstance(row, (int, np.integer)) or getattr(row, "ndim", 1) == 0 for row in sequences):
            raise ValueError(
                "`batch_decode` takes a batch of id sequences [B, L]; decode a single sequence with `decode`."
            )
        return [
            self.tokenizer.decode(self._caption_ids(row), skip_special_tokens=skip_special_tokens, **kwargs)
            for row in sequences
        ]

    def decode(self, token_ids, skip_special_tokens: bool = True, **kwargs) -> str:
        """
        Decodes one sequence of ids into a caption, like [`~VideoCaptioningProcessor.batch_decode`].

        Args:
            token_ids (`torch.Tensor`, `np.ndarray` or `list[int]` of shape `[L]`):
                Token ids.
            skip_special_tokens (`bool`, *optional*, defaults to `True`):
                Whether to drop the remaining special tokens (`<pad>`, `<unk>`).
            kwargs (`dict[str, Any]`, *optional*):
                Passed to the tokenizer's `decode`.

        Returns:
            `str`: The caption.
        """
        if isinstance(token_ids, (torch.Tensor, np.ndarray)):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int) or any(not isinstance(token, (int, np.integer)) for token in token_ids):
            raise ValueError("`decode` takes one id sequence [L]; decode a batch [B, L] with `batch_decode`.")
        return self.batch_decode([token_ids], skip_special_tokens=skip_special_tokens, **kwargs)[0]

    def _caption_ids(self, ids: list[int]) -> list[int]:
        """The ids of a caption: without a leading `<bos>`, up to the first `<eos>`, without negative ids."""
        ids = [int(i) for i in ids]
        if ids and ids[0] == self.tokenizer.bos_token_id:
            ids = ids[1:]
        if self.tokenizer.eos_token_id in ids:
            ids = ids[: ids.index(self.tokenizer.eos_token_id)]
        return [i for i in ids if i >= 0]


def _pad_video_features(
    video_features: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
    video_attention_mask: np.ndarray | torch.Tensor | None,
) -> dict[str, np.ndarray]:
    """
    Batches frame features into float32 `video_features` `[B, T_max, ..., D]` and int64 `video_attention_mask`
    `[B, T_max]`, checking shapes.
    """
    if isinstance(video_features, (np.ndarray, torch.Tensor)):
        features = _to_numpy(video_features).astype(np.float32)
        if features.ndim < 3:
            raise ValueError(
                f"Padded `video_features` must have shape [B, T, D] (or [B, T, ..., D]), got {list(features.shape)}; "
                "pass a list of [T, D] arrays for videos of different lengths."
            )
        if video_attention_mask is None:
            mask = np.ones(features.shape[:2], dtype=np.int64)
        else:
            mask = _to_numpy(video_attention_mask).astype(np.int64)
            if mask.shape != features.shape[:2]:
                raise ValueError(
                    f"`video_attention_mask` must have shape [B, T] = {list(features.shape[:2])} to match "
                    f"`video_features` {list(features.shape)}, got {list(mask.shape)}."
                )
        for index, row in enumerate(mask):
            if not row.any():
                raise ValueError(f"video_features[{index}] is empty: its `video_attention_mask` row has no frame.")
        return {"video_features": features, "video_attention_mask": mask}

    if video_attention_mask is not None:
        raise ValueError("`video_attention_mask` is computed for a list of `video_features`; pass a padded array.")
    items = list(video_features)
    if not items:
        raise ValueError("`video_features` is an empty list.")
    features, lengths = _pad_list("video_features", items, step="T")
    for index, length in enumerate(lengths):
        if length == 0:
            raise ValueError(f"video_features[{index}] is empty: shape {[0, *features.shape[2:]]} has no frame.")
    mask = (np.arange(features.shape[1])[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    return {"video_features": features, "video_attention_mask": mask}


def _pad_stream(
    name: str, stream: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor], batch_size: int
) -> np.ndarray:
    """Batches one extra feature stream into float32 `[B, S_max, ..., D]`, zero-padded, checking it has one entry per
    video and the same trailing shape throughout."""
    if isinstance(stream, (np.ndarray, torch.Tensor)):
        padded = _to_numpy(stream).astype(np.float32)
        if padded.ndim < 3 or len(padded) != batch_size:
            raise ValueError(
                f"Padded `{name}` must have shape [B, S, ..., D] with B = {batch_size} videos, got {list(padded.shape)}."
            )
        return padded
    items = list(stream)
    if len(items) != batch_size:
        raise ValueError(f"Got {batch_size} videos but {len(items)} `{name}`: give one per video.")
    return _pad_list(name, items, step="S")[0]


def _pad_list(name: str, items: Sequence[np.ndarray | torch.Tensor], step: str) -> tuple[np.ndarray, list[int]]:
    """Zero-pads a list of `[S_i, ..., D]` arrays, one per video, into float32 `[B, S_max, ..., D]`, checking that
    they all have the trailing shape of the first; returns it with the lengths `S_i`. `step` names the axis in errors.
    """
    arrays = [_to_numpy(item).astype(np.float32) for item in items]
    for index, array in enumerate(arrays):
        if array.ndim < 2:
            raise ValueError(
                f"{name}[{index}] must have shape [{step}, D] (or [{step}, ..., D]), got {list(array.shape)}."
            )
        if array.shape[1:] != arrays[0].shape[1:]:
            raise ValueError(
                f"{name}[{index}] has shape {list(array.shape)}, expected {[step, *arrays[0].shape[1:]]} like "
                f"{name}[0] {list(arrays[0].shape)}: every video needs the same feature shape."
            )
    lengths = [len(array) for array in arrays]
    padded = np.zeros((len(arrays), max(lengths), *arrays[0].shape[1:]), dtype=np.float32)
    for index, array in enumerate(arrays):
        padded[index, : len(array)] = array
    return padded, lengths


def _to_numpy(array: np.ndarray | torch.Tensor | Sequence) -> np.ndarray:
    """Returns a NumPy array from an array, a tensor (any device or dtype) or nested lists."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        return (array.float() if array.is_floating_point() else array).numpy()
    return np.asarray(array)
