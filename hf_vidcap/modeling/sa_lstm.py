r"""SA-LSTM: soft temporal attention over frames feeding an LSTM decoder (Yao et al., *Describing Videos by Exploiting
Temporal Structure*, ICCV 2015).

The decoder starts from a state computed from the mean of the frame features. At every word step it attends over the
frames with additive attention conditioned on its previous hidden state,
$\alpha^{(t)} = \mathrm{softmax}_i\, w^\top \tanh(W_a h_{t-1} + U_a v_i + b_a)$, and reads the previous word with the
attended context $\varphi_t = \sum_i \alpha^{(t)}_i v_i$. A deep output layer predicts the next word from
$\tanh(W_p [h_t, \varphi_t] + E y_{t-1})$. Padding frames get attention weight exactly 0.

The query-independent half of the attention, $U_a v_i + b_a$, is computed once per video in `encode_video` and carried
in the [`RecurrentState`] with the frames, so neither training nor generation projects the frames again.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import RecurrentState, VideoCaptioningConfig, VideoCaptioningPreTrainedModel
from .layers import AdditiveAttention, masked_mean


class SALSTMConfig(VideoCaptioningConfig):
    r"""
    Configuration of [`SALSTMForVideoCaptioning`]. Shared fields are documented in [`VideoCaptioningConfig`].

    The defaults are the sizes of the authors' released configuration for Youtube2Text (MSVD) with GoogLeNet frame
    features: a 468-d word embedding and 3518 LSTM units, with the attention computed in a space the size of those
    1024-d features. They make a large decoder; most users shrink `hidden_size` (the demo uses 256). Two options of
    that released code are not in this model, as the paper's equations do not have them: the doubly stochastic
    attention penalty added to the loss (`alpha_c`) and the sigmoid gate on the attended context (`selector`).

    Args:
        word_embedding_size (`int`, *optional*, defaults to 468):
            Size of the word embedding, which is also the size of the deep output layer (the previous word's
            embedding is added to it).
        hidden_size (`int`, *optional*, defaults to 3518):
            Hidden size of the LSTM decoder.
        attention_size (`int`, *optional*, defaults to 1024):
            Size of the space in which the projected hidden state and the projected frames are added.

    Example:

    ```python
    >>> from hf_vidcap import SALSTMConfig, SALSTMForVideoCaptioning
    >>> model = SALSTMForVideoCaptioning(SALSTMConfig(vocab_size=5000, video_feature_size=1024, hidden_size=512))
    ```
    """

    model_type = "vidcap_sa_lstm"

    word_embedding_size: int = 468
    hidden_size: int = 3518
    attention_size: int = 1024


class SALSTMForVideoCaptioning(VideoCaptioningPreTrainedModel):
    """SA-LSTM with a word-prediction head; see [`VideoCaptioningPreTrainedModel.forward`] for the inputs.

    With `output_attentions=True` the output's `attentions` are the temporal attention weights, of shape
    `(batch_size, sequence_length, num_frames)`: row `t` is the attention that predicted the word after input `t`.
    `generate(..., output_attentions=True, return_dict_in_generate=True)` returns them per generated word.
    """

    config_class = SALSTMConfig

    def __init__(self, config: SALSTMConfig) -> None:
        super().__init__(config)
        self.word_embedding = nn.Embedding(
            config.vocab_size, config.word_embedding_size, padding_idx=config.pad_token_id
        )
        self.initial_state = nn.Linear(config.video_feature_size, 2 * config.hidden_size)
        self.attention = AdditiveAttention(config.hidden_size, config.video_feature_size, config.attention_size)
        self.lstm = nn.LSTMCell(config.word_embedding_size + config.video_feature_size, config.hidden_size)
        self.deep_output = nn.Linear(config.hidden_size + config.video_feature_size, config.word_embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.word_embedding_size, config.vocab_size)
        self.post_init()

    def encode_video(self, video_features: torch.Tensor, video_attention_mask: torch.Tensor) -> RecurrentState:
        """The initial `(h, c)` from the mean of the real frames, and the frames with their attention projection."""
        h, c = torch.tanh(self.initial_state(masked_mean(video_features, video_attention_mask))).chunk(2, dim=-1)
        return RecurrentState(
            h=h,
            c=c,
            frames=video_features,
            projected_frames=self.attention.project_keys(video_features),
            frame_mask=video_attention_mask,
        )

    def decode(
        self, input_ids: torch.LongTensor, state: RecurrentState, output_attentions: bool = False
    ) -> tuple[torch.Tensor, RecurrentState, torch.Tensor | None]:
        """One attention and one LSTM cell step per word (attention depends on the previous hidden state); the word
        embedding and the output layers run once over all the words."""
        words = self.word_embedding(input_ids)
        frames, projected_frames, frame_mask = state["frames"], state["projected_frames"], state["frame_mask"]
        h, c = state["h"], state["c"]
        hidden_states, contexts, weights = [], [], []
        for word in words.unbind(dim=1):
            context, alpha = self.attention(h, projected_frames, frames, frame_mask)
            h, c = self.lstm(torch.cat([word, context], dim=-1), (h, c))
            hidden_states.append(h)
            contexts.append(context)
            weights.append(alpha)
        hidden = self.dropout(torch.stack(hidden_states, dim=1))
        readout = torch.tanh(self.deep_output(torch.cat([hidden, torch.stack(contexts, dim=1)], dim=-1)) + words)
        logits = self.lm_head(self.dropout(readout))
        attentions = torch.stack(weights, dim=1) if output_attentions else None
        return logits, state.update(input_ids.shape[1], h=h, c=c), attentions
