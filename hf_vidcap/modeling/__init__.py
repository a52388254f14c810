"""The captioning architectures, one file each, and the registry that plugs them into transformers' Auto classes.

Adding an architecture: write `hf_vidcap/modeling/<name>.py` (config, blocks only it uses, model) and add one
`register_architecture(...)` line below. The shared model tests in `tests/modeling/` then cover it.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from .base import (
    RecurrentState,
    VideoCaptioningConfig,
    VideoCaptioningOutput,
    VideoCaptioningPreTrainedModel,
    VideoStream,
)
from .g2l import G2L_ABLATIONS, G2LAttentions, G2LConfig, G2LForVideoCaptioning, g2l_optimizer_and_scheduler
from .mean_pool import MeanPoolConfig, MeanPoolForVideoCaptioning
from .s2vt import S2VTConfig, S2VTForVideoCaptioning
from .sa_lstm import SALSTMConfig, SALSTMForVideoCaptioning


ARCHITECTURES: dict[str, type[VideoCaptioningPreTrainedModel]] = {}
"""Every registered architecture: short name (the model type without its `vidcap_` prefix) -> model class."""


def register_architecture(model_class: type[VideoCaptioningPreTrainedModel]) -> None:
    """Register a captioning architecture with `AutoConfig`, `AutoModel` and `AutoModelForImageTextToText`.

    Args:
        model_class (`type`): a [`VideoCaptioningPreTrainedModel`] subclass whose `config_class` has a `model_type`
            starting with `vidcap_`.
    """
    config_class = model_class.config_class
    model_type = config_class.model_type
    if not model_type.startswith("vidcap_"):
        raise ValueError(
            f"Model types must start with 'vidcap_' so they never clash with transformers', got {model_type!r}."
        )
    AutoConfig.register(model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, model_class, exist_ok=True)
    AutoModelForImageTextToText.register(config_class, model_class, exist_ok=True)
    ARCHITECTURES[model_type.removeprefix("vidcap_")] = model_class


def get_architecture(name: str) -> type[VideoCaptioningPreTrainedModel]:
    """The model class registered under `name` (e.g. `"s2vt"`), with an error listing the known ones otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown captioning architecture {name!r}; available: {', '.join(sorted(ARCHITECTURES))}.")
    return ARCHITECTURES[name]


register_architecture(S2VTForVideoCaptioning)
register_architecture(MeanPoolForVideoCaptioning)
register_architecture(G2LForVideoCaptioning)
register_architecture(SALSTMForVideoCaptioning)

__all__ = [
    "ARCHITECTURES",
    "G2L_ABLATIONS",
    "G2LAttentions",
    "G2LConfig",
    "G2LForVideoCaptioning",
    "MeanPoolConfig",
    "MeanPoolForVideoCaptioning",
    "RecurrentState",
    "S2VTConfig",
    "S2VTForVideoCaptioning",
    "SALSTMConfig",
    "SALSTMForVideoCaptioning",
    "VideoCaptioningConfig",
    "VideoCaptioningOutput",
    "VideoCaptioningPreTrainedModel",
    "VideoStream",
    "g2l_optimizer_and_scheduler",
    "get_architecture",
    "register_architecture",
]
