"""The shared model tests. Every registered architecture runs them (see `test_architectures.py`); an architecture's
own test file may subclass `VideoCaptioningModelTesterMixin` to add tests or override `tiny_config_kwargs`."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, DynamicCache, GenerationConfig

from hf_vidcap.modeling import RecurrentState, VideoCaptioningPreTrainedModel

from ..helpers import run_without_hf_vidcap


VOCAB_SIZE = 23
BOS, EOS, PAD = 1, 2, 0


class VideoCaptioningModelTesterMixin:
    """Tests every captioning architecture must pass. Set `model_class`."""

    model_class: type[VideoCaptioningPreTrainedModel]
    batch_size = 3
    num_frames = 5

    # ------------------------------------------------------------------ helpers

    def tiny_config_kwargs(self) -> dict:
        """Shrink every `*_size` field of the config so the tests run in milliseconds."""
        sizes = {
            field.name: 12
            for field in dataclasses.fields(self.model_class.config_class)
            if field.name.endswith("_size") and field.type in ("int", int)
        }
        return {**sizes, "vocab_size": VOCAB_SIZE, "video_feature_size": 10, "frame_chunk_size": 4}

    def get_model(self, seed: int = 0, **overrides) -> VideoCaptioningPreTrainedModel:
        """A tiny model with large random weights, so that beams and greedy paths actually diverge."""
        torch.manual_seed(seed)
        config = self.model_class.config_class(**{**self.tiny_config_kwargs(), "initializer_range": 0.6, **overrides})
        return self.model_class(config).eval()

    def get_inputs(self, model: VideoCaptioningPreTrainedModel, seed: int = 0) -> dict[str, torch.Tensor]:
        return model.dummy_video_inputs(
            self.batch_size, self.num_frames, generator=torch.Generator().manual_seed(seed)
        )

    def get_labels(self, seed: int = 0, length: int = 6) -> torch.Tensor:
        labels = torch.randint(4, VOCAB_SIZE, (self.batch_size, length), generator=torch.Generator().manual_seed(seed))
        labels[:, -1] = EOS
        labels[0, 3] = EOS
        labels[0, 4:] = -100
        return labels

    @staticmethod
    def select(inputs: dict[str, torch.Tensor], rows: slice) -> dict[str, torch.Tensor]:
        return {name: value[rows] for name, value in inputs.items()}

    # ------------------------------------------------------------------ forward and training

    def test_forward_shapes_and_backward(self):
        model = self.get_model().train()
        inputs, labels = self.get_inputs(model), self.get_labels()
        output = model(**inputs, labels=labels)
        assert output.logits.shape == (self.batch_size, labels.shape[1], VOCAB_SIZE)
        assert torch.isfinite(output.loss)
        output.loss.backward()
        missing = [
            name for name, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
        ]
        assert not missing, f"parameters without gradient: {missing}"

    def test_loss_ignores_padding_and_matches_manual_cross_entropy(self):
        model = self.get_model()
        inputs, labels = self.get_inputs(model), self.get_labels()
        output = model(**inputs, labels=labels)
        keep = labels != -100
        expected = torch.nn.functional.cross_entropy(output.logits[keep], labels[keep])
        torch.testing.assert_close(output.loss, expected)
        summed = model(**inputs, labels=labels, num_items_in_batch=int(keep.sum()) * 2).loss
        torch.testing.assert_close(summed, expected / 2)
        torch.testing.assert_close(model(**inputs, labels=labels.int()).loss, expected)  # int32 labels, as ids
        # Half precision is scored in float32; double precision stays double (as `gradcheck` needs).
        double = model.double()(**inputs, labels=labels)
        assert double.loss.dtype == torch.float64
        torch.testing.assert_close(double.loss, expected.double())

    def test_learns_to_caption_a_tiny_set(self):
        model = self.get_model(initializer_range=0.1).train()
        inputs, labels = self.get_inputs(model), self.get_labels()
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
        first = None
        for _ in range(100):
            loss = model(**inputs, labels=labels).loss
            first = first if first is not None else loss.item()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert loss.item() < 0.1 * first
        model.eval()
        generated = model.generate(**inputs, num_beams=2, max_new_tokens=labels.shape[1])
        for row, label in zip(generated, labels):
            target = label[label != -100].tolist()
            assert row[1 : 1 + len(target)].tolist() == target

    # ------------------------------------------------------------------ recurrent state

    def test_teacher_forced_logits_equal_cached_steps(self):
        model = self.get_model()
        inputs, labels = self.get_inputs(model), self.get_labels()
        full = model(**inputs, labels=labels).logits
        input_ids = model.shift_tokens_right(labels)
        state, steps = None, []
        for t in range(input_ids.shape[1]):
            video = inputs if state is None else {}
            output = model(input_ids=input_ids[:, t : t + 1], past_key_values=state, use_cache=True, **video)
            state = output.past_key_values
            steps.append(output.logits)
        assert isinstance(state, RecurrentState) and state.get_seq_length() == input_ids.shape[1]
        torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-5)

    def test_padding_frames_change_nothing(self):
        model = self.get_model()
        inputs, labels = self.get_inputs(model), self.get_labels()
        # 3 more padding frames, and the steps they add to every stream, all holding garbage that must be ignored.
        padded = model.dummy_video_inputs(
            self.batch_size, self.num_frames + 3, generator=torch.Generator().manual_seed(9)
        )
        for name, value in inputs.items():
            padded[name][:, : value.shape[1]] = value
            if name != "video_attention_mask":  # NaN, as masking by multiplication would let through (0 * nan)
                padded[name][:, value.shape[1] :] = float("nan")
        padded["video_attention_mask"][:, self.num_frames :] = 0
        # The short videos' own padding frames too.
        padded["video_features"][~padded["video_attention_mask"].bool()] = float("nan")
        expected = model(**inputs, labels=labels).logits
        torch.testing.assert_close(model(**padded, labels=labels).logits, expected)
        # A float or bool mask is the same mask.
        for mask in (padded["video_attention_mask"].float(), padded["video_attention_mask"].bool()):
            torch.testing.assert_close(
                model(**{**padded, "video_attention_mask": mask}, labels=labels).logits, expected
            )

    def test_reorder_cache_selects_rows(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        state = model(input_ids=torch.full((self.batch_size, 1), BOS), **inputs, use_cache=True).past_key_values
        before = {name: tensor.clone() for name, tensor in state.tensors.items()}
        order = torch.tensor([2, 0, 0])
        state.reorder_cache(order)
        for name, tensor in state.tensors.items():
            torch.testing.assert_close(tensor, before[name][order])

    # ------------------------------------------------------------------ generate()

    def greedy_reference(self, model, inputs: dict, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding by hand, recomputing everything from the video at every step (no cache)."""
        ids = torch.full((self.batch_size, 1), BOS)
        for _ in range(max_new_tokens):
            next_ids = model(input_ids=ids, **inputs, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_ids], dim=1)
        return ids

    def strip_after_eos(self, sequences: torch.Tensor) -> list[list[int]]:
        rows = []
        for row in sequences.tolist():
            rows.append(row[: row.index(EOS, 1) + 1] if EOS in row[1:] else row)
        return rows

    def test_greedy_equals_reference_and_one_beam(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        greedy = model.generate(**inputs, do_sample=False, max_new_tokens=8)
        one_beam = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=8)
        reference = self.greedy_reference(model, inputs, max_new_tokens=8)
        assert self.strip_after_eos(greedy) == self.strip_after_eos(reference)
        assert torch.equal(greedy, one_beam)

    def test_beam_search_with_cache_equals_without(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        kwargs = {
            "num_beams": 4,
            "num_return_sequences": 2,
            "max_new_tokens": 8,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        cached = model.generate(**inputs, use_cache=True, **kwargs)
        uncached = model.generate(**inputs, use_cache=False, **kwargs)
        assert cached.sequences.shape[0] == self.batch_size * 2
        assert torch.equal(cached.sequences, uncached.sequences)
        torch.testing.assert_close(cached.sequences_scores, uncached.sequences_scores)

    def test_each_video_is_encoded_once_however_many_beams(self, monkeypatch):
        model = self.get_model()
        inputs = self.get_inputs(model)
        encoded_batch_sizes = []
        encode_video = model.encode_video
        monkeypatch.setattr(
            model,
            "encode_video",
            lambda **video: encoded_batch_sizes.append(video["video_features"].shape[0]) or encode_video(**video),
        )
        model.generate(**inputs, num_beams=4, num_return_sequences=2, max_new_tokens=4)
        assert encoded_batch_sizes == [self.batch_size]

    def test_generation_continues_a_given_prefix(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        prefix = torch.tensor([[BOS, 5, 6]] * self.batch_size)
        kwargs = {"input_ids": prefix, "num_beams": 3, "max_new_tokens": 5}
        cached = model.generate(**inputs, **kwargs)
        assert torch.equal(cached[:, :3], prefix)
        assert torch.equal(cached, model.generate(**inputs, use_cache=False, **kwargs))

    def test_a_caption_start_that_cannot_be_continued_is_refused(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        video = inputs.pop("video_features")
        with pytest.raises(ValueError, match=r"takes the caption start .* as its positional argument, got a "
                           r"torch.float32 tensor of shape \[3, 5, 10\]: pass the video by name"):  # fmt: skip
            model.generate(video, **inputs)  # as Whisper's generate(input_features)
        ended = torch.tensor([[BOS, 5], [BOS, 6], [BOS, 5]])
        ended[1, 1] = EOS  # as `tokenizer(text).input_ids` builds it
        with pytest.raises(ValueError, match=r"holds `<eos>` \(id 2\) in rows \[1\]: generation would go on past"):
            model.generate(input_ids=ended, video_features=video, **inputs)

    @pytest.mark.parametrize("num_beams", [1, 3])
    def test_generation_continues_from_a_returned_state(self, num_beams):
        """The state `forward(use_cache=True)` returned after all but the last prefix word, one row per video, goes
        on as from the videos themselves, with beams too (it is repeated for them), and is left as it was."""
        model = self.get_model()
        inputs = self.get_inputs(model)
        prefix = torch.tensor([[BOS, 5, 6]] * self.batch_size)
        state = model(**inputs, input_ids=prefix[:, :-1], use_cache=True).past_key_values
        before = {name: tensor.clone() for name, tensor in state.tensors.items()}
        kwargs = {"input_ids": prefix, "num_beams": num_beams, "max_new_tokens": 5}
        assert torch.equal(model.generate(past_key_values=state, **kwargs), model.generate(**inputs, **kwargs))
        assert all(torch.equal(state.tensors[name], tensor) for name, tensor in before.items())

    def test_caption_length_defaults_to_the_config_and_yields_to_generate_arguments(self, tmp_path):
        """`max_caption_length` words by default, also after saving; `max_length` (as
        `Seq2SeqTrainer(generation_max_length=...)` passes it) and `max_new_tokens` given to generate() win over it."""
        model = self.get_model(max_caption_length=4, eos_token_id=None)  # no <eos>: decode to the limit
        inputs = self.get_inputs(model)
        assert model.generate(**inputs).shape[1] == 5
        assert model.generate(**inputs, max_length=3).shape[1] == 3
        assert model.generate(**inputs, max_new_tokens=6, num_beams=2).shape[1] == 7
        assert model.generate(**inputs, generation_config=GenerationConfig(max_length=2)).shape[1] == 2
        model.save_pretrained(tmp_path)
        assert AutoModel.from_pretrained(tmp_path).generate(**inputs).shape[1] == 5
        assert AutoModel.from_pretrained(tmp_path, max_caption_length=2).generate(**inputs).shape[1] == 3
        loaded, _ = AutoModel.from_pretrained(tmp_path, max_caption_length=3, output_loading_info=True)
        assert loaded.generate(**inputs).shape[1] == 4
        loaded.generation_config.max_length = 7  # changed on a live model, as transformers users do: it is kept
        loaded.save_pretrained(tmp_path / "changed")
        reloaded = AutoModel.from_pretrained(tmp_path / "changed")
        assert reloaded.config.max_caption_length == 6 and reloaded.generate(**inputs).shape[1] == 7
        generation_config = GenerationConfig.from_pretrained(tmp_path, max_length=9)  # given, not to be replaced
        given = AutoModel.from_pretrained(tmp_path, generation_config=generation_config)
        assert given.config.max_caption_length == 8 and given.generate(**inputs).shape[1] == 9
        # values given at load are checked as the config's own are (transformers sets them after the checks)
        with pytest.raises(ValueError, match="`max_caption_length` must be a positive integer, got 0"):
            AutoModel.from_pretrained(tmp_path, max_caption_length=0)
        with pytest.raises(ValueError, match=r"`eos_token_id` is 99, outside the vocabulary"):
            AutoConfig.from_pretrained(tmp_path, eos_token_id=99)

    def test_max_new_tokens_alone_gives_no_warning(self, caplog):
        """The model's default length is not a `max_length` the user set beside `max_new_tokens`."""
        model = self.get_model()
        with caplog.at_level(logging.WARNING):
            model.generate(**self.get_inputs(model), max_new_tokens=3)
        assert not [record for record in caplog.records if "max_new_tokens" in record.getMessage()]

    def test_beam_search_depends_on_reordering_the_state(self, monkeypatch):
        """The equivalence above has teeth: a state that is not reordered gives different beams. Every beam is
        returned, since the best one may well stay in its own row throughout, where reordering changes nothing."""
        model = self.get_model()
        inputs = self.get_inputs(model)
        kwargs = {"num_beams": 4, "num_return_sequences": 4, "max_new_tokens": 8, "return_dict_in_generate": True}
        reorder_cache, moved = RecurrentState.reorder_cache, []

        def recording_reorder_cache(state, beam_idx):
            moved.append(not torch.equal(beam_idx, torch.arange(len(beam_idx))))
            reorder_cache(state, beam_idx)

        monkeypatch.setattr(RecurrentState, "reorder_cache", recording_reorder_cache)
        correct = model.generate(**inputs, **kwargs)
        assert any(moved), "beam search never moved a beam to another row: nothing to test"
        monkeypatch.setattr(RecurrentState, "reorder_cache", lambda state, beam_idx: None)
        broken = model.generate(**inputs, **kwargs)
        assert not (
            torch.equal(correct.sequences, broken.sequences)
            and torch.allclose(correct.sequences_scores, broken.sequences_scores)
        )

    def test_batch_generation_equals_one_video_at_a_time(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        batch = self.strip_after_eos(model.generate(**inputs, num_beams=3, max_new_tokens=8))
        for i in range(self.batch_size):
            single = model.generate(**self.select(inputs, slice(i, i + 1)), num_beams=3, max_new_tokens=8)
            assert self.strip_after_eos(single)[0] == batch[i]

    def test_sampling_is_seeded_and_returns_several_sequences(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        torch.manual_seed(1)
        first = model.generate(**inputs, do_sample=True, num_return_sequences=3, max_new_tokens=6)
        torch.manual_seed(1)
        again = model.generate(**inputs, do_sample=True, num_return_sequences=3, max_new_tokens=6)
        assert first.shape[0] == self.batch_size * 3 and first.shape[1] <= 7
        assert torch.equal(first, again)
        assert (first[:, 0] == BOS).all()

    # ------------------------------------------------------------------ saving and sharing

    def test_save_and_load_with_auto_classes(self, tmp_path):
        model = self.get_model()
        inputs, labels = self.get_inputs(model), self.get_labels()
        model.save_pretrained(tmp_path)
        config = AutoConfig.from_pretrained(tmp_path)
        assert type(config) is self.model_class.config_class
        for auto_class in (AutoModel, AutoModelForImageTextToText):
            loaded = auto_class.from_pretrained(tmp_path).eval()
            assert type(loaded) is self.model_class
            torch.testing.assert_close(loaded(**inputs, labels=labels).logits, model(**inputs, labels=labels).logits)
            assert torch.equal(loaded.generate(**inputs, num_beams=2), model.generate(**inputs, num_beams=2))

    def test_resizing_the_vocabulary_keeps_the_known_words(self, tmp_path):
        """Words added to the tokenizer: `resize_token_embeddings` grows the word embedding and the output layer, and
        the scores of the known words stay as they were."""
        model = self.get_model()
        inputs, ids = self.get_inputs(model), torch.full((self.batch_size, 1), BOS)
        with torch.no_grad():
            before = model(**inputs, input_ids=ids).logits
            model.resize_token_embeddings(VOCAB_SIZE + 3, mean_resizing=False)
            after = model(**inputs, input_ids=torch.cat([ids, ids.new_full(ids.shape, VOCAB_SIZE + 2)], dim=1)).logits
        assert model.config.vocab_size == VOCAB_SIZE + 3 and after.shape[-1] == VOCAB_SIZE + 3
        assert (
            model.get_input_embeddings().num_embeddings == model.get_output_embeddings().out_features == VOCAB_SIZE + 3
        )
        torch.testing.assert_close(after[:, 0, :VOCAB_SIZE], before[:, 0])
        model.save_pretrained(tmp_path)
        reloaded = AutoModel.from_pretrained(tmp_path)
        assert reloaded.word_embedding.weight.data_ptr() != reloaded.lm_head.weight.data_ptr()
        with torch.no_grad():
            torch.testing.assert_close(reloaded(**inputs, input_ids=ids).logits, after[:, :1])

    def test_tied_word_embeddings_are_one_matrix_through_training_and_saving(self, tmp_path):
        model = self.get_model(tie_word_embeddings=True).train()
        assert model.lm_head.weight is model.word_embedding.weight
        inputs, labels = self.get_inputs(model), self.get_labels()
        model(**inputs, labels=labels).loss.backward()
        torch.optim.SGD(model.parameters(), lr=0.5).step()
        assert model.lm_head.weight is model.word_embedding.weight  # one update, from both of its uses
        model.save_pretrained(tmp_path)
        reloaded = AutoModel.from_pretrained(tmp_path).eval()
        assert reloaded.lm_head.weight is reloaded.word_embedding.weight
        torch.testing.assert_close(reloaded.lm_head.weight, model.lm_head.weight)
        torch.testing.assert_close(
            reloaded(**inputs, labels=labels).logits, model.eval()(**inputs, labels=labels).logits
        )

    def test_trust_remote_code_load_without_hf_vidcap(self, tmp_path):
        model = self.get_model()
        inputs = self.get_inputs(model)
        model.save_pretrained(tmp_path / "model")
        torch.save({**inputs, "expected": model.generate(**inputs, num_beams=2, max_new_tokens=6)}, tmp_path / "io.pt")
        run_without_hf_vidcap(
            """
            import torch
            from transformers import AutoModel, AutoModelForImageTextToText
            io = torch.load("io.pt")
            expected = io.pop("expected")
            for auto_class in (AutoModel, AutoModelForImageTextToText):
                model = auto_class.from_pretrained("model", trust_remote_code=True).eval()
                assert not type(model).__module__.startswith("hf_vidcap"), type(model).__module__
                assert torch.equal(model.generate(**io, num_beams=2, max_new_tokens=6), expected)
            """,
            cwd=tmp_path,
        )

    # ------------------------------------------------------------------ bad input

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("pad_token_id", None, r"`pad_token_id` must be a token id \(the tokenizer's `<pad>`\), got None"),
            ("bos_token_id", None, r"`bos_token_id` must be a token id"),
            ("vision_feature_pooling", "max", r"`vision_feature_pooling` must be one of \('mean'.*got 'max'"),
            ("frame_chunk_size", 0, r"`frame_chunk_size` must be a positive integer, got 0"),
            ("max_caption_length", 0, r"`max_caption_length` must be a positive integer"),
            ("video_feature_size", 0, r"`video_feature_size` must be a positive integer, got 0"),
            ("vocab_size", 2.5, r"`vocab_size` must be a positive integer, got 2.5"),
            ("pad_token_id", -1, rf"`pad_token_id` is -1, outside the vocabulary of `vocab_size={VOCAB_SIZE}`"),
            ("eos_token_id", VOCAB_SIZE, rf"`eos_token_id` is {VOCAB_SIZE}, outside the vocabulary"),
        ],
    )
    def test_bad_config_values_are_named_when_the_config_is_made(self, field, value, message):
        with pytest.raises(ValueError, match=message):
            self.model_class.config_class(**{**self.tiny_config_kwargs(), field: value})
        if field == "vision_feature_pooling":  # and 'grid' with a grid of one cell, which is 'mean' pooling
            with pytest.raises(ValueError, match=r"`vision_feature_grid_size=1` is one cell, the 'mean' pooling"):
                self.model_class.config_class(
                    **{**self.tiny_config_kwargs(), field: "grid", "vision_feature_grid_size": 1}
                )

    def test_bad_word_inputs_raise_clear_errors(self):
        """Word inputs that do not fit the videos are named before any recurrent kernel sees them (a raw LSTM call
        given a state of another batch size corrupts memory instead of raising)."""
        model = self.get_model()
        video = self.get_inputs(model)
        labels = self.get_labels()[:, :3]
        cases = [
            (
                {"labels": labels.repeat(2, 1)},
                rf"`labels` has {2 * self.batch_size} rows but there are {self.batch_size} videos",
            ),
            ({"input_ids": labels[:1]}, rf"`input_ids` has 1 rows but there are {self.batch_size} videos"),
            ({"input_ids": labels[0]}, r"`input_ids` must be a 2-D tensor of word ids .*got \[3\]"),
            ({"labels": labels.float()}, r"`labels` must be a 2-D tensor of word ids"),
            (
                {"input_ids": labels, "labels": labels[:, :2]},
                r"`labels` has shape \[\d+, 2\] but `input_ids` has \[\d+, 3\]",
            ),
            ({"labels": labels[:, :0]}, r"`labels` is empty"),
            ({}, r"Pass `input_ids` or `labels`"),
            (
                {
                    "labels": labels.index_put(
                        (torch.tensor(0), torch.tensor(1)), torch.tensor(model.config.vocab_size)
                    )
                },
                rf"`labels` holds ids outside the vocabulary of {model.config.vocab_size} words .*: \[{model.config.vocab_size}\]. "
                r"After growing the tokenizer, call `model.resize_token_embeddings",
            ),
            (
                {"input_ids": labels.index_put((torch.tensor(1),), torch.tensor(-100))},
                r"`input_ids` holds ids .*\[-100\]",
            ),
            ({"labels": torch.full_like(labels, -100)}, r"`labels` hold no word to predict \(every id is -100\)"),
        ]
        for words, message in cases:
            with pytest.raises(ValueError, match=message):
                model(**video, **words)
        state = model(**video, input_ids=labels[:, :1], use_cache=True).past_key_values
        with pytest.raises(
            ValueError, match=rf"`input_ids` has 1 rows but there are {self.batch_size} videos in `past_key_values`"
        ):
            model(input_ids=labels[:1, :1], past_key_values=state)
        with pytest.raises(ValueError, match=r"`past_key_values` must be the `RecurrentState`.*got a DynamicCache"):
            model(**video, input_ids=labels[:, :1], past_key_values=DynamicCache())
        for options in ({}, {"num_beams": 2}, {"use_cache": False, "num_return_sequences": 2, "do_sample": True}):
            # The user's counts, not those after generate() repeats every row for its beams or sequences.
            with pytest.raises(ValueError, match=rf"`input_ids` has 1 rows but there are {self.batch_size} videos"):
                model.generate(**video, input_ids=labels[:1, :1], max_new_tokens=2, **options)
        with pytest.raises(ValueError, match="does not return hidden states"):
            model.generate(**video, output_hidden_states=True, return_dict_in_generate=True, max_new_tokens=2)
        with pytest.raises(ValueError, match="`stop_strings` needs a sub-word tokenizer"):
            model.generate(**video, stop_strings=["guitar"], max_new_tokens=2)

    def test_bad_video_inputs_raise_clear_errors(self):
        model = self.get_model()
        inputs = self.get_inputs(model)
        features, mask = inputs["video_features"], inputs["video_attention_mask"]
        ids = torch.full((self.batch_size, 1), BOS)
        cases = [
            ({"video_features": features[..., :-1]}, r"video_features.*feature size 9.*expects 10"),
            ({"video_features": features[0]}, r"video_features.*3-D"),
            ({"video_features": features, "video_attention_mask": mask[:, :-1]}, r"video_attention_mask.*shape"),
            ({"video_features": features, "video_attention_mask": torch.zeros_like(mask)}, r"no frames"),
            ({"video_features": features, "video_attention_mask": mask.flip(1)}, r"real frames first"),
            ({"video_features": features, "video_attention_mask": mask / 2}, r"must hold only 0 and 1, got \[0.5\]"),
            ({"video_features": features[:, :0]}, r"video_features.*no frames"),
            ({"video_features": features[:0], "video_attention_mask": mask[:0]}, r"`video_features` holds no video"),
            (
                {"video_features": features.index_put((torch.tensor(1), torch.tensor(0)), torch.tensor(float("inf")))},
                r"`video_features` holds NaN or infinite values in the real frames of videos \[1\]",
            ),
            ({}, r"exactly one of"),
            ({"pixel_values_videos": torch.zeros(self.batch_size, 2, 3, 8, 8)}, r"no vision backbone"),
        ]
        for stream in model.video_streams():
            values = inputs[stream.name].clone()
            values[2, 0] = float("nan")
            cases.append(
                ({**inputs, stream.name: values}, rf"`{stream.name}` holds NaN or infinite values .* videos \[2\]")
            )
        for video, message in cases:
            with pytest.raises(ValueError, match=message):
                model(input_ids=ids, **video)
            with pytest.raises(ValueError, match=message):
                model.generate(**video, max_new_tokens=2)
        # A misspelled input is named, not ignored (every frame would be taken as real).
        with pytest.raises(TypeError, match=r"unexpected keyword arguments video_mask; its video inputs are "):
            model(input_ids=ids, video_features=features, video_mask=mask)
