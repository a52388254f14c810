"""Peak memory of preprocessing and feature extraction for long clips sampled densely, against the frames they give.

Renders one long clip (by default 2,000 frames of 64x48 at 25 fps, an 80 s video) into a temporary folder, then, each
in a fresh process so that peaks do not mix:

- `VideoCaptioningFeatureExtractor(fps=25, num_frames=2000, size=112)` on a batch of 1 and of 4 copies of the clip;
- `extract_video_features` of 4 copies with a tiny random ResNet, in one batch of 4 (`--batch-size 4`).

Each line prints the float32 frames of the whole batch (`[B, T, 3, 112, 112]`), how far the process's peak resident
memory rose above what it held before the step (`resource.getrusage`), and that rise in clips' frames. The feature
extractor returns the batch, so it should hold it about once; the extraction encodes a clip longer than a backbone
chunk (64 frames) as soon as it is preprocessed, so it should hold about one clip's frames whatever the batch size.
The decoded `uint8` frames (small here, 64x48) and the backbone's activations come on top.

    python benchmarks/dense_sampling_memory.py [--num-frames 2000] [--size 112]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


MIB = 1024**2

# Run in a fresh interpreter: argv[1] is the JSON of the step.
STEP = r"""
import json, resource, sys
import torch
from transformers import ResNetConfig
from datasets import Dataset
from hf_vidcap.data import extract_video_features, load_frame_encoder
from hf_vidcap.processing import VideoCaptioningFeatureExtractor

step = json.loads(sys.argv[1])
extractor = VideoCaptioningFeatureExtractor(num_frames=step["num_frames"], fps=step["fps"], size=step["size"])
videos = [step["video"]] * step["batch"]
torch.manual_seed(0)
encoder = load_frame_encoder(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"))
dataset = Dataset.from_dict({"video_id": [str(i) for i in range(len(videos))], "video_path": videos})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if step["what"] == "preprocess":
    frames = extractor(videos, return_tensors="pt")["pixel_values_videos"].numel()
else:
    features = extract_video_features(dataset, encoder, extractor, batch_size=step["batch"])
    frames = step["batch"] * len(features[0]["video_features"]) * 3 * step["size"] ** 2
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"tensor": frames * 4, "rise": peak - before}))
"""


def render_long_clip(path: Path, num_frames: int, fps: int) -> None:
    """A clip of `num_frames` 64x48 frames whose colour drifts, so that every frame differs."""
    import numpy as np

    from hf_vidcap.data.synthetic import write_video

    steps = np.arange(num_frames, dtype=np.float32)[:, None, None, None]
    frames = np.broadcast_to((steps * np.array([3, 5, 7]) % 256).astype(np.uint8), (num_frames, 48, 64, 3))
    write_video(np.ascontiguousarray(frames), path, fps=fps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-frames", type=int, default=2000)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, default=112)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "long.mp4"
        render_long_clip(video, args.num_frames, args.fps)
        print(
            f"one clip of {args.num_frames} frames (64x48, {args.fps} fps), sampled at {args.fps} fps to {args.size}px"
        )
        print(f"{'step':<40} {'batch frames (MiB)':>18} {'peak rise (MiB)':>16} {'in clips':>9}")
        for what, batch in (("preprocess", 1), ("preprocess", 4), ("extract", 4)):
            step = {"what": what, "batch": batch, "video": str(video), "num_frames": args.num_frames}
            step.update(fps=args.fps, size=args.size)
            result = subprocess.run(
                [sys.executable, "-c", STEP, json.dumps(step)], capture_output=True, text=True, check=True
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            label = {"preprocess": "feature extractor", "extract": "extract_video_features"}[what]
            print(
                f"{f'{label}, batch of {batch}':<40} {figures['tensor'] / MIB:>18.0f} {figures['rise'] / MIB:>16.0f} "
                f"{figures['rise'] / figures['tensor'] * batch:>9.2f}"
            )


if __name__ == "__main__":
    main()
