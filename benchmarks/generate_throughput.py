"""Captions per second from `generate()` on a batch of videos: beam search (5 beams) beside greedy decoding.

S2VT by default, or the registered architectures named, at their paper sizes (S2VT: 500-d embeddings, 1000 hidden), a
10,000-word vocabulary, 64 videos x 40 frames of 2048-d precomputed features, captions of up to 20 words.

    python benchmarks/generate_throughput.py [--device cuda] [--architectures s2vt mean_pool]
"""

from __future__ import annotations

import argparse
import time

import torch

from hf_vidcap import ARCHITECTURES


def captions_per_second(model, inputs: dict, repeats: int, **generate_kwargs) -> float:
    model.generate(**inputs, **generate_kwargs)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model.generate(**inputs, **generate_kwargs)
    if inputs["video_features"].is_cuda:
        torch.cuda.synchronize()
    return repeats * inputs["video_features"].shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--architectures", nargs="+", default=["s2vt"], choices=sorted(ARCHITECTURES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    print(
        f"device: {args.device} ({torch.get_num_threads()} threads), batch {args.batch_size} videos x "
        f"{args.num_frames} frames x 2048, vocab 10000, {args.max_new_tokens} new tokens (no early stop)"
    )
    for name in args.architectures:
        model_class = ARCHITECTURES[name]
        torch.manual_seed(0)
        model = (
            model_class(model_class.config_class(vocab_size=10_000, video_feature_size=2048)).to(args.device).eval()
        )
        inputs = model.dummy_video_inputs(args.batch_size, args.num_frames)
        inputs = {key: value.to(args.device) for key, value in inputs.items()}
        # A random model rarely says <eos>; forbidding it makes every run decode exactly max_new_tokens steps.
        fixed = {"max_new_tokens": args.max_new_tokens, "min_new_tokens": args.max_new_tokens}
        with torch.inference_mode():
            greedy = captions_per_second(model, inputs, args.repeats, num_beams=1, **fixed)
            beam = captions_per_second(model, inputs, args.repeats, num_beams=5, **fixed)
        print(
            f"{name:>10}: greedy {greedy:8.1f} captions/s | beam search (5 beams) {beam:8.1f} captions/s "
            f"| beam costs {greedy / beam:.1f}x greedy"
        )


if __name__ == "__main__":
    main()
