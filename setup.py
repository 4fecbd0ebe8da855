"""Metadata lives in pyproject.toml. This file adds one build step: a wheel carries the run defaults and the shipped
model's ONNX twin as package data (`malaria_fastai/shipped/`), so an install outside the checkout predicts offline.
An editable install reads them from the checkout instead."""
import shutil
from pathlib import Path
from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ['settings.ini', 'models/default/model.onnx', 'models/default/model.onnx.sha256', 'models/default/model.json',
           'models/default/cv/report.json']  # the report: the rates `screen` corrects its counts with

class BuildWithModel(build_py):
    "setuptools' `build_py`, then the run defaults and the default model copied into `malaria_fastai/shipped/`."
    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False): return
        dest = Path(self.build_lib)/'malaria_fastai'/'shipped'
        dest.mkdir(parents=True, exist_ok=True)
        for f in map(Path, SHIPPED):
            to = dest/(f.relative_to('models/default') if f.parts[:2] == ('models', 'default') else f.name)
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(__file__).parent/f, to)

setup(cmdclass={'build_py': BuildWithModel})
