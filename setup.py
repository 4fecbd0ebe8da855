"Thin shim: all metadata lives in pyproject.toml; this keeps `pip install -e .` working with older tooling."
from setuptools import setup

setup()
