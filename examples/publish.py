"""Publish a trained captioner on the Hub from Python, with a generated model card; `--preview` prints the card only.

    python examples/publish.py --model demo_output/model --repo-id me/s2vt-synthetic-shapes \
        --results demo_output/results.json --dataset synthetic-shapes --license mit --preview

`push_to_hub` takes a saved folder, as here, or the model and processor objects at the end of a training script:
`push_to_hub(model, "me/s2vt-msvd", processor, dataset="msvd", metrics=scores)`. From the shell, `hf-vidcap push`
does the same. The pushed repository loads with `trust_remote_code=True` where hf_vidcap is not installed.
"""

import argparse

from transformers import AutoModel, AutoProcessor

from hf_vidcap.hub import create_model_card, load_metrics, push_to_hub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="folder written by save_pretrained (model and processor)")
    parser.add_argument("--repo-id", required=True, help="Hub repository, namespace/name")
    parser.add_argument("--results", help="scores as JSON: `hf-vidcap evaluate --metrics-file` or the demo's results")
    parser.add_argument("--dataset", help="dataset the model was trained and scored on")
    parser.add_argument("--license", help="Hub license id, e.g. mit")
    parser.add_argument("--vision-model", help="Hub id of the pretrained vision backbone or feature extractor")
    parser.add_argument("--preview", action="store_true", help="print the model card instead of pushing")
    args = parser.parse_args()

    metrics, split = load_metrics(args.results) if args.results else (None, None)
    card_args = dict(
        dataset=args.dataset,
        metrics=metrics,
        metrics_split=split,
        license=args.license,
        vision_model=args.vision_model,
    )
    if args.preview:
        model, processor = AutoModel.from_pretrained(args.model), AutoProcessor.from_pretrained(args.model)
        print(create_model_card(model, processor, args.repo_id, **card_args))
        return
    commit = push_to_hub(args.model, args.repo_id, **card_args)
    print(f"Pushed to {commit.repo_url}: {commit.commit_url}")


if __name__ == "__main__":
    main()
