"The shipped default model: intact, loadable in a fresh process with no network, and good on the tiny subset's patients (none of whom are in the dev zip it was trained on)."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import run_cli

SHIPPED = Path(__file__).resolve().parents[1]/'models'/'default'

def test_shipped_files_match_their_sha256_and_budget():
    from malaria_fastai.core import sha256_file
    for name in ('model.pkl', 'model.onnx'):
        f = SHIPPED/name
        assert (SHIPPED/f'{name}.sha256').read_text().split()[0] == sha256_file(f), name
    assert (SHIPPED/'model.pkl').stat().st_size <= 25 * 2**20
    meta = json.loads((SHIPPED/'model.json').read_text())
    assert meta['arch'] in ('resnet18', 'resnet50') and meta['split'] == 'patient'
    assert not set(meta['train_patients']) & set(meta['valid_patients'])

def test_shipped_model_loads_in_a_fresh_process_and_is_accurate_on_unseen_patients(cells, tmp_path):
    code = ("import malaria_fastai, sys\n"
            f"df = malaria_fastai.predict([{str(cells)!r}], engine='torch')\n"
            "acc = ((df.prediction == 'Parasitized') == df.path.str.contains('/Parasitized/')).mean()\n"
            "print(acc, len(df), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALARIA_')}  # the package's own defaults only
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    acc, n, _ = res.stdout.split()
    assert int(n) == len(list(cells.rglob('*.png')))
    print(f'shipped model (torch) accuracy on the tiny subset: {float(acc):.4f}')
    assert float(acc) >= 0.95

def test_cli_predict_uses_the_shipped_model_by_default(cells, tmp_path):
    res = run_cli('predict', cells, '--csv', tmp_path/'out.csv')
    assert f"engine: onnxruntime ({SHIPPED/'model.onnx'})" in res.stderr
    df = pd.read_csv(tmp_path/'out.csv')
    acc = ((df.prediction == 'Parasitized') == df.path.str.contains('/Parasitized/')).mean()
    print(f'shipped model (ONNX twin) accuracy on the tiny subset: {acc:.4f}')
    assert acc >= 0.95
