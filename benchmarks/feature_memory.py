"""Peak resident memory of training S2VT on an MSR-VTT-sized feature set read from memory-mapped Arrow.

Builds a feature dataset the size of MSR-VTT's (10,000 clips x 40 frames x 2048 values, 20 captions per clip; about
3.3 GB in float32) from random features written a batch at a time with `Dataset.from_generator`, saved with
`save_to_disk` like `hf-vidcap extract-features` output, in a temporary folder (removed afterwards unless `--keep`).
Then, in a fresh process, trains S2VT at the paper's sizes for some steps the way the library trains: feature
statistics over the whole set (`video_feature_statistics`, for `standardize_video_features`), one row per
(clip, caption) pair with `explode_captions`, batches from a shuffling `DataLoader` through `VideoCaptioningCollator`.
It prints the training process's peak resident memory (`resource.getrusage`, its DataLoader workers' too) and the
training steps per second. The target: under 3 GB, flat with dataset size.

Resident memory counts the pages of a memory-mapped Arrow file that the process has read through a map still open;
the readers on this path open their maps again every 256 MiB read (`hf_vidcap.data.features.reopen_memory_maps`), so
those pages do not add up to the whole file. The script also prints the peaks of anonymous memory (the process's own
allocations) and of file-backed memory (libraries and mapped pages), sampled from /proc.

    python benchmarks/feature_memory.py [--num-clips 10000] [--steps 30] [--num-workers 0] [--dtype float32] [--keep]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


GIB = 1024**3


def build_feature_dataset(path: Path, args: argparse.Namespace) -> None:
    """Random features and captions, written a batch of rows at a time, then saved as a one-split `DatasetDict`."""
    from datasets import Array2D, Dataset, DatasetDict, Features, List, Value

    words = np.array([f"word{index}" for index in range(args.vocab_size)])

    def rows():
        rng = np.random.default_rng(0)
        for index in range(args.num_clips):
            lengths = rng.integers(6, 16, size=args.captions_per_clip)
            sentences = np.split(words[rng.integers(0, len(words), size=lengths.sum())], np.cumsum(lengths)[:-1])
            captions = [" ".join(sentence) for sentence in sentences]
            features = rng.standard_normal((args.num_frames, args.feature_size), dtype=np.float32).astype(args.dtype)
            yield {"video_id": f"video{index}", "video_path": "", "captions": captions, "video_features": features}

    features = Features(
        {
            "video_id": Value("string"),
            "video_path": Value("string"),
            "captions": List(Value("string")),
            "video_features": Array2D(shape=(None, args.feature_size), dtype=args.dtype),
        }
    )
    cache = path.parent / "generator_cache"
    dataset = Dataset.from_generator(rows, features=features, cache_dir=str(cache), writer_batch_size=64)
    DatasetDict({"train": dataset}).save_to_disk(path)
    shutil.rmtree(cache)


class AnonymousMemoryPeak:
    """Samples the process's anonymous and file-backed resident memory (Linux /proc) in a background thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self.interval = interval
        self.available = Path("/proc/self/status").exists()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in self.peak:
                self.peak[name] = max(self.peak[name], int(value.split()[0]) * 1024)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self) -> AnonymousMemoryPeak:
        if self.available:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if self.available:
            self.thread.join()
            self.sample()


def train(path: Path, args: argparse.Namespace) -> None:
    """Train S2VT for `args.steps` steps on the saved features and print the memory and speed figures."""
    import torch
    from datasets import load_from_disk
    from torch.utils.data import DataLoader

    from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning, VideoCaptioningProcessor
    from hf_vidcap.data import VideoCaptioningCollator, explode_captions, video_feature_statistics

    with AnonymousMemoryPeak() as memory:
        torch.manual_seed(0)
        dataset = load_from_disk(path)["train"]
        captions = (
            caption
            for batch in dataset.select_columns(["captions"]).iter(batch_size=1000)
            for captions in batch["captions"]
            for caption in captions
        )
        processor = VideoCaptioningProcessor.from_captions(captions)
        config = S2VTConfig(
            vocab_size=len(processor.tokenizer), video_feature_size=args.feature_size, standardize_video_features=True
        )
        model = S2VTForVideoCaptioning(config).train()
        model.set_video_feature_statistics(*video_feature_statistics(dataset))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        pairs = explode_captions(dataset)
        loader = DataLoader(
            pairs,
            batch_size=args.batch_size,
            shuffle=True,
            num_workers=args.num_workers,
            collate_fn=VideoCaptioningCollator(processor, max_length=model.config.max_caption_length),
            generator=torch.Generator().manual_seed(0),
        )
        batches = iter(loader)
        start = None
        for step in range(args.steps + 1):
            if step == 1:  # the first step (worker start-up, allocations) is not timed
                start = time.perf_counter()
            loss = model(**next(batches)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        elapsed = time.perf_counter() - start
        del batches  # stops the workers, so that their usage is counted below

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    size = sum(file.stat().st_size for file in path.rglob("*.arrow"))
    print(
        f"dataset: {len(dataset):,} clips x {args.num_frames} frames x {args.feature_size} {args.dtype} "
        f"({size / GIB:.2f} GiB memory-mapped), {len(pairs):,} (clip, caption) pairs"
    )
    print(f"S2VT (paper sizes, vocabulary {len(processor.tokenizer):,}), batch {args.batch_size}, {args.steps} steps")
    print(f"steps/s: {args.steps / elapsed:.3f}")
    print(f"peak resident memory: {own / GIB:.2f} GiB (training process)", end="")
    # A worker's peak includes the pages it shares with the training process it was forked from.
    print(f" + {workers / GIB:.2f} GiB (largest DataLoader worker)" if args.num_workers else "")
    if memory.available:
        print(
            f"  of which at most {memory.peak['RssAnon'] / GIB:.2f} GiB anonymous (the process's own allocations) and "
            f"{memory.peak['RssFile'] / GIB:.2f} GiB file-backed (libraries and the mapped Arrow pages read)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-clips", type=int, default=10_000)
    parser.add_argument("--num-frames", type=int, default=40)
    parser.add_argument("--feature-size", type=int, default=2048)
    parser.add_argument("--captions-per-clip", type=int, default=20)
    parser.add_argument("--vocab-size", type=int, default=10_000, help="distinct words in the random captions")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--workdir", help="folder for the dataset (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the dataset (reused by a later --workdir run)")
    # The two phases run in processes of their own: a child started by a process with a large resident set would
    # report that size as its own peak (Linux keeps `ru_maxrss` across fork and exec).
    parser.add_argument("--build-into", help=argparse.SUPPRESS)
    parser.add_argument("--train-from", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_into:
        build_feature_dataset(Path(args.build_into), args)
        return
    if args.train_from:
        train(Path(args.train_from), args)
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hf_vidcap_feature_memory_"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "features"
    try:
        if not (path / "dataset_dict.json").exists():
            needed = args.num_clips * args.num_frames * args.feature_size * np.dtype(args.dtype).itemsize * 2.2
            free = shutil.disk_usage(workdir).free
            if free < needed:
                sys.exit(
                    f"Building the dataset needs about {needed / GIB:.1f} GiB free in {workdir}; there are only "
                    f"{free / GIB:.1f}. Pass --workdir on a larger disk, or fewer --num-clips."
                )
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--build-into", str(path)], check=True)
            print(f"built the feature dataset in {workdir} in {time.perf_counter() - started:.0f} s")
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--train-from", str(path)], check=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
