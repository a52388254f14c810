"""`hf-vidcap push MODEL_DIR --repo-id ID [--dataset NAME] [--metrics FILE] [--license ID] [--vision-model ID]`.

Uploads a folder written by `save_pretrained` (model and processor) to a Hub model repository in one commit, with a
generated model card: the architecture and its paper, the video features, the dataset and scores, and a usage snippet
that loads the repository with `trust_remote_code=True`. A README.md already in the folder is uploaded as the card
instead. The token is the one of `hf auth login` or `HF_TOKEN`; `HF_ENDPOINT` selects another Hub.
"""

from __future__ import annotations

import argparse

from . import InvalidInputError


def push_command(args: argparse.Namespace) -> None:
    """Push the folder and print where it went."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from transformers.utils import logging as transformers_logging

    from ..hub import load_metrics, push_to_hub

    transformers_logging.disable_progress_bar()
    metrics, metrics_split = load_metrics(args.metrics) if args.metrics is not None else (None, None)
    if metrics is not None and args.dataset is None:
        raise InvalidInputError("--metrics needs --dataset: the card says which dataset the scores were measured on.")
    try:
        commit = push_to_hub(
            args.model_dir,
            args.repo_id,
            dataset=args.dataset,
            metrics=metrics,
            metrics_split=args.metrics_split or metrics_split,
            license=args.license,
            vision_model=args.vision_model,
            tags=args.tag,
            commit_message=args.commit_message,
            private=args.private or None,
        )
    except HfHubHTTPError as error:
        status = error.response.status_code
        detail = (error.server_message or str(error).splitlines()[0]).strip().rstrip(".")
        hint = (
            " Log in with `hf auth login` or set HF_TOKEN to a token with write access."
            if status in (401, 403)
            else ""
        )
        raise InvalidInputError(f"the Hub refused the push ({status}): {detail}.{hint}") from None
    except OfflineModeIsEnabled:
        raise InvalidInputError("offline mode is on (HF_HUB_OFFLINE): unset it to push.") from None
    except Exception as error:
        # The HTTP library under huggingface_hub varies by version (requests, httpx, ...): recognize its
        # connection errors by their base class names.
        if not any(cls.__name__ in ("TransportError", "ConnectionError") for cls in type(error).__mro__):
            raise
        raise InvalidInputError(f"cannot reach the Hub at {constants.ENDPOINT}: {error}.") from None
    print(f"Pushed {args.model_dir} to {commit.repo_url} (commit {commit.oid[:7]}): {commit.commit_url}")


def register(commands: argparse._SubParsersAction) -> None:
    push = commands.add_parser(
        "push",
        help="upload a saved model and processor to the Hub with a model card",
        description=__doc__,
    )
    push.add_argument("model_dir", help="folder with a saved model and processor")
    push.add_argument("--repo-id", required=True, help="Hub repository, namespace/name")
    push.add_argument("--dataset", help="dataset the model was trained and scored on (Hub id or name)")
    push.add_argument("--metrics", help="JSON scores, as `hf-vidcap evaluate --metrics-file` writes them")
    push.add_argument("--metrics-split", help="split the scores are on (default: the file's, else test)")
    push.add_argument("--license", help="Hub license id, e.g. mit or apache-2.0")
    push.add_argument("--vision-model", help="Hub id of the pretrained vision backbone or feature extractor")
    push.add_argument("--tag", action="append", help="extra tag for the card (repeatable)")
    push.add_argument("--commit-message", default="Upload video captioning model", help="message of the commit")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.set_defaults(handler=push_command)
