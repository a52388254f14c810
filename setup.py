from pathlib import Path

from setuptools import find_packages, setup


setup(
    name="hf-vidcap",
    version="0.1.0",
    description="Classic recurrent video captioning models (S2VT, mean-pooled LSTM, ...) as transformers plugins",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hf_vidcap", "hf_vidcap.*"]),
    package_data={"hf_vidcap.metrics": ["*.py"]},
    install_requires=[
        "torch>=2.4",
        "transformers>=5.23,<6",
        "tokenizers>=0.22",
        "datasets>=5.0,<6",
        "accelerate>=1.10",
        "evaluate>=0.4.6",
        "huggingface-hub>=1.0",
        "av>=14.1",  # VideoFrame.rotation
        "numpy",
        "tqdm",
    ],
    extras_require={
        # The coco-caption reference implementation: METEOR 1.5 (needs Java) is taken from it.
        "meteor": ["pycocoevalcap>=1.2"],
        "plot": ["matplotlib"],
        "test": ["pytest>=8", "pycocoevalcap>=1.2", "matplotlib"],
        "dev": ["pytest>=8", "pycocoevalcap>=1.2", "ruff", "matplotlib"],
    },
    entry_points={"console_scripts": ["hf-vidcap=hf_vidcap.cli:main"]},
)
