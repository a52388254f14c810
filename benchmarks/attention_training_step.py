"""Training steps per second of the attention models (SA-LSTM, G2L) beside S2VT, at the same batch.

Every architecture is built at its paper sizes (its config's defaults) with a 10,000-word vocabulary and 2048-d frame
features, and trains on the same batch shape: 64 videos x 40 frames (ragged, from `model.dummy_video_inputs`) with
28-word captions. A step is forward + backward + Adam update (the fused kernel, as the Trainer's default
`adamw_torch_fused` uses). The parameter count is printed beside each figure, since the paper sizes differ between
architectures. Architectures not registered (yet) are skipped with a note.

    python benchmarks/attention_training_step.py [--architectures s2vt,sa_lstm,g2l] [--device cuda] [--steps 3]
"""

from __future__ import annotations

import argparse

import torch
from s2vt_training_step import steps_per_second

from hf_vidcap import ARCHITECTURES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", default="s2vt,sa_lstm,g2l", help="comma-separated registered names")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=40)
    parser.add_argument("--caption-length", type=int, default=28)
    args = parser.parse_args()
    device = torch.device(args.device)

    print(
        f"device: {device} ({torch.get_num_threads()} threads), batch {args.batch_size}, up to {args.num_frames} "
        f"frames x 2048, {args.caption_length} words, vocab 10000, paper sizes"
    )
    for name in args.architectures.split(","):
        if name not in ARCHITECTURES:
            print(f"{name:10} skipped: not registered (registered: {', '.join(sorted(ARCHITECTURES))})")
            continue
        model_class = ARCHITECTURES[name]
        torch.manual_seed(0)
        model = model_class(model_class.config_class(vocab_size=10_000, video_feature_size=2048)).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
        inputs = {
            key: value.to(device)
            for key, value in model.dummy_video_inputs(
                args.batch_size, args.num_frames, generator=torch.Generator().manual_seed(0)
            ).items()
        }
        labels = torch.randint(4, 10_000, (args.batch_size, args.caption_length), device=device)
        labels[:, -1] = model.config.eos_token_id

        def train_step() -> None:
            optimizer.zero_grad(set_to_none=True)
            model(**inputs, labels=labels).loss.backward()
            optimizer.step()

        rate = steps_per_second(train_step, args.steps, device)
        parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"{name:10} {rate:8.3f} steps/s   {parameters / 1e6:6.1f}M parameters")


if __name__ == "__main__":
    main()
