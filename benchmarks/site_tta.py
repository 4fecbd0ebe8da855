"""Flip test-time augmentation for an adapted site model, out of fold: plain against the four flips, same cells, same run.

    python benchmarks/site_tta.py --site models/site_dev

`--site` is a folder `malaria-fastai adapt` wrote (or is writing: the folds finished so far are read). Each fold's model
(its float ONNX twin `cv/fold_<k>/model.onnx`, or with `--int8` the int8 twin `adapt` made to check it) scores the
cells of the fields it never saw, once plain and once averaged over the four flips (`OnnxCells.scores(tta=True)`,
what `predict --tta` runs). Printed: ROC AUC per fold and pooled, the pooled difference with a paired field-bootstrap
95% interval (`crossval.compare_oof`), the specificity at the threshold that finds 90% of the infected cells out of
fold (`learner.sensitivity_threshold` on each side's own scores), and cells per second of each side on this machine
(decoding excluded).
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from _common import machine

def fold_scores(site:Path, k:int, held:pd.DataFrame, twin:str='model.onnx') -> tuple[pd.DataFrame, float, float]:
    "Fold `k`'s held-out cells scored plain and with four flips, and the seconds each side took."
    from malaria_fastai.core import cell_pixels
    from malaria_fastai.runtime import OnnxCells
    cells = OnnxCells(site/'cv'/f'fold_{k}'/twin)
    pixels = np.stack([cell_pixels(site/'cells'/p, cells.size) for p in held.path])
    side = {}
    for tta in (False, True):
        start = time.perf_counter()
        side[tta] = np.concatenate([cells.scores(pixels[i:i+256], tta)[0] for i in range(0, len(pixels), 256)])
        side[tta, 's'] = time.perf_counter() - start
    return held.assign(plain=side[False], tta=side[True]), side[False, 's'], side[True, 's']

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--site', type=Path, required=True, help='the folder `malaria-fastai adapt` wrote')
    p.add_argument('--int8', action='store_true', help="the fold models' int8 twins (`model.int8.onnx`)")
    a = p.parse_args()
    twin = 'model.int8.onnx' if a.int8 else 'model.onnx'
    from malaria_fastai.crossval import read_oof, compare_oof
    from malaria_fastai.learner import sensitivity_threshold  # the rule `adapt` sets its threshold by
    print(f"machine: {machine()}; fold models: cv/fold_<k>/{twin}")
    oof = pd.concat([read_oof(f) for f in sorted((a.site/'cv').glob('fold_*/oof.csv'))])
    parts, seconds = [], np.zeros(2)
    for k, held in oof.groupby('fold'):
        scored, s_plain, s_tta = fold_scores(a.site, k, held, twin)
        parts.append(scored); seconds += (s_plain, s_tta)
        y = scored.label.eq('Parasitized')
        print(f"  fold {k}: {len(held)} cells ({y.sum()} infected): ROC AUC plain {roc_auc_score(y, scored.plain):.4f}, "
              f"four flips {roc_auc_score(y, scored.tta):.4f} (recorded out of fold: "
              f"{roc_auc_score(y, scored.prob_parasitized):.4f}; plain {twin} differs from it by at most "
              f"{np.abs(scored.plain - scored.prob_parasitized).max():.1e})")
    m = pd.concat(parts); y = m.label.eq('Parasitized').values
    print(f"  pooled, {len(m)} cells of {m.patient.nunique()} fields, {m.fold.nunique()} folds:")
    for name in ('plain', 'tta'):
        th = sensitivity_threshold(y, m[name].values, 0.9)
        spec = (m[name].values[~y] < th).mean()
        print(f"    {name:5s}: ROC AUC {roc_auc_score(y, m[name]):.4f}; at out-of-fold sensitivity 0.90 (threshold "
              f"{th:.4f}) specificity {spec:.4f}")
    cells = m[['path', 'patient', 'label']]
    d = compare_oof(cells.assign(prob_parasitized=m.plain), cells.assign(prob_parasitized=m.tta))['roc_auc']
    print(f"    four flips minus plain: ROC AUC {d['value']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] "
          f"(paired field bootstrap)")
    print(f"  speed ({twin}, batches of 256, decoding excluded): plain {len(m) / seconds[0]:.0f} cells/s, four flips "
          f"{len(m) / seconds[1]:.0f} cells/s; ratio {seconds[0] / seconds[1]:.2f}")

if __name__ == '__main__': main()
