"""The end-to-end demo: render clips, train a captioner with `Seq2SeqTrainer`, score it, save it, reload it.

Everything is made here, nothing is downloaded: synthetic clips of coloured shapes are rendered to real video files,
a frozen, randomly initialised tiny ResNet turns frames into features that keep a coarse 4x4 spatial grid (so that
where an object is, and so how it moves, survives pooling), standardized with training-set statistics saved in the
model, and the captioner trains on those features extracted once into Arrow. Held-out clips are captioned with beam search and scored with BLEU-4, METEOR, ROUGE-L and CIDEr-D
beside a blind baseline that gives every clip the most frequent training caption.

    hf-vidcap demo --output demo_output [--model s2vt] [--num-clips 400] [--epochs 8]
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoProcessor, ResNetConfig, Seq2SeqTrainingArguments, set_seed

from .data.features import extract_video_features
from .data.synthetic import SyntheticVideoConfig, render_synthetic_dataset
from .metrics import compute_caption_metrics
from .modeling import get_architecture
from .processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor
from .training import build_seq2seq_trainer, format_metric_table, generate_captions, set_feature_statistics


logger = logging.getLogger(__name__)

DEMO_MARKER = ".hf_vidcap_demo"
REPORTED_METRICS = ("Bleu_4", "METEOR", "ROUGE_L", "CIDEr")

# A tiny ResNet, left at its random initialisation and frozen: 64x64 frames -> 32 channels on an 8x8 map.
DEMO_BACKBONE = {"embedding_size": 16, "hidden_sizes": [16, 32], "depths": [1, 1], "layer_type": "basic"}

# Per-architecture sizes for the demo (each file keeps its paper sizes as defaults).
DEMO_MODEL_SIZES = {
    "s2vt": {"frame_embedding_size": 256, "word_embedding_size": 64, "hidden_size": 256},
    "mean_pool": {"video_embedding_size": 256, "word_embedding_size": 64, "hidden_size": 256, "num_hidden_layers": 1},
    "sa_lstm": {"word_embedding_size": 64, "hidden_size": 256, "attention_size": 128},
    "g2l": {
        "projection_size": 256,
        "aligned_embedding_size": 128,
        "attention_size": 128,
        "word_embedding_size": 64,
        "hidden_size": 256,
        # 3-D clip features from a tiny random VideoMAE over 4-frame windows; regions are the 4x4 grid cells.
        "clip_vision_config": {
            "model_type": "videomae",
            "image_size": 64,
            "patch_size": 16,
            "num_frames": 4,
            "tubelet_size": 2,
            "hidden_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        },
    },
}


@dataclass
class DemoArguments:
    """Knobs of the demo; the defaults finish in a few minutes on 2 CPU cores.

    Args:
        output_dir (`str`): folder for the rendered clips, the trained model and `results.json`; must be empty,
            new, or a previous demo's output (whose render is then reused).
        model (`str`): registered architecture to train (`"s2vt"`, `"mean_pool"`, ...).
        num_clips (`int`): clips to render, split 80/5/15 into train/validation/test.
        epochs (`float`): training epochs over (clip, caption) pairs.
        batch_size (`int`): training batch size.
        learning_rate (`float`): peak AdamW learning rate.
        num_beams (`int`): beams when captioning held-out clips.
        seed (`int`): seed of the render, the initialisation and the training order.
    """

    output_dir: str = "demo_output"
    model: str = "s2vt"
    num_clips: int = 400
    epochs: float = 8.0
    batch_size: int = 64
    learning_rate: float = 3e-3
    num_beams: int = 5
    seed: int = 0


def prepare_output_dir(path: Path) -> None:
    """Create `path`, or accept it if empty or a previous demo's; refuse anything else so no user file is touched."""
    if path.exists() and any(path.iterdir()) and not (path / DEMO_MARKER).exists():
        raise FileExistsError(
            f"{path} is not empty and was not written by `hf-vidcap demo`; refusing to write into it. "
            "Pass a new or empty folder with --output."
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / DEMO_MARKER).write_text("This folder was written by `hf-vidcap demo`.\n")


def blind_baseline(train_captions: list[str], num_clips: int) -> list[str]:
    """The single most frequent training caption, for every clip (ties broken alphabetically)."""
    counts = Counter(train_captions)
    best = min(counts, key=lambda caption: (-counts[caption], caption))
    return [best] * num_clips


def run_demo(args: DemoArguments) -> dict:
    """Run the demo and return its results (also written to `output_dir/results.json`)."""
    started = time.perf_counter()
    model_class = get_architecture(args.model)  # an unknown one is named before anything is rendered
    output_dir = Path(args.output_dir).absolute()
    prepare_output_dir(output_dir)
    set_seed(args.seed)
    synthetic = SyntheticVideoConfig()

    print(f"[1/6] Rendering {args.num_clips} synthetic clips into {output_dir / 'clips'}")
    num_train, num_validation = int(args.num_clips * 0.8), int(args.num_clips * 0.05)
    splits = (num_train, num_validation, args.num_clips - num_train - num_validation)
    clips = render_synthetic_dataset(output_dir / "clips", split_sizes=splits, seed=args.seed, config=synthetic)

    print("[2/6] Building the vocabulary and the captioner")
    train_captions = [caption for captions in clips["train"]["captions"] for caption in captions]
    feature_extractor = VideoCaptioningFeatureExtractor(
        num_frames=synthetic.num_frames, size={"height": synthetic.height, "width": synthetic.width}
    )
    processor = VideoCaptioningProcessor.from_captions(train_captions, feature_extractor=feature_extractor)
    config = model_class.config_class(
        vocab_size=len(processor.tokenizer),
        vision_config=ResNetConfig(**DEMO_BACKBONE),
        vision_feature_pooling="grid",
        vision_feature_grid_size=4,
        standardize_video_features=True,
        dropout=0.2,
        max_caption_length=20,
        **DEMO_MODEL_SIZES.get(args.model, {}),
    )
    model = model_class(config)
    print(
        f"      vocabulary {len(processor.tokenizer)} words, {args.model} with "
        f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable parameters, "
        f"frozen random ResNet -> {config.video_feature_size}-d frame features"
    )

    print("[3/6] Extracting frame features (and every other stream the model reads) once into Arrow")
    features = {split: extract_video_features(clips[split], model, processor) for split in ("train", "test")}

    set_feature_statistics(model, features["train"])

    print(f"[4/6] Training with Seq2SeqTrainer for {args.epochs:g} epochs")
    trainer = build_seq2seq_trainer(
        model,
        processor,
        Seq2SeqTrainingArguments(
            output_dir=str(output_dir / "trainer"),
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=0.05,
            weight_decay=1e-4,
            max_grad_norm=1.0,
            logging_steps=50,
            save_strategy="no",
            report_to="none",
            dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
            seed=args.seed,
            disable_tqdm=False,
        ),
        features["train"],
        train_split="train",
    )
    trainer.train()

    print(f"[5/6] Captioning {len(features['test'])} held-out clips with beam search ({args.num_beams} beams)")
    model.eval()
    predictions = generate_captions(model, processor, features["test"], batch_size=64, num_beams=args.num_beams)
    references = features["test"]["captions"]
    scores = compute_caption_metrics(predictions, references)
    baseline = compute_caption_metrics(blind_baseline(train_captions, len(references)), references)
    print(format_metric_table({"model": scores, "blind baseline": baseline}, metrics=REPORTED_METRICS, indent=6))
    for prediction, captions in list(zip(predictions, references))[:5]:
        print(f"      predicted: {prediction!r:45}  reference: {captions[0]!r}")

    print(f"[6/6] Saving to {output_dir / 'model'} and captioning a clip from the saved folder")
    model.save_pretrained(output_dir / "model")
    processor.save_pretrained(output_dir / "model")
    reloaded = AutoModel.from_pretrained(output_dir / "model").eval()
    reloaded_processor = AutoProcessor.from_pretrained(output_dir / "model")
    video = clips["test"][0]["video_path"]
    inputs = reloaded_processor(videos=[video], return_tensors="pt")
    caption = reloaded_processor.batch_decode(reloaded.generate(**inputs, num_beams=args.num_beams))[0]
    print(f"      {Path(video).name}: {caption!r}  (reference: {references[0][0]!r})")

    results = {
        "model": args.model,
        "metrics": scores,
        "blind_baseline": baseline,
        "cider_ratio_to_baseline": scores["CIDEr"] / max(baseline["CIDEr"], 1e-12),
        "reloaded_caption": {"video": video, "caption": caption},
        "predictions": [
            {"video_id": video_id, "caption": prediction}
            for video_id, prediction in zip(features["test"]["video_id"], predictions)
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    (output_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"Done in {results['seconds']:.0f} s: CIDEr-D {scores['CIDEr']:.3f} vs blind baseline "
        f"{baseline['CIDEr']:.3f} ({results['cider_ratio_to_baseline']:.1f}x). Results in {output_dir / 'results.json'}"
    )
    return results
