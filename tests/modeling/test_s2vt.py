"""S2VT beyond the shared model tests: the LSTM calls that skip S2VT's zero inputs equal plain `nn.LSTM` calls on the
zero-padded inputs, and the whole model equals the paper's formulation written with explicit zero padding."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning
from hf_vidcap.modeling.s2vt import lstm_on_leading_features

from .common import VOCAB_SIZE


INPUT_SIZE, HIDDEN_SIZE, BATCH_SIZE, LENGTH = 7, 5, 3, 4


def gradients(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Takes (and clears) the tensors' gradients; a tensor the loss does not reach has a zero gradient."""
    grads = [torch.zeros_like(tensor) if tensor.grad is None else tensor.grad.clone() for tensor in tensors]
    for tensor in tensors:
        tensor.grad = None
    return grads


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("given_features", [0, 3, INPUT_SIZE])
@pytest.mark.parametrize("with_state", [True, False])
def test_lstm_on_leading_features_equals_the_lstm_on_zero_padded_inputs(batch_first, given_features, with_state):
    torch.manual_seed(0)
    lstm = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, batch_first=batch_first)
    shape = (BATCH_SIZE, LENGTH) if batch_first else (LENGTH, BATCH_SIZE)
    given = torch.randn(*shape, given_features, requires_grad=True)
    state = tuple(torch.randn(1, BATCH_SIZE, HIDDEN_SIZE, requires_grad=True) for _ in range(2))
    hx = state if with_state else None
    padded = torch.cat([given, given.new_zeros(*shape, INPUT_SIZE - given_features)], dim=-1)

    expected, (expected_h, expected_c) = lstm(padded, hx)
    (expected.sum() + expected_h.sum() + 2 * expected_c.sum()).backward()
    expected_grads = (
        gradients(given, *state, *lstm.parameters()) if with_state else gradients(given, *lstm.parameters())
    )

    output, (h, c) = lstm_on_leading_features(lstm, given, hx)
    (output.sum() + h.sum() + 2 * c.sum()).backward()
    grads = gradients(given, *state, *lstm.parameters()) if with_state else gradients(given, *lstm.parameters())

    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h, expected_h)
    torch.testing.assert_close(c, expected_c)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)


def test_lstm_on_leading_features_keeps_each_sequence_of_an_unsorted_packed_batch_in_place():
    torch.manual_seed(0)
    lstm = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, batch_first=True)
    given = torch.randn(BATCH_SIZE, LENGTH, 3, requires_grad=True)
    lengths = torch.tensor([2, LENGTH, 3])  # unsorted, so packing permutes the batch
    hx = tuple(torch.randn(1, BATCH_SIZE, HIDDEN_SIZE) for _ in range(2))
    padded = torch.cat([given, given.new_zeros(BATCH_SIZE, LENGTH, INPUT_SIZE - 3)], dim=-1)

    expected, (expected_h, expected_c) = lstm(pack_padded_sequence(padded, lengths, True, enforce_sorted=False), hx)
    (expected.data.sum() + expected_h[0, 0].sum() + expected_c[0, 2].sum()).backward()
    expected_grads = gradients(given, *lstm.parameters())

    packed = pack_padded_sequence(given, lengths, batch_first=True, enforce_sorted=False)
    output, (h, c) = lstm_on_leading_features(lstm, packed, hx)
    (output.data.sum() + h[0, 0].sum() + c[0, 2].sum()).backward()

    torch.testing.assert_close(output.data, expected.data)
    assert torch.equal(output.batch_sizes, expected.batch_sizes)
    assert torch.equal(output.unsorted_indices, expected.unsorted_indices)
    torch.testing.assert_close(h, expected_h)
    torch.testing.assert_close(c, expected_c)
    for grad, expected_grad in zip(gradients(given, *lstm.parameters()), expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("packed", [True, False])
def test_lstm_on_leading_features_off_the_cpu_runs_the_module_on_zero_padded_inputs(packed):
    """Off the CPU the module runs with its flat (cuDNN) weights; the meta device stands in for a GPU here."""
    lstm = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, batch_first=True).to("meta")
    widths = []
    lstm.register_forward_pre_hook(lambda module, args: widths.append(args[0].data.shape[-1]))
    given = torch.empty(BATCH_SIZE, LENGTH, 3, device="meta")
    if packed:
        given = pack_padded_sequence(given, torch.tensor([2, LENGTH, 3]), batch_first=True, enforce_sorted=False)
    output, (h, c) = lstm_on_leading_features(lstm, given)
    assert widths == [INPUT_SIZE]
    assert (output.data if packed else output).shape[-1] == HIDDEN_SIZE
    assert h.shape == c.shape == (1, BATCH_SIZE, HIDDEN_SIZE)


def paper_s2vt_logits(model: S2VTForVideoCaptioning, features: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """S2VT as the paper draws it: both LSTMs run over frames then words, reading explicit zeros where they have no input."""
    config = model.config
    batch_size, num_frames, _ = features.shape
    length = input_ids.shape[1]
    frames = model.frame_embedding(features)
    video_in = torch.cat([frames, frames.new_zeros(batch_size, length, config.frame_embedding_size)], dim=1)
    video_out, _ = model.video_lstm(video_in)
    words = model.word_embedding(input_ids)
    words = torch.cat([words.new_zeros(batch_size, num_frames, config.word_embedding_size), words], dim=1)
    text_out, _ = model.text_lstm(torch.cat([video_out, words], dim=-1))
    return model.lm_head(text_out[:, num_frames:])


def test_s2vt_equals_the_paper_formulation_with_explicit_zeros():
    torch.manual_seed(0)
    config = S2VTConfig(
        vocab_size=VOCAB_SIZE, video_feature_size=10, frame_embedding_size=6, word_embedding_size=4, hidden_size=8
    )
    model = S2VTForVideoCaptioning(config).train()
    features = torch.randn(BATCH_SIZE, 5, 10)
    labels = torch.randint(4, VOCAB_SIZE, (BATCH_SIZE, 6))

    expected = paper_s2vt_logits(model, features, model.shift_tokens_right(labels))
    nn.functional.cross_entropy(expected.flatten(0, 1), labels.flatten()).backward()
    expected_grads = gradients(*model.parameters())

    outputs = model(video_features=features, labels=labels)
    outputs.loss.backward()

    torch.testing.assert_close(outputs.logits, expected)
    for (name, _), grad, expected_grad in zip(
        model.named_parameters(), gradients(*model.parameters()), expected_grads, strict=True
    ):
        torch.testing.assert_close(grad, expected_grad, msg=lambda message, name=name: f"{name}: {message}")


def test_tying_a_word_embedding_of_another_size_than_the_output_layer_reads_is_refused():
    config = S2VTConfig(
        vocab_size=VOCAB_SIZE, hidden_size=16, word_embedding_size=8, video_feature_size=4, tie_word_embeddings=True
    )
    with pytest.raises(ValueError, match=r"S2VTForVideoCaptioning embeds words in 8 values \(word_embedding_size\) "
                       r"and its output layer reads 16: make them equal"):  # fmt: skip
        S2VTForVideoCaptioning(config)
