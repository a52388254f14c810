"""S2VT training steps per second at the paper's sizes: hf_vidcap's whole-sequence recurrent calls beside the same
computation written as a per-step Python loop (the way most public S2VT code trains), in one run.

Both variants use the very same modules and weights (one embedding, two LSTMs, one output layer) and the same batch:
64 videos x 40 frames of 2048-d features, 28-word captions, a 10,000-word vocabulary, 500-d embeddings, 1000 hidden.
A step is forward + backward + Adam update (the fused Adam kernel, as the Trainer's default `adamw_torch_fused`
uses). The script also checks that both compute the same loss.

    python benchmarks/s2vt_training_step.py [--device cuda] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning


def per_step_loop_loss(model: S2VTForVideoCaptioning, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The textbook S2VT training loop: one LSTM step at a time for frames, then one per word, logits per step."""
    batch_size, num_frames, _ = features.shape
    config = model.config
    input_ids = model.shift_tokens_right(labels)
    video_state = text_state = None
    null_word = features.new_zeros(batch_size, 1, config.word_embedding_size)
    null_frame = features.new_zeros(batch_size, 1, config.frame_embedding_size)
    for t in range(num_frames):
        frame = model.frame_embedding(features[:, t : t + 1])
        video_out, video_state = model.video_lstm(frame, video_state)
        _, text_state = model.text_lstm(torch.cat([video_out, null_word], dim=-1), text_state)
    losses = []
    for t in range(input_ids.shape[1]):
        video_out, video_state = model.video_lstm(null_frame, video_state)
        word = model.word_embedding(input_ids[:, t : t + 1])
        text_out, text_state = model.text_lstm(torch.cat([video_out, word], dim=-1), text_state)
        logits = model.lm_head(text_out[:, 0])
        losses.append(nn.functional.cross_entropy(logits, labels[:, t], ignore_index=-100, reduction="sum"))
    return torch.stack(losses).sum() / (labels != -100).sum()


def steps_per_second(step, num_steps: int, device: torch.device) -> float:
    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(num_steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return num_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=40)
    parser.add_argument("--caption-length", type=int, default=28)
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(0)
    config = S2VTConfig(vocab_size=10_000, video_feature_size=2048)  # paper sizes: 500-d embeddings, 1000 hidden
    model = S2VTForVideoCaptioning(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    features = torch.randn(args.batch_size, args.num_frames, 2048, device=device)
    labels = torch.randint(4, config.vocab_size, (args.batch_size, args.caption_length), device=device)
    labels[:, -1] = config.eos_token_id

    with torch.no_grad():
        whole = model(video_features=features, labels=labels).loss
        looped = per_step_loop_loss(model, features, labels)
    assert torch.allclose(whole, looped, rtol=1e-4), (whole.item(), looped.item())

    def train_step(loss_fn) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn().backward()
        optimizer.step()

    ours = steps_per_second(
        lambda: train_step(lambda: model(video_features=features, labels=labels).loss), args.steps, device
    )
    loop = steps_per_second(
        lambda: train_step(lambda: per_step_loop_loss(model, features, labels)), args.steps, device
    )
    print(
        f"device: {device} ({torch.get_num_threads()} threads), batch {args.batch_size}, {args.num_frames} frames x 2048, "
        f"{args.caption_length} words, vocab {config.vocab_size}, hidden {config.hidden_size}"
    )
    print(f"same loss both ways: {whole.item():.6f} vs {looped.item():.6f}")
    print(f"hf_vidcap whole-sequence calls: {ours:.3f} steps/s")
    print(f"per-step Python loop:           {loop:.3f} steps/s")
    print(f"speed-up: {ours / loop:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
