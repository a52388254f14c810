"""S2VT: Sequence to Sequence -- Video to Text (Venugopalan et al., ICCV 2015).

Two stacked LSTMs share the encoding and decoding stages. The first reads the embedded frames and then padding; the
second reads the first's output concatenated with padded (zero) words while the video is read, then `<bos>` and the
caption words, and predicts the next word. No loss is computed while the video is read.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from .base import (
    RecurrentState,
    VideoCaptioningConfig,
    VideoCaptioningPreTrainedModel,
    to_batch_first,
    to_layer_first,
)


class S2VTConfig(VideoCaptioningConfig):
    r"""
    Configuration of [`S2VTForVideoCaptioning`]. Defaults are the paper's sizes. Shared fields are documented in
    [`VideoCaptioningConfig`].

    Args:
        frame_embedding_size (`int`, *optional*, defaults to 500):
            Size of the linear embedding of each frame's features, read by the first LSTM.
        word_embedding_size (`int`, *optional*, defaults to 500):
            Size of the word embedding, read by the second LSTM.
        hidden_size (`int`, *optional*, defaults to 1000):
            Hidden size of both LSTMs.

    Example:

    ```python
    >>> from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning
    >>> model = S2VTForVideoCaptioning(S2VTConfig(vocab_size=5000, video_feature_size=2048))
    ```
    """

    model_type = "vidcap_s2vt"

    frame_embedding_size: int = 500
    word_embedding_size: int = 500
    hidden_size: int = 1000


def lstm_on_leading_features(
    lstm: nn.LSTM,
    inputs: torch.Tensor | PackedSequence,
    hx: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor | PackedSequence, tuple[torch.Tensor, torch.Tensor]]:
    """
    Runs a one-layer, one-direction `lstm` on inputs of which only the leading features are given, the rest being zero,
    without multiplying the zeros. The result (and its gradients) equals `lstm(zero-padded inputs, hx)`.

    S2VT feeds zeros by design: the first LSTM reads only padding while the caption is decoded, the second reads zero
    words while the video is read. On the CPU, slicing those zeros out of the input projection makes a training step
    at the paper's sizes about 13% faster. On other devices the module runs on the zero-padded inputs: cuDNN wants its
    weights in the module's one flat buffer (a slice would be copied, with a warning, at every call), and there the
    zeros cost little next to the step-by-step recurrence.

    Args:
        lstm (`nn.LSTM`):
            The LSTM whose weights are used; it must have one layer, one direction and biases.
        inputs (`torch.Tensor` or `PackedSequence`):
            The first `inputs.shape[-1]` input features (at most `lstm.input_size`, possibly none), in the layout
            `lstm` expects (`batch_first` or not), or packed.
        hx (`tuple[torch.Tensor, torch.Tensor]`, *optional*):
            The initial `(h, c)`, each `(1, batch, hidden_size)`; zeros when not given.

    Returns:
        `tuple`: the output (packed when `inputs` is) and the final `(h, c)`, as `nn.LSTM` returns them.
    """
    data = inputs.data if isinstance(inputs, PackedSequence) else inputs
    if data.device.type != "cpu":
        padded = nn.functional.pad(data, (0, lstm.input_size - data.shape[-1]))
        return lstm(inputs._replace(data=padded) if isinstance(inputs, PackedSequence) else padded, hx)
    if data.shape[-1] == 0:  # oneDNN's fast kernel wants one input feature at least: give it one zero
        data = data.new_zeros(*data.shape[:-1], 1)
    batch_size = (
        int(inputs.batch_sizes[0]) if isinstance(inputs, PackedSequence) else data.shape[0 if lstm.batch_first else 1]
    )
    if hx is None:
        zeros = data.new_zeros(1, batch_size, lstm.hidden_size)
        hx = (zeros, zeros)
    weights = [lstm.weight_ih_l0[:, : data.shape[-1]], lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
    if not isinstance(inputs, PackedSequence):
        output, h, c = torch.lstm(data, hx, weights, True, 1, 0.0, lstm.training, False, lstm.batch_first)
        return output, (h, c)
    hx = lstm.permute_hidden(hx, inputs.sorted_indices)
    output, h, c = torch.lstm(data, inputs.batch_sizes, hx, weights, True, 1, 0.0, lstm.training, False)
    return inputs._replace(data=output), lstm.permute_hidden((h, c), inputs.unsorted_indices)


class S2VTForVideoCaptioning(VideoCaptioningPreTrainedModel):
    """S2VT with a word-prediction head; see [`VideoCaptioningPreTrainedModel.forward`] for the inputs."""

    config_class = S2VTConfig

    def __init__(self, config: S2VTConfig) -> None:
        super().__init__(config)
        self.frame_embedding = nn.Linear(config.video_feature_size, config.frame_embedding_size)
        self.word_embedding = nn.Embedding(
            config.vocab_size, config.word_embedding_size, padding_idx=config.pad_token_id
        )
        self.video_lstm = nn.LSTM(config.frame_embedding_size, config.hidden_size, batch_first=True)
        self.text_lstm = nn.LSTM(config.hidden_size + config.word_embedding_size, config.hidden_size, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def encode_video(self, video_features: torch.Tensor, video_attention_mask: torch.Tensor) -> RecurrentState:
        """Both LSTMs read the frames (the second with zero words); each video stops at its last real frame."""
        lengths = video_attention_mask.sum(dim=1).cpu()
        frames = self.dropout(self.frame_embedding(video_features))
        packed_frames = pack_padded_sequence(frames, lengths, batch_first=True, enforce_sorted=False)
        video_out, (video_h, video_c) = self.video_lstm(packed_frames)
        _, (text_h, text_c) = lstm_on_leading_features(
            self.text_lstm, video_out._replace(data=self.dropout(video_out.data))
        )
        return RecurrentState(
            video_h=to_batch_first(video_h),
            video_c=to_batch_first(video_c),
            text_h=to_batch_first(text_h),
            text_c=to_batch_first(text_c),
        )

    def decode(
        self, input_ids: torch.LongTensor, state: RecurrentState, output_attentions: bool = False
    ) -> tuple[torch.Tensor, RecurrentState, None]:
        """The first LSTM reads padding (zero frames), the second reads its output with the words."""
        batch_size, length = input_ids.shape
        padded_frames = self.lm_head.weight.new_empty(batch_size, length, 0)
        video_out, (video_h, video_c) = lstm_on_leading_features(
            self.video_lstm, padded_frames, (to_layer_first(state["video_h"]), to_layer_first(state["video_c"]))
        )
        words = self.dropout(self.word_embedding(input_ids))
        text_out, (text_h, text_c) = self.text_lstm(
            torch.cat([self.dropout(video_out), words], dim=-1),
            (to_layer_first(state["text_h"]), to_layer_first(state["text_c"])),
        )
        logits = self.lm_head(self.dropout(text_out))
        new_state = state.update(
            length,
            video_h=to_batch_first(video_h),
            video_c=to_batch_first(video_c),
            text_h=to_batch_first(text_h),
            text_c=to_batch_first(text_c),
        )
        return logits, new_state, None
