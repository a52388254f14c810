"""Train a video captioner with a plain Accelerate loop, on one process or several.

Gradient accumulation, mixed precision, checkpoints every N optimizer steps (`Accelerator.save_state`), resuming from
one (the batches already seen in the interrupted epoch are skipped, so a resumed run ends with the weights of an
unbroken one), logging to the tracker you pick, and an evaluation whose predictions every process gathers exactly
once. The dataset holds precomputed `video_features` (as `hf-vidcap extract-features` writes them) or `video_path`s
(then the model needs a vision backbone: `--vision-model`).

    python examples/train_accelerate.py --dataset features/ --model-type s2vt --output-dir runs/s2vt
    torchrun --nproc_per_node 2 examples/train_accelerate.py --dataset features/ --model-type s2vt --output-dir runs/s2vt
    python examples/train_accelerate.py ... --output-dir runs/s2vt --resume-from-checkpoint latest

(On a CPU-only machine `accelerate launch --cpu --num_processes 2` starts a single process: use `torchrun`, or
`accelerate launch --multi_gpu --num_processes 2`.) The output folder ends with the model and processor
(`save_pretrained`, for `hf-vidcap caption` and `hf-vidcap evaluate`) and, unless `--eval-split none`,
`predictions.json` (coco-caption results format) and `metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import SchedulerType, get_scheduler

from hf_vidcap.commands.captioner_args import add_captioner_arguments, captioner_from_args
from hf_vidcap.commands.dataset_args import add_dataset_arguments, dataset_from_args
from hf_vidcap.data import VideoCaptioningCollator, explode_captions
from hf_vidcap.metrics import compute_caption_metrics
from hf_vidcap.training import (
    check_checkpoint_fits,
    check_dataset,
    check_output_dir,
    find_checkpoint,
    format_metric_table,
    select_eval_split,
    select_split,
    write_coco_predictions,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(parser)
    parser.add_argument("--train-split", default="train")
    parser.add_argument(
        "--eval-split",
        help="split captioned and scored after training: by default 'validation' if the dataset has clips there; "
        "'none' for none",
    )
    add_captioner_arguments(parser)
    parser.add_argument("--output-dir", required=True, help="checkpoints, then the trained model and its scores")
    parser.add_argument("--num-train-epochs", type=int, default=10)
    parser.add_argument("--max-train-steps", type=int, help="optimizer steps in all; overrides --num-train-epochs")
    parser.add_argument("--per-device-train-batch-size", type=int, default=64)
    parser.add_argument("--per-device-eval-batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument(
        "--lr-scheduler-type", default="linear", choices=[scheduler.value for scheduler in SchedulerType]
    )
    parser.add_argument("--num-warmup-steps", type=int, default=0)
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="0 turns gradient clipping off")
    parser.add_argument(
        "--mixed-precision",
        choices=["no", "fp16", "bf16"],
        default="no",
        help="fp16 needs a GPU; bf16 runs on CPU too",
    )
    parser.add_argument("--cpu", action="store_true", help="train on CPU even where an accelerator is available")
    parser.add_argument("--checkpointing-steps", type=int, help="save the training state every N optimizer steps")
    parser.add_argument(
        "--resume-from-checkpoint",
        help="a checkpoint-N folder, or 'latest' for the newest complete one in --output-dir",
    )
    parser.add_argument(
        "--report-to", default="none", help="Accelerate tracker(s): tensorboard, wandb, mlflow, all, none, ..."
    )
    parser.add_argument("--logging-steps", type=int, default=10)
    parser.add_argument("--num-beams", type=int, default=5, help="beams when captioning the evaluation split")
    parser.add_argument("--meteor", action=argparse.BooleanOptionalAction, default=True, help="score METEOR (Java)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class TrainingProgress:
    """How many optimizer steps are done, saved in every checkpoint with the model, optimizer and random states."""

    def __init__(self) -> None:
        self.completed_steps = 0

    def state_dict(self) -> dict[str, int]:
        return {"completed_steps": self.completed_steps}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.completed_steps = state["completed_steps"]


class IndexedCollator(VideoCaptioningCollator):
    """The collator, plus each row's position in the dataset, so gathered predictions can be matched to clips."""

    def __call__(self, rows: list[dict]) -> dict:
        batch = super().__call__(rows)
        batch["row_index"] = torch.tensor([row["row_index"] for row in rows])
        return batch


def caption_split(
    accelerator: Accelerator, captioner, processor, eval_loader: DataLoader, num_beams: int
) -> tuple[list[str], list[int]]:
    """One caption per row of the loader's dataset, in its order, each process captioning its share; and the row
    indices the processes gathered (each exactly once)."""
    eval_loader = accelerator.prepare(eval_loader)
    generated, row_indices = [], []
    for batch in eval_loader:
        row_index = batch.pop("row_index")
        with torch.inference_mode():
            ids = captioner.generate(**batch, num_beams=num_beams)
        ids = accelerator.pad_across_processes(ids, dim=1, pad_index=processor.tokenizer.pad_token_id)
        ids, row_index = accelerator.gather_for_metrics((ids, row_index))
        generated += processor.batch_decode(ids, skip_special_tokens=True)
        row_indices += row_index.tolist()
    num_rows = len(eval_loader.dataset)
    if sorted(row_indices) != list(range(num_rows)):
        raise RuntimeError(f"Gathered predictions for rows {sorted(row_indices)}, not each of {num_rows} once.")
    captions = dict(zip(row_indices, generated))
    return [captions[index] for index in range(num_rows)], row_indices


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    trackers = [] if args.report_to == "none" else args.report_to.split(",")
    accelerator = Accelerator(
        cpu=args.cpu or not torch.accelerator.is_available(),  # else torchrun on a CPU machine starts lone processes
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=trackers or None,
        project_dir=output_dir,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    missing = set(trackers) - {"all", *(str(tracker) for tracker in accelerator.log_with)}
    if missing:  # Accelerate leaves out the trackers it cannot import, with a mere log message
        raise ValueError(f"--report-to {args.report_to}: {', '.join(sorted(missing))} is not installed.")
    if args.mixed_precision == "fp16" and accelerator.device.type == "cpu":  # Accelerate would train in fp32
        raise ValueError("--mixed-precision fp16 needs a GPU; on the CPU use bf16.")
    set_seed(args.seed)
    # save_state writes the registered TrainingProgress last: a folder without it is incomplete, or not this script's
    checkpoint = find_checkpoint(output_dir, args.resume_from_checkpoint, last_file="custom_checkpoint_0.pkl")
    check_output_dir(output_dir, checkpoint)

    dataset = dataset_from_args(args)
    train_dataset = select_split(dataset, args.train_split)
    eval_split, eval_dataset = select_eval_split(dataset, args.eval_split)
    with accelerator.main_process_first():
        model, processor = captioner_from_args(args, train_dataset)
        check_dataset(train_dataset, model, args.train_split)
        if eval_dataset is not None:
            check_dataset(eval_dataset, model, eval_split)
        if checkpoint is not None:
            check_checkpoint_fits(model, checkpoint)
        train_pairs = explode_captions(train_dataset)

    max_length = model.config.max_caption_length
    # Only the precomputed inputs this model reads: a feature set made for G2L also holds clip and region features.
    feature_columns = ["video_features", *(stream.name for stream in model.video_streams())]
    train_loader = DataLoader(
        train_pairs,
        batch_size=args.per_device_train_batch_size,
        shuffle=True,
        collate_fn=VideoCaptioningCollator(processor, max_length=max_length, feature_columns=feature_columns),
        generator=torch.Generator().manual_seed(args.seed),
    )
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.learning_rate, weight_decay=args.weight_decay
    )
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    steps_per_epoch = math.ceil(len(train_loader) / args.gradient_accumulation_steps)
    max_train_steps = args.max_train_steps or args.num_train_epochs * steps_per_epoch
    num_epochs = math.ceil(max_train_steps / steps_per_epoch)
    # The prepared scheduler steps once per process at each optimizer step.
    scheduler = get_scheduler(
        args.lr_scheduler_type,
        optimizer,
        num_warmup_steps=args.num_warmup_steps * accelerator.num_processes,
        num_training_steps=max_train_steps * accelerator.num_processes,
    )
    scheduler = accelerator.prepare(scheduler)
    progress = TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    accelerator.init_trackers("hf_vidcap", config={k: str(v) for k, v in vars(args).items() if v is not None})

    if checkpoint is not None:
        accelerator.print(f"Resuming from {checkpoint}")
        accelerator.load_state(checkpoint)
    start_epoch, done_in_epoch = divmod(progress.completed_steps, steps_per_epoch)

    accelerator.print(
        f"Training {type(accelerator.unwrap_model(model)).__name__} on {len(train_pairs)} (clip, caption) pairs, "
        f"{accelerator.num_processes} process(es), {max_train_steps} optimizer steps"
    )
    running_loss = torch.zeros((), device=accelerator.device)  # the sum of the step losses since the last log
    step_loss, step_batches = torch.zeros((), device=accelerator.device), 0  # of the batches of the step under way
    last_logged_step = progress.completed_steps  # a resumed run logs the mean of the steps since it resumed
    for epoch in range(start_epoch, num_epochs):
        model.train()
        train_loader.set_epoch(epoch)
        batches = train_loader
        if epoch == start_epoch and done_in_epoch:
            batches = accelerator.skip_first_batches(train_loader, done_in_epoch * args.gradient_accumulation_steps)
        for batch in batches:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            step_loss += loss.detach()
            step_batches += 1
            if not accelerator.sync_gradients:
                continue
            running_loss += step_loss / step_batches  # the last step of an epoch may have fewer batches
            step_loss.zero_()
            step_batches = 0
            progress.completed_steps += 1
            step = progress.completed_steps
            if step % args.logging_steps == 0:
                mean_loss = accelerator.reduce(running_loss, reduction="mean").item() / (step - last_logged_step)
                accelerator.log({"train_loss": mean_loss, "learning_rate": scheduler.get_last_lr()[0]}, step=step)
                accelerator.print(f"step {step}/{max_train_steps}  epoch {epoch}  loss {mean_loss:.4f}")
                running_loss.zero_()
                last_logged_step = step
            if args.checkpointing_steps and step % args.checkpointing_steps == 0:
                accelerator.save_state(output_dir / f"checkpoint-{step}")
            if step >= max_train_steps:
                break

    captioner = accelerator.unwrap_model(model).eval()
    if eval_dataset is not None:
        eval_rows = eval_dataset.add_column("row_index", list(range(len(eval_dataset))))
        if "video_features" in eval_rows.column_names:  # read as arrays, not as nested Python lists
            eval_rows = eval_rows.with_format("numpy", columns=["video_features"], output_all_columns=True)
        eval_loader = DataLoader(
            eval_rows,
            batch_size=args.per_device_eval_batch_size,
            collate_fn=IndexedCollator(processor, feature_columns=feature_columns),
        )
        accelerator.print(f"Captioning the {len(eval_dataset)} clips of {eval_split} with {args.num_beams} beams")
        predictions, row_indices = caption_split(accelerator, captioner, processor, eval_loader, args.num_beams)
        metrics = compute_caption_metrics(
            predictions, eval_dataset["captions"], meteor=args.meteor and accelerator.is_main_process
        )
        accelerator.log(
            {f"eval_{name}": score for name, score in metrics.items() if score is not None}, step=max_train_steps
        )
    else:
        predictions, row_indices, metrics = None, None, None

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        captioner.save_pretrained(output_dir)
        processor.save_pretrained(output_dir)
        if eval_dataset is not None:
            write_coco_predictions(output_dir / "predictions.json", eval_dataset["video_id"], predictions)
            results = {"split": eval_split, "num_clips": len(eval_dataset), "metrics": metrics}  # as `evaluate`
            (output_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
            accelerator.print(format_metric_table({eval_split: metrics}))
    # Free the DDP wrapper while the process group is still registered. Were its reducer left holding the group's last
    # reference, freeing it after end_training() would destroy the group while holding the GIL, and a gloo thread still
    # freeing a gathered tensor (which needs the GIL) would hang the process at exit (seen with torch 2.13).
    del model
    accelerator.free_memory()
    accelerator.end_training()
    return {"model": captioner, "row_indices": row_indices, "predictions": predictions, "metrics": metrics}


if __name__ == "__main__":
    main()
