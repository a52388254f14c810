"""SA-LSTM beyond the shared model tests: its recurrence against a hand-written reference, the frame projection done
once per video, and the temporal attention weights returned by forward and by generate()."""

import pytest
import torch

from hf_vidcap import SALSTMConfig, SALSTMForVideoCaptioning

from .common import VOCAB_SIZE


BATCH_SIZE, NUM_FRAMES = 3, 5


@pytest.fixture
def model() -> SALSTMForVideoCaptioning:
    torch.manual_seed(0)
    config = SALSTMConfig(
        vocab_size=VOCAB_SIZE,
        video_feature_size=10,
        word_embedding_size=8,
        hidden_size=12,
        attention_size=6,
        initializer_range=0.6,
    )
    return SALSTMForVideoCaptioning(config).eval()


@pytest.fixture
def inputs(model) -> dict[str, torch.Tensor]:
    # Videos of 5, 4 and 3 real frames.
    return model.dummy_video_inputs(BATCH_SIZE, NUM_FRAMES, generator=torch.Generator().manual_seed(0))


def reference_sa_lstm(model, features, mask, input_ids):
    """The SA-LSTM equations written out with the model's parameters and plain tensor operations."""
    p = dict(model.named_parameters())
    real = mask.bool()
    mean = (features * real[..., None]).sum(1) / real.sum(1, keepdim=True)
    h, c = torch.tanh(mean @ p["initial_state.weight"].T + p["initial_state.bias"]).chunk(2, dim=-1)
    keys = features @ p["attention.key_projection.weight"].T + p["attention.key_projection.bias"]
    logits, attentions = [], []
    for t in range(input_ids.shape[1]):
        word = p["word_embedding.weight"][input_ids[:, t]]
        query = h @ p["attention.query_projection.weight"].T
        energy = (torch.tanh(keys + query[:, None]) @ p["attention.score.weight"].T).squeeze(-1)
        alpha = torch.softmax(energy.masked_fill(~real, float("-inf")), dim=-1)
        context = (alpha[..., None] * features).sum(1)
        gates = (
            torch.cat([word, context], -1) @ p["lstm.weight_ih"].T
            + p["lstm.bias_ih"]
            + h @ p["lstm.weight_hh"].T
            + p["lstm.bias_hh"]
        )
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        readout = torch.tanh(torch.cat([h, context], -1) @ p["deep_output.weight"].T + p["deep_output.bias"] + word)
        logits.append(readout @ p["lm_head.weight"].T + p["lm_head.bias"])
        attentions.append(alpha)
    return torch.stack(logits, 1), torch.stack(attentions, 1)


def test_forward_equals_the_written_out_equations(model, inputs):
    input_ids = torch.randint(3, VOCAB_SIZE, (BATCH_SIZE, 6), generator=torch.Generator().manual_seed(1))
    output = model(**inputs, input_ids=input_ids, output_attentions=True)
    logits, attentions = reference_sa_lstm(model, inputs["video_features"], inputs["video_attention_mask"], input_ids)
    torch.testing.assert_close(output.logits, logits)
    torch.testing.assert_close(output.attentions, attentions)


def test_attention_sums_to_one_over_real_frames_and_is_zero_on_padding(model, inputs):
    input_ids = torch.randint(3, VOCAB_SIZE, (BATCH_SIZE, 7), generator=torch.Generator().manual_seed(2))
    attentions = model(**inputs, input_ids=input_ids, output_attentions=True).attentions
    mask = inputs["video_attention_mask"].bool()
    assert attentions.shape == (BATCH_SIZE, 7, NUM_FRAMES)
    torch.testing.assert_close(attentions.sum(-1), torch.ones(BATCH_SIZE, 7))
    padding = ~mask[:, None, :].expand_as(attentions)
    assert padding.any() and torch.equal(attentions[padding], torch.zeros(int(padding.sum())))
    assert (attentions[~padding] > 0).all()
    # The weights move with the decoder state: not the same at every step.
    assert not torch.allclose(attentions[:, 0], attentions[:, -1])


def test_frames_are_projected_once_per_video(model, inputs):
    batch_sizes = []
    model.attention.key_projection.register_forward_hook(lambda module, args, out: batch_sizes.append(len(args[0])))
    model(**inputs, input_ids=torch.full((BATCH_SIZE, 9), 5))
    assert batch_sizes == [BATCH_SIZE]
    batch_sizes.clear()
    model.generate(**inputs, num_beams=4, max_new_tokens=6)
    assert batch_sizes == [BATCH_SIZE]


def test_no_attentions_unless_asked(model, inputs):
    assert model(**inputs, input_ids=torch.full((BATCH_SIZE, 2), 5)).attentions is None


def test_greedy_generate_returns_one_attention_per_word_equal_to_teacher_forcing(model, inputs):
    out = model.generate(
        **inputs, max_new_tokens=6, do_sample=False, output_attentions=True, return_dict_in_generate=True
    )
    generated = out.sequences.shape[1] - 1
    assert len(out.attentions) == generated
    assert all(step.shape == (BATCH_SIZE, 1, NUM_FRAMES) for step in out.attentions)
    teacher_forced = model(**inputs, input_ids=out.sequences[:, :-1], output_attentions=True).attentions
    torch.testing.assert_close(torch.cat(out.attentions, dim=1), teacher_forced)


@pytest.mark.parametrize("use_cache", [True, False])
def test_beam_search_attentions_follow_beam_indices_to_teacher_forcing(model, inputs, use_cache):
    num_beams = 3
    out = model.generate(
        **inputs,
        num_beams=num_beams,
        max_new_tokens=6,
        use_cache=use_cache,
        output_attentions=True,
        return_dict_in_generate=True,
    )
    assert len(out.attentions) == out.beam_indices.shape[1]
    assert all(step.shape[0] == BATCH_SIZE * num_beams for step in out.attentions)
    teacher_forced = model(**inputs, input_ids=out.sequences[:, :-1], output_attentions=True).attentions
    checked = 0
    for row, beams in enumerate(out.beam_indices.tolist()):
        for step, beam in enumerate(beams):
            if beam < 0:  # this sequence ended before the longest one
                break
            # Without a cache every step re-reads the whole prefix: the step's own weights are the last row.
            torch.testing.assert_close(out.attentions[step][beam, -1], teacher_forced[row, step])
            checked += 1
    assert checked >= BATCH_SIZE
