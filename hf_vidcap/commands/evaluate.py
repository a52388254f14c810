"""`hf-vidcap evaluate --model DIR --dataset PATH [--split test] [--predictions-file F] [--metrics-file F]`.

Captions every clip of a split with a saved model (from its `video_features`, or its `video_path`s for a model with a
vision backbone), prints BLEU-1..4, METEOR, ROUGE-L and CIDEr-D against the reference captions (METEOR is `n/a`, with
a warning, without Java, or with `--no-meteor`), and writes the predictions in the coco-caption results format
(`[{"image_id": video_id, "caption": ...}]`) and the scores as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from . import InvalidInputError, positive_int
from .dataset_args import add_dataset_arguments, dataset_from_args


def evaluate_command(args: argparse.Namespace) -> None:
    from transformers.utils import logging as transformers_logging

    from ..metrics import compute_caption_metrics
    from ..training import (
        check_dataset,
        check_features_match,
        features_info_of,
        format_metric_table,
        generate_captions,
        load_captioner,
        select_split,
        write_coco_predictions,
    )

    outputs = [
        (flag, path)
        for flag, path in (("--predictions-file", args.predictions_file), ("--metrics-file", args.metrics_file))
        if path is not None
    ]
    for flag, path in outputs:
        if Path(path).is_dir():
            raise InvalidInputError(f"{flag} {path} is a folder; pass a file path.")
        if Path(path).exists() and not args.overwrite:
            raise InvalidInputError(f"{flag} {path} already exists; pass another file, or --overwrite to replace it.")
        folder = Path(path).absolute().parent
        if not folder.is_dir():
            raise InvalidInputError(f"{flag} {path}: the folder {folder} does not exist.")
        try:  # before the split is captioned: a file that cannot be written would lose that work
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as error:
            raise InvalidInputError(
                f"{flag} {path}: the folder {folder} cannot be written ({error.strerror})."
            ) from None
    if len(outputs) == 2 and Path(outputs[0][1]).resolve() == Path(outputs[1][1]).resolve():
        raise InvalidInputError(
            f"--predictions-file and --metrics-file are the same file, {outputs[0][1]}: the metrics would overwrite "
            "the predictions."
        )
    transformers_logging.disable_progress_bar()
    model, processor = load_captioner(args.model)
    split = select_split(dataset_from_args(args), args.split)
    check_dataset(split, model, args.split)
    if "video_features" in split.column_names:
        check_features_match(model, processor.feature_extractor, features_info_of(args.dataset), args.dataset)
    captions = generate_captions(model.eval(), processor, split, batch_size=args.batch_size, num_beams=args.num_beams)
    scores = compute_caption_metrics(captions, split["captions"], meteor=args.meteor)
    print(format_metric_table({f"{Path(args.model).name} on {args.split}": scores}))
    if args.predictions_file is not None:
        write_coco_predictions(args.predictions_file, split["video_id"], captions)
    if args.metrics_file is not None:
        results = {"model": str(args.model), "split": args.split, "num_clips": len(split), "metrics": scores}
        Path(args.metrics_file).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="caption a dataset split with a saved model and score it",
        description=__doc__,
    )
    evaluate.add_argument("--model", required=True, help="folder with a saved model and processor")
    add_dataset_arguments(evaluate)
    evaluate.add_argument("--split", default="test", help="split to caption and score")
    evaluate.add_argument("--predictions-file", help="write the captions here (coco-caption results JSON)")
    evaluate.add_argument("--metrics-file", help="write the scores here (JSON)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace existing output files")
    evaluate.add_argument("--num-beams", type=positive_int, default=5, help="beams for beam search (1 = greedy)")
    evaluate.add_argument("--batch-size", type=positive_int, default=32, help="clips captioned at once")
    evaluate.add_argument(
        "--meteor", action=argparse.BooleanOptionalAction, default=True, help="score METEOR (starts Java)"
    )
    evaluate.set_defaults(handler=evaluate_command)
