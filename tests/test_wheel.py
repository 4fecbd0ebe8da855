"A wheel installed outside the checkout predicts offline with the shipped model and run defaults (issue 13)."
import os, subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]

def test_wheel_predicts_like_the_checkout(tmp_path, cells):
    pip = [sys.executable, '-m', 'pip', '-q']
    subprocess.run([*pip, 'wheel', str(ROOT), '--no-deps', '--no-build-isolation', '-w', tmp_path/'dist'], check=True)
    wheel, = (tmp_path/'dist').glob('malaria_fastai-*.whl')
    assert wheel.stat().st_size < 15e6  # lean: the int8 ONNX twin, not the pickled export
    site, elsewhere = tmp_path/'site', tmp_path/'elsewhere'
    subprocess.run([*pip, 'install', '--no-deps', '--no-index', '--target', site, wheel], check=True)
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('MALARIA_SETTINGS', 'PYTHONPATH')}
    env.update(PYTHONPATH=str(site), HOME=str(tmp_path/'home'))  # no checkout, no user settings, no network needed
    code = ("import sys, malaria_fastai; from malaria_fastai.core import default_model; from malaria_fastai.cli import main\n"
            f"assert malaria_fastai.__file__.startswith({str(site)!r}), malaria_fastai.__file__\n"
            "print(default_model())\n"
            f"status = main(['predict', {str(cells)!r}, '--out', 'wheel.csv'])\n"
            "print(status, 'torch' in sys.modules)\n"
            "from malaria_fastai.screen import classifier_rates\n"
            "print(classifier_rates(default_model())['measured'])\n")
    res = subprocess.run([sys.executable, '-c', code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    shipped, status, rates = res.stdout.split('\n')[:3]
    assert shipped == str(site/'malaria_fastai'/'shipped'/'model.onnx') and status == '0 False', res.stdout
    assert rates == 'nih', res.stdout  # screen corrects with the shipped model's cross-validated rates
    run_cli('predict', cells, '--out', tmp_path/'checkout.csv')
    pd.testing.assert_frame_equal(pd.read_csv(elsewhere/'wheel.csv'), pd.read_csv(tmp_path/'checkout.csv'))
    # a shipped twin with a rewritten threshold and a fresh checksum beside it: the hash pinned in the package refuses it
    from malaria_fastai.runtime import OnnxCells, write_onnx_meta
    from malaria_fastai.core import write_checksum
    twin = site/'malaria_fastai'/'shipped'/'model.onnx'
    write_checksum(write_onnx_meta(twin, dict(OnnxCells(twin).meta, threshold=0.99)))
    res = subprocess.run([sys.executable, '-c', code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert 'is not the model this package shipped' in res.stderr, res.stderr  # said when the twin is loaded,
    assert res.stdout.split('\n')[1] == '1 False', res.stdout  # and predict fails
