"""Caption video files with a saved model: several beam-search candidates per video, with their scores (the
length-normalised log-probability beam search ranks them by; with `--num-beams 1`, the greedy caption's
log-probability).

python examples/caption_videos.py --model demo_output/model demo_output/clips/videos/clip_00390.mp4 ...
"""

import argparse

import torch
from transformers import AutoModel, AutoProcessor

import hf_vidcap  # noqa: F401  (registers the architectures and the processor with the Auto classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--model", required=True, help="folder written by save_pretrained (model and processor)")
    parser.add_argument("--num-beams", type=int, default=5)
    parser.add_argument("--num-candidates", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.num_candidates <= args.num_beams:
        parser.error("--num-candidates must be between 1 and --num-beams: beam search keeps that many candidates.")

    processor = AutoProcessor.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).eval()
    inputs = processor(videos=args.videos, return_tensors="pt")
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            num_beams=args.num_beams,
            num_return_sequences=args.num_candidates,
            output_scores=True,
            return_dict_in_generate=True,
        )
    captions = processor.batch_decode(output.sequences, skip_special_tokens=True)
    if args.num_beams > 1:
        scores = output.sequences_scores
    else:  # greedy search returns the scores of each step only
        scores = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True).sum(dim=1)
    for index, video in enumerate(args.videos):
        print(video)
        for rank in range(args.num_candidates):
            row = index * args.num_candidates + rank
            print(f"  {scores[row].item():7.3f}  {captions[row]}")


if __name__ == "__main__":
    main()
