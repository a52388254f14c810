"""Runs the shared model tests on every registered architecture: a new architecture needs no new test code."""

from hf_vidcap.modeling import ARCHITECTURES

from .common import VideoCaptioningModelTesterMixin


for _name, _model_class in ARCHITECTURES.items():
    _test_class = f"Test{_model_class.__name__}"
    globals()[_test_class] = type(_test_class, (VideoCaptioningModelTesterMixin,), {"model_class": _model_class})
