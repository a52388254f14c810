"""Mean-pooled LSTM: Translating Videos to Natural Language Using Deep Recurrent Neural Networks
(Venugopalan et al., NAACL 2015).

The masked mean of the frame features, linearly embedded, is fed with the word embedding at every step of a stacked
LSTM decoder that predicts the next word.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import (
    RecurrentState,
    VideoCaptioningConfig,
    VideoCaptioningPreTrainedModel,
    to_batch_first,
    to_layer_first,
)
from .layers import masked_mean


class MeanPoolConfig(VideoCaptioningConfig):
    r"""
    Configuration of [`MeanPoolForVideoCaptioning`]. Defaults follow the paper. Shared fields are documented in
    [`VideoCaptioningConfig`].

    Args:
        video_embedding_size (`int`, *optional*, defaults to 500):
            Size of the linear embedding of the mean-pooled video feature.
        word_embedding_size (`int`, *optional*, defaults to 500):
            Size of the word embedding.
        hidden_size (`int`, *optional*, defaults to 1000):
            Hidden size of every LSTM layer.
        num_hidden_layers (`int`, *optional*, defaults to 2):
            Number of stacked LSTM layers.
    """

    model_type = "vidcap_mean_pool"

    video_embedding_size: int = 500
    word_embedding_size: int = 500
    hidden_size: int = 1000
    num_hidden_layers: int = 2


class MeanPoolForVideoCaptioning(VideoCaptioningPreTrainedModel):
    """Mean-pooled LSTM captioner; see [`VideoCaptioningPreTrainedModel.forward`] for the inputs."""

    config_class = MeanPoolConfig

    def __init__(self, config: MeanPoolConfig) -> None:
        super().__init__(config)
        self.video_embedding = nn.Linear(config.video_feature_size, config.video_embedding_size)
        self.word_embedding = nn.Embedding(
            config.vocab_size, config.word_embedding_size, padding_idx=config.pad_token_id
        )
        self.lstm = nn.LSTM(
            config.video_embedding_size + config.word_embedding_size,
            config.hidden_size,
            num_layers=config.num_hidden_layers,
            dropout=config.dropout if config.num_hidden_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def encode_video(self, video_features: torch.Tensor, video_attention_mask: torch.Tensor) -> RecurrentState:
        """Embed the mean of the real frames; the LSTM starts from zeros."""
        video = self.dropout(self.video_embedding(masked_mean(video_features, video_attention_mask)))
        zeros = video.new_zeros(video.shape[0], self.config.num_hidden_layers, self.config.hidden_size)
        return RecurrentState(video=video, h=zeros, c=zeros)

    def decode(
        self, input_ids: torch.LongTensor, state: RecurrentState, output_attentions: bool = False
    ) -> tuple[torch.Tensor, RecurrentState, None]:
        words = self.dropout(self.word_embedding(input_ids))
        video = state["video"][:, None, :].expand(-1, input_ids.shape[1], -1)
        out, (h, c) = self.lstm(
            torch.cat([video, words], dim=-1), (to_layer_first(state["h"]), to_layer_first(state["c"]))
        )
        logits = self.lm_head(self.dropout(out))
        return logits, state.update(input_ids.shape[1], h=to_batch_first(h), c=to_batch_first(c)), None
