"""`hf-vidcap train --dataset PATH (--model-type NAME | --model DIR) --output-dir DIR [...]`: train with `Seq2SeqTrainer`.

Trains on a split of precomputed `video_features` (or of `video_path`s, for a model with a vision backbone), one row
per (clip, caption) pair; evaluates on another split by generating captions (BLEU-1..4, ROUGE-L, CIDEr-D); saves
checkpoints to resume from; and ends with the model and processor in the output folder, where `hf-vidcap caption` and
`hf-vidcap evaluate` read them. On several processes: `torchrun --nproc_per_node N -m hf_vidcap.cli train ...`.
"""

from __future__ import annotations

import argparse

from . import InvalidInputError, positive_int
from .captioner_args import add_captioner_arguments, captioner_from_args
from .dataset_args import add_dataset_arguments, dataset_from_args


def train_command(args: argparse.Namespace) -> None:
    import torch
    from transformers import Seq2SeqTrainingArguments, set_seed
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from ..metrics import METRIC_NAMES
    from ..training import (
        build_seq2seq_trainer,
        check_checkpoint_fits,
        check_output_dir,
        find_checkpoint,
        format_metric_table,
        select_eval_split,
        select_split,
    )

    trackers = {"none", "all", *get_available_reporting_integrations()}
    if missing := [name for name in args.report_to.split(",") if name not in trackers]:
        unknown = [name for name in missing if name not in INTEGRATION_TO_CALLBACK]
        problem = (
            f"{', '.join(unknown)} is not a tracker transformers knows ({', '.join(sorted(INTEGRATION_TO_CALLBACK))})"
            if unknown
            else f"{', '.join(missing)} is not installed"
        )
        raise InvalidInputError(
            f"--report-to {args.report_to}: {problem}; installed: {', '.join(sorted(trackers - {'all'}))}."
        )
    checkpoint = find_checkpoint(args.output_dir, args.resume_from_checkpoint)
    check_output_dir(args.output_dir, checkpoint)
    set_seed(args.seed)
    dataset = dataset_from_args(args)
    train_dataset = select_split(dataset, args.train_split)
    eval_split, eval_dataset = select_eval_split(dataset, args.eval_split)
    model, processor = captioner_from_args(args, train_dataset)
    training_args = Seq2SeqTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.num_train_epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_train_batch_size,
        per_device_eval_batch_size=args.per_device_eval_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_steps,
        max_grad_norm=args.max_grad_norm,
        bf16=args.bf16,
        logging_steps=args.logging_steps,
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        eval_strategy=args.eval_strategy if eval_dataset is not None else "no",
        eval_steps=args.eval_steps,
        generation_num_beams=args.num_beams,
        report_to=args.report_to.split(","),
        seed=args.seed,
        dataloader_num_workers=args.dataloader_num_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=not torch.accelerator.is_available(),  # else torchrun on a CPU machine starts lone processes
    )
    if checkpoint is not None:  # before the trainer makes the output folder
        check_checkpoint_fits(model, checkpoint)
    trainer = build_seq2seq_trainer(
        model,
        processor,
        training_args,
        train_dataset,
        eval_dataset,
        train_split=args.train_split,
        eval_split=eval_split,
    )
    trainer.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
    trainer.save_model()
    if eval_dataset is not None:
        metrics = trainer.evaluate()
        if trainer.is_world_process_zero():
            scores = {name.removeprefix("eval_"): value for name, value in metrics.items()}
            print(format_metric_table({eval_split: scores}, metrics=[m for m in METRIC_NAMES if m in scores]))
            # The split, for the model card of `hf-vidcap push --metrics eval_results.json`.
            trainer.save_metrics("eval", {**metrics, "split": eval_split})
    if trainer.is_world_process_zero():
        print(f"Saved the model and processor to {args.output_dir}")


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a captioner with Seq2SeqTrainer",
        description=__doc__,
    )
    add_dataset_arguments(train)
    data = train.add_argument_group("splits")
    data.add_argument("--train-split", default="train", help="split to train on")
    data.add_argument(
        "--eval-split",
        help="split to evaluate on: by default 'validation' if the dataset has clips there; 'none' for none",
    )
    add_captioner_arguments(train)
    run = train.add_argument_group("training (the Seq2SeqTrainingArguments of the same names)")
    run.add_argument("--output-dir", required=True, help="checkpoints, then the trained model and processor")
    run.add_argument("--num-train-epochs", type=float, default=10.0)
    run.add_argument("--max-steps", type=int, default=-1, help="optimizer steps in all; overrides the epochs")
    run.add_argument("--per-device-train-batch-size", type=positive_int, default=64)
    run.add_argument("--per-device-eval-batch-size", type=positive_int, default=64)
    run.add_argument("--gradient-accumulation-steps", type=positive_int, default=1)
    run.add_argument("--learning-rate", type=float, default=1e-3)
    run.add_argument("--weight-decay", type=float, default=0.0)
    run.add_argument("--lr-scheduler-type", default="linear")
    run.add_argument("--warmup-steps", type=float, default=0, help="steps, or a fraction of them below 1")
    run.add_argument("--max-grad-norm", type=float, default=1.0)
    run.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    run.add_argument("--logging-steps", type=float, default=50)
    run.add_argument("--save-steps", type=float, default=500, help="checkpoint every N steps")
    run.add_argument("--save-total-limit", type=int, help="keep only the newest N checkpoints")
    run.add_argument("--eval-strategy", choices=["no", "steps", "epoch"], default="epoch")
    run.add_argument("--eval-steps", type=float)
    run.add_argument("--num-beams", type=positive_int, default=5, help="beams when captioning the evaluation split")
    run.add_argument("--report-to", default="none", help="tensorboard, wandb, trackio, all, none, ...")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--dataloader-num-workers", type=int, default=0)
    run.add_argument(
        "--resume-from-checkpoint",
        help="a checkpoint-N folder, or 'latest' for the newest complete one in --output-dir",
    )
    train.set_defaults(handler=train_command)
