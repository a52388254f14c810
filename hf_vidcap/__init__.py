"""hf_vidcap: classic recurrent video captioning models as first-class transformers models.

Importing the package registers every architecture, the processor and its parts with transformers' Auto classes.
"""

from .modeling import (
    ARCHITECTURES,
    MeanPoolConfig,
    MeanPoolForVideoCaptioning,
    RecurrentState,
    S2VTConfig,
    S2VTForVideoCaptioning,
    VideoCaptioningConfig,
    VideoCaptioningOutput,
    VideoCaptioningPreTrainedModel,
    get_architecture,
    register_architecture,
)

__version__ = "0.1.0"
