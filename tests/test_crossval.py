"`malaria-fastai cv` end to end on the tiny subset: folds by patient, every cell scored once by a model that never saw its patient, a kill mid-fold and `--resume`, and cells left out of training."
import json, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
from conftest import run_cli

def _kill_when(proc, ready, what, limit=300):
    "SIGKILL `proc` as soon as `ready()` holds; fail if it ends or stalls first."
    deadline = time.time() + limit
    while not ready():
        assert proc.poll() is None and time.time() < deadline, f'cv ended or stalled before {what}'
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

def test_cv_killed_mid_fold_resumes_and_scores_every_cell_once(cells, tmp_path):
    out = tmp_path/'cv'
    excluded = sorted(str(p.relative_to(cells).as_posix()) for p in (cells/'Parasitized').glob('*.png'))[:5]
    pd.DataFrame(dict(path=excluded, label='Parasitized')).to_csv(tmp_path/'issues.csv', index=False)
    args = ['cv', '--data', cells, '--folds', 3, '--epochs', 2, '--size', 32, '--bs', 16, '--no-pretrained', '--out', out,
            '--exclude', tmp_path/'issues.csv']
    proc = subprocess.Popen([str(Path(sys.executable).parent/'malaria-fastai'), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(proc, lambda: (out/'fold_1'/'checkpoints'/'scratch_epoch_0.pth').exists(), "fold 2's first checkpoint")
    assert (out/'fold_0'/'oof.csv').exists() and not (out/'fold_1'/'oof.csv').exists() and not (out/'oof.csv').exists()
    first = (out/'fold_0'/'oof.csv').stat().st_mtime_ns
    res = run_cli(*args, '--resume')
    assert 'fold 1/3: finished earlier, kept' in res.stdout
    assert 'resuming stage scratch after epoch 0 of 2' in res.stdout
    assert (out/'fold_0'/'oof.csv').stat().st_mtime_ns == first  # not trained again
    oof = pd.read_csv(out/'oof.csv', keep_default_na=False)
    folds = pd.read_csv(out/'folds.csv')
    assert list(oof.columns[:5]) == ['path', 'patient', 'fold', 'label', 'prob_parasitized']
    assert sorted(oof.path) == sorted(p.relative_to(cells).as_posix() for p in cells.rglob('*.png'))  # every image once
    assert oof.path.tolist() == folds.path.tolist() and (oof.fold == folds.fold).all()
    assert (oof.label == oof.path.str.split('/').str[0]).all() and oof.prob_parasitized.astype(float).between(0, 1).all()
    for k in range(3):
        meta = json.loads((out/f'fold_{k}'/'model.json').read_text())
        held = oof[oof.fold == k]
        assert not set(meta['train_patients']) & set(held.patient)  # the fold's model never saw its patients
        assert meta['valid_cells'] == len(held)
        assert meta['train_cells'] == len(oof) - len(held) - sum(~oof.path[oof.path.isin(excluded)].isin(held.path))
        assert not (out/f'fold_{k}'/'checkpoints').exists()  # cleaned up once the fold is finished
    assert oof.path.isin(excluded).sum() == 5  # left out of training, still scored
    report = json.loads((out/'report.json').read_text())
    assert report['cells'] == len(oof) and report['folds'] == 3 and len(report['per_fold']) == 3
    assert report['recipe']['excluded'] == 5
    assert [r['target'] for r in report['tradeoff']] == [0.95, 0.97, 0.98, 0.99]
    assert 0 <= report['at_half']['accuracy']['ci95'][0] <= report['at_half']['accuracy']['value'] <= report['at_half']['accuracy']['ci95'][1]
    issues = pd.read_csv(out/'label_issues.csv')
    assert list(issues.columns[:5]) == ['path', 'patient', 'label', 'suggested_label', 'label_quality']
    assert issues.label_quality.is_monotonic_increasing and set(issues.path) <= set(oof.path)
    for name in ('roc.png', 'tradeoff.png', 'label_issues.png'): assert (out/name).read_bytes()[:4] == b'\x89PNG'
    assert 'out-of-fold:' in res.stdout and 'AUC' in res.stdout
