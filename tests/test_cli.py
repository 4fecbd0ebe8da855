"The foundation's end-to-end promises, through the installed `malaria-fastai` command and fresh processes."
import json, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import run_cli

def test_train_leaves_checkpoints_export_history_and_plots(trained):
    out, stdout = trained
    assert sorted(p.name for p in (out/'checkpoints').glob('*_epoch_*.pth')) == ['scratch_epoch_0.pth']
    for name in ('model.pkl', 'history.csv', 'losses.png', 'confusion_matrix.png'):
        assert (out/name).stat().st_size > 0, name
        assert str(out/name) in stdout, f'train does not say where {name} went'
    assert (out/'losses.png').read_bytes()[:4] == b'\x89PNG'
    history = pd.read_csv(out/'history.csv')
    assert len(history) == 1 and {'valid_loss', 'sensitivity', 'specificity', 'roc_auc'} <= set(history.columns)

def test_export_loads_in_a_fresh_process_with_only_the_package(trained, cells):
    out, _ = trained
    code = ("import sys, malaria_fastai\n"
            "from fastai.learner import load_learner\n"
            f"learn = load_learner({str(out/'model.pkl')!r})\n"
            "print(learn.dls.vocab, learn.meta['size'], '__main__' not in str(learn.dls.after_item))\n"
            f"print(malaria_fastai.predict([{str(cells/'Parasitized')!r}], learn).shape[0])")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split('\n')
    assert lines[0] == "['Parasitized', 'Uninfected'] 64 True"
    assert int(lines[1]) == len(list((cells/'Parasitized').iterdir()))

def test_predict_writes_one_row_per_file_with_errors_for_bad_ones(trained, cells, tmp_path):
    out, _ = trained
    folder = tmp_path/'cells with spaces'
    folder.mkdir()
    good = sorted((cells/'Parasitized').glob('*.png'))[:6] + sorted((cells/'Uninfected').glob('*.png'))[:6]
    for f in good: shutil.copy(f, folder/f.name)
    (folder/'corrupt.png').write_bytes(good[0].read_bytes()[:150])
    (folder/'Thumbs.db').write_bytes(b'\xd0\xcf\x11\xe0' + b'\0'*60)
    csv = tmp_path/'out.csv'
    res = run_cli('predict', folder, '--model', out/'model.pkl', '--csv', csv)
    df = pd.read_csv(csv, keep_default_na=False)
    assert list(df.columns) == ['path', 'prediction', 'prob_parasitized', 'refer', 'flag', 'error']
    assert sorted(Path(p).name for p in df.path) == sorted([f.name for f in good] + ['corrupt.png', 'Thumbs.db'])
    bad = df[df.error != '']
    assert sorted(Path(p).name for p in bad.path) == ['Thumbs.db', 'corrupt.png']
    assert (bad.prediction == '').all()
    ok = df[df.error == '']
    assert set(ok.prediction) <= {'Parasitized', 'Uninfected'} and len(ok) == 12
    assert ok.prob_parasitized.astype(float).between(0, 1).all()
    assert 'classified 12 of 14 files' in res.stderr and 'engine: onnxruntime' in res.stderr

def test_onnx_and_torch_agree_and_the_onnx_path_never_loads_torch(trained, cells, tmp_path):
    out, _ = trained
    for engine in ('onnx', 'torch'): run_cli('predict', cells, '--model', out/'model.pkl', '--engine', engine, '--csv', tmp_path/f'{engine}.csv')
    onnx, torch_ = (pd.read_csv(tmp_path/f'{e}.csv') for e in ('onnx', 'torch'))
    assert onnx.path.tolist() == torch_.path.tolist() and len(onnx) == len(list(cells.rglob('*.png')))
    diff = (onnx.prob_parasitized - torch_.prob_parasitized).abs().max()
    print(f'max |onnx - torch| on the tiny subset: {diff:.2e}')
    assert diff < 1e-4
    assert (onnx.prediction == torch_.prediction).mean() > 0.99  # only cells within 1e-4 of the threshold may differ
    code = ("import sys; from malaria_fastai.cli import main\n"
            f"status = main(['predict', {str(cells)!r}, '--model', {str(out/'model.pkl')!r}, '--csv', {str(tmp_path/'lean.csv')!r}])\n"
            "print(status, sorted(m for m in ('torch', 'fastai', 'pandas') if m in sys.modules))")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert res.stdout.strip().endswith("0 []"), res.stdout + res.stderr

def test_predict_fails_clearly_when_nothing_can_be_classified(trained, tmp_path):
    out, _ = trained
    res = run_cli('predict', tmp_path/'no-such.png', '--model', out/'model.pkl', '--csv', tmp_path/'o.csv', check=False)
    assert res.returncode != 0
    assert 'no image could be classified' in res.stderr
    df = pd.read_csv(tmp_path/'o.csv', keep_default_na=False)
    assert df.error.tolist() == ['no such file or folder']

def test_predict_without_a_model_says_what_to_do(tmp_path):
    res = run_cli('predict', tmp_path, '--model', tmp_path/'none.pkl', check=False)
    assert res.returncode != 0 and 'no model at' in res.stderr and 'malaria-fastai train' in res.stderr

def test_help_reads_well():
    for cmd in ('download', 'train', 'predict', 'screen'):
        res = run_cli(cmd, '--help')
        assert res.stdout.startswith(f'usage: malaria-fastai {cmd}')
        assert 'inspect._empty' not in res.stdout  # a positional argument has no default to show
    assert '--no-pretrained' in run_cli('train', '--help').stdout

def test_evaluate_writes_the_report_and_figures(trained, cells, tmp_path):
    out, _ = trained
    res = run_cli('evaluate', cells, '--model', out/'model.pkl', '--out', tmp_path/'ev', '--patients', 'valid', '--tta', '--n-boot', 50)
    report = json.loads((tmp_path/'ev'/'report.json').read_text())
    assert f"report: {tmp_path/'ev'/'report.json'}" in res.stdout
    assert report['leaked_cells'] == 0 and report['n'] > 0
    for metric in ('accuracy', 'sensitivity', 'specificity', 'precision', 'f1', 'f2', 'roc_auc', 'mcc'):
        r = report['plain']['at_threshold'][metric]
        assert len(r['ci95']) == 2, metric
    assert set(report['tta']) == {'at_threshold', 'at_0.5'}
    for fig in report['figures'].values(): assert (tmp_path/'ev'/fig).read_bytes()[:4] == b'\x89PNG'
    assert {'confusion_matrix', 'roc', 'precision_recall', 'reliability', 'top_losses', 'grad_cam'} <= set(report['figures'])

def test_evaluating_on_training_patients_warns_about_leakage_and_leaves_the_model_folder_alone(trained, cells, tmp_path):
    out, _ = trained
    res = run_cli('evaluate', cells, '--model', out/'model.pkl', '--patients', 'train', '--n-boot', 20, cwd=tmp_path)  # no --out
    report = json.loads((tmp_path/'evaluation'/'report.json').read_text())  # ./evaluation by default
    assert not (out/'evaluation').exists()  # a model's folder holds its evidence: never overwritten unasked
    assert report['leaked_cells'] == report['n'] > 0
    assert 'LEAKAGE' in res.stderr

def test_any_file_name_is_written_and_a_bad_destination_fails_first(cells, tmp_path):
    "Issue 14: a non-UTF-8 file name lost every row of the CSV; an unwritable --out failed only after all the work."
    import os, shutil
    odd = tmp_path/'cells'
    odd.mkdir()
    first = sorted((cells/'Parasitized').iterdir())[0]
    shutil.copy(first, odd/os.fsdecode(b'cell\xff.png'))  # a name that is not UTF-8
    shutil.copy(first, odd/'plain.png')
    run_cli('predict', odd, '--out', tmp_path/'rows.csv')
    raw = (tmp_path/'rows.csv').read_bytes()
    assert b'cell\xff.png' in raw and b'plain.png' in raw and raw.count(b'\n') == 3  # header and both rows
    run_cli('predict', odd, '--out', tmp_path/'rows.json', '--format', 'json')
    assert len(json.loads((tmp_path/'rows.json').read_text(encoding='utf-8', errors='surrogateescape'))) == 2
    (tmp_path/'afile').write_text('')
    for dest, why in ((tmp_path, 'is a folder'), (tmp_path/'afile'/'rows.csv', 'cannot write --out')):
        res = run_cli('predict', odd, '--out', dest, check=False)
        assert res.returncode == 1 and why in res.stderr and 'classified' not in res.stderr, res.stderr
