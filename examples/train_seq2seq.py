"""Train a video captioner with `Seq2SeqTrainer`; every `Seq2SeqTrainingArguments` flag works as in transformers'
own examples (`--report_to`, `--bf16`, `--gradient_accumulation_steps`, `--save_steps`...). `--resume_from_checkpoint`
takes a checkpoint folder, or `latest` (or `true`) for the newest complete one in `--output_dir`.

The dataset is anything `hf_vidcap.data.load_captioning_dataset` reads: extracted features (`hf-vidcap
extract-features`), or MSVD, MSR-VTT or a folder of videos for a model with a vision backbone (`--vision_model`).

    python examples/train_seq2seq.py --dataset features/ --model_type s2vt --output_dir runs/s2vt \
        --num_train_epochs 10 --per_device_train_batch_size 64 --learning_rate 1e-3 \
        --eval_strategy epoch --generation_num_beams 5 --save_steps 500 --report_to tensorboard
    torchrun --nproc_per_node 2 examples/train_seq2seq.py ... [--use_cpu]   # on two processes (CPU: --use_cpu)
    python examples/train_seq2seq.py --dataset features/ --model_name_or_path runs/s2vt --output_dir runs/s2vt-test \
        --do_predict --generation_num_beams 5   # score a saved model on the test split

Without `--do_train`, `--do_eval` or `--do_predict` it trains, then evaluates on `--eval_split` (unless it is "");
with any of them it does just those (`--do_predict` scores `--test_split`). The output folder ends with the model and
processor (`hf-vidcap caption` and `hf-vidcap evaluate` read them), `eval_results.json` and `predict_results.json`
with the scores, and `generated_predictions.txt` with one caption per test clip. `--push_to_hub --hub_model_id
me/name` publishes the model with the hf_vidcap model card (`--dataset_name` names the dataset of its scores).
`hf-vidcap train` is the same training with a shorter list of options.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transformers import HfArgumentParser, Seq2SeqTrainingArguments, set_seed

from hf_vidcap.data import load_captioning_dataset
from hf_vidcap.training import (
    build_seq2seq_trainer,
    check_checkpoint_fits,
    check_features_match,
    check_output_dir,
    features_info_of,
    find_checkpoint,
    frame_preprocessing,
    load_captioner,
    load_or_build_captioner,
    select_split,
)


@dataclass
class CaptioningArguments:
    dataset: str = field(metadata={"help": "features, MSVD, MSR-VTT, a folder of videos, or a saved DatasetDict"})
    model_type: str | None = field(default=None, metadata={"help": "architecture of a new model (s2vt, ...)"})
    model_name_or_path: str | None = field(default=None, metadata={"help": "a saved model folder to fine-tune"})
    config_overrides: str | None = field(
        default=None, metadata={"help": 'config fields of a new model, e.g. "hidden_size=512,dropout=0.3"'}
    )
    vision_model: str | None = field(default=None, metadata={"help": "vision backbone of a new model"})
    num_frames: int | None = field(default=None, metadata={"help": "frames per video of a new processor (16)"})
    frame_size: int | None = field(default=None, metadata={"help": "frame side of a new processor (112)"})
    min_word_count: int = field(default=1, metadata={"help": "words seen fewer times in training map to <unk>"})
    keep_vocabulary: bool = field(
        default=False, metadata={"help": "fine-tuning: read new caption words as <unk> instead of adding them"}
    )
    train_split: str = field(default="train")
    eval_split: str | None = field(default="validation", metadata={"help": "split scored during and after training"})
    test_split: str = field(default="test", metadata={"help": "split scored by --do_predict"})
    dataset_name: str | None = field(
        default=None, metadata={"help": "the dataset's name on the model card (msvd, msr-vtt, a Hub id)"}
    )


def main() -> None:
    captioning_args, training_args = HfArgumentParser(
        (CaptioningArguments, Seq2SeqTrainingArguments)
    ).parse_args_into_dataclasses()
    # As transformers' examples, but none of --do_train/--do_eval/--do_predict means train, then evaluate on eval_split.
    # (`TrainingArguments` turns `do_eval` on for an `--eval_strategy`, an option of training: that asks for no eval.)
    only_eval = training_args.do_eval and training_args.eval_strategy == "no"
    asked = training_args.do_train or only_eval or training_args.do_predict
    do_train = training_args.do_train or not asked
    do_eval = training_args.do_eval or (not asked and bool(captioning_args.eval_split))
    if do_eval and not captioning_args.eval_split:
        raise ValueError("--do_eval needs an --eval_split.")
    if not do_train and captioning_args.model_name_or_path is None:
        raise ValueError("Evaluating or predicting without --do_train needs a trained model: --model_name_or_path.")
    checkpoint = find_checkpoint(training_args.output_dir, training_args.resume_from_checkpoint)
    check_output_dir(training_args.output_dir, checkpoint)
    set_seed(training_args.seed)
    dataset = load_captioning_dataset(captioning_args.dataset)
    train_dataset = select_split(dataset, captioning_args.train_split) if do_train else None
    evaluates = do_eval or (do_train and training_args.eval_strategy != "no")
    eval_dataset = (
        select_split(dataset, captioning_args.eval_split) if evaluates and captioning_args.eval_split else None
    )
    test_dataset = select_split(dataset, captioning_args.test_split) if training_args.do_predict else None

    if do_train:
        features_info = features_info_of(captioning_args.dataset)
        model, processor = load_or_build_captioner(
            train_dataset,
            model_type=captioning_args.model_type,
            model_name_or_path=captioning_args.model_name_or_path,
            config_overrides=captioning_args.config_overrides,
            vision_model=captioning_args.vision_model,
            feature_extractor=frame_preprocessing(
                captioning_args.num_frames, captioning_args.frame_size, features_info
            ),
            min_word_count=captioning_args.min_word_count,
            features_info=features_info,
            extend_vocabulary=not captioning_args.keep_vocabulary,
        )
    else:
        model, processor = load_captioner(captioning_args.model_name_or_path)
        check_features_match(
            model, processor.feature_extractor, features_info_of(captioning_args.dataset), captioning_args.dataset
        )
    if checkpoint is not None:
        check_checkpoint_fits(model, checkpoint)
    trainer = build_seq2seq_trainer(
        model,
        processor,
        training_args,
        train_dataset,
        eval_dataset,
        eval_split=captioning_args.eval_split or "validation",
    )
    if do_train:
        trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
        if not training_args.push_to_hub:  # (push_to_hub below saves it, with the model card)
            trainer.save_model()  # the model, and the processor beside it
    if do_eval:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        # The split, for the model card of `hf-vidcap push --metrics eval_results.json`.
        trainer.save_metrics("eval", {**metrics, "split": captioning_args.eval_split})
    if test_dataset is not None:
        predictions = trainer.predict(test_dataset, metric_key_prefix="predict")
        trainer.log_metrics("predict", predictions.metrics)
        trainer.save_metrics("predict", {**predictions.metrics, "split": captioning_args.test_split})
        if trainer.is_world_process_zero():
            ids = np.where(predictions.predictions == -100, processor.tokenizer.pad_token_id, predictions.predictions)
            captions = processor.batch_decode(ids[: len(test_dataset)], skip_special_tokens=True)
            Path(training_args.output_dir, "generated_predictions.txt").write_text("\n".join(captions) + "\n")
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset=captioning_args.dataset_name)


if __name__ == "__main__":
    main()
