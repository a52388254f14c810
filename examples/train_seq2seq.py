"""Train a video captioner with `Seq2SeqTrainer`; every `Seq2SeqTrainingArguments` flag works as in transformers'
own examples (`--report_to`, `--bf16`, `--gradient_accumulation_steps`, `--save_steps`...). `--resume_from_checkpoint`
takes a checkpoint folder, or `latest` (or `true`) for the newest complete one in `--output_dir`.

The dataset is anything `hf_vidcap.data.load_captioning_dataset` reads: extracted features (`hf-vidcap
extract-features`), or MSVD, MSR-VTT or a folder of videos for a model with a vision backbone (`--vision_model`).

    python examples/train_seq2seq.py --dataset features/ --model_type s2vt --output_dir runs/s2vt \
        --num_train_epochs 10 --per_device_train_batch_size 64 --learning_rate 1e-3 \
        --eval_strategy epoch --generation_num_beams 5 --save_steps 500 --report_to tensorboard
    torchrun --nproc_per_node 2 examples/train_seq2seq.py ... [--use_cpu]   # on two processes (CPU: --use_cpu)

The output folder ends with the model and processor (`hf-vidcap caption` and `hf-vidcap evaluate` read it) and, with
an evaluation split, `eval_results.json`. `hf-vidcap train` is the same training with a shorter list of options.
"""

from dataclasses import dataclass, field

from transformers import HfArgumentParser, Seq2SeqTrainingArguments, set_seed

from hf_vidcap.data import load_captioning_dataset
from hf_vidcap.training import (
    build_seq2seq_trainer,
    check_checkpoint_fits,
    check_output_dir,
    features_info_of,
    find_checkpoint,
    frame_preprocessing,
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
    train_split: str = field(default="train")
    eval_split: str | None = field(default="validation", metadata={"help": "split scored during and after training"})


def main() -> None:
    captioning_args, training_args = HfArgumentParser(
        (CaptioningArguments, Seq2SeqTrainingArguments)
    ).parse_args_into_dataclasses()
    checkpoint = find_checkpoint(training_args.output_dir, training_args.resume_from_checkpoint)
    check_output_dir(training_args.output_dir, checkpoint)
    set_seed(training_args.seed)
    dataset = load_captioning_dataset(captioning_args.dataset)
    train_dataset = select_split(dataset, captioning_args.train_split)
    eval_dataset = select_split(dataset, captioning_args.eval_split) if captioning_args.eval_split else None

    features_info = features_info_of(captioning_args.dataset)
    model, processor = load_or_build_captioner(
        train_dataset,
        model_type=captioning_args.model_type,
        model_name_or_path=captioning_args.model_name_or_path,
        config_overrides=captioning_args.config_overrides,
        vision_model=captioning_args.vision_model,
        feature_extractor=frame_preprocessing(captioning_args.num_frames, captioning_args.frame_size, features_info),
        min_word_count=captioning_args.min_word_count,
        features_info=features_info,
    )
    if checkpoint is not None:
        check_checkpoint_fits(model, checkpoint)
    trainer = build_seq2seq_trainer(model, processor, training_args, train_dataset, eval_dataset)
    trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
    trainer.save_model()  # the model, and the processor beside it
    if eval_dataset is not None:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        # The split, for the model card of `hf-vidcap push --metrics eval_results.json`.
        trainer.save_metrics("eval", {**metrics, "split": captioning_args.eval_split})


if __name__ == "__main__":
    main()
