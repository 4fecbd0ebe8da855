"""Flip test-time augmentation for an adapted site model, out of fold: plain, two views and four flips, same cells, same run.

    python benchmarks/site_tta.py --site models/site_dev

`--site` is a folder `malaria-fastai adapt` wrote (or is writing: the folds finished so far are read). Each fold's model
(its float ONNX twin `cv/fold_<k>/model.onnx`, or with `--int8` the int8 twin `adapt` made to check it) scores the
cells of the fields it never saw in each of the four flips (`OnnxCells.scores(tta=False)` on flipped pixels); the
four-flip mean is checked against `OnnxCells.scores(tta=True)`, what `predict --tta` and `screen` run. Printed: ROC
AUC per fold and pooled for plain, each pair of views (the cell and one flip: two passes) and the four flips; each
side's pooled difference from plain with a paired field-bootstrap 95% interval (`crossval.compare_oof`); the
specificity at the threshold that finds 90% of the infected cells out of fold (`learner.sensitivity_threshold` on each
side's own scores); and cells per second of plain, two passes and the four flips on this machine (decoding excluded).
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from _common import machine
from malaria_fastai.runtime import FLIPS  # the flips `OnnxCells.scores(tta=True)` averages with the cell

VIEWS = dict(plain=lambda px: px, **dict(zip(('hflip', 'vflip', 'rot180'), FLIPS)))
SIDES = dict(plain=['plain'], **{f'plain+{v}': ['plain', v] for v in ('hflip', 'vflip', 'rot180')}, four_flips=list(VIEWS))

def batched(f, pixels:np.ndarray, bs:int=256) -> tuple[np.ndarray, float]:
    "`f` over `pixels` in batches of `bs`, and the seconds it took."
    start = time.perf_counter()
    out = np.concatenate([f(pixels[i:i+bs]) for i in range(0, len(pixels), bs)])
    return out, time.perf_counter() - start

def fold_scores(site:Path, k:int, held:pd.DataFrame, twin:str='model.onnx') -> tuple[pd.DataFrame, dict]:
    "Fold `k`'s held-out cells scored in each view and by each side; the seconds of one pass and of the four flips."
    from malaria_fastai.core import cell_pixels
    from malaria_fastai.runtime import OnnxCells
    cells = OnnxCells(site/'cv'/f'fold_{k}'/twin)
    pixels = np.stack([cell_pixels(site/'cells'/p, cells.size) for p in held.path])
    views, seconds = {}, {}
    for name, flip in VIEWS.items():
        views[name], seconds[name] = batched(lambda px: cells.scores(np.ascontiguousarray(flip(px)), False)[0], pixels)
    tta, seconds['four_flips'] = batched(lambda px: cells.scores(px, True)[0], pixels)
    sides = {side: np.mean([views[v] for v in vs], 0) for side, vs in SIDES.items()}
    gap = np.abs(sides['four_flips'] - tta).max()
    assert gap < 1e-4, f"the four views' mean differs from OnnxCells.scores(tta=True) by {gap:.1e}"
    return held.assign(**sides), seconds

def report_pooled(m:pd.DataFrame):
    "Each side's pooled ROC AUC, its difference from plain (paired field bootstrap) and specificity at sensitivity 0.90."
    from malaria_fastai.crossval import compare_oof
    from malaria_fastai.evaluate import call_rates
    from malaria_fastai.learner import sensitivity_threshold  # the rule `adapt` sets its threshold by
    y, cells = m.label.eq('Parasitized').values, m[['path', 'patient', 'label']]
    print(f"  pooled, {len(m)} cells of {m.patient.nunique()} fields, {m.fold.nunique()} folds:")
    for side in SIDES:
        th = sensitivity_threshold(y, m[side].values, 0.9)
        d = compare_oof(cells.assign(prob_parasitized=m.plain), cells.assign(prob_parasitized=m[side]))['roc_auc']
        print(f"    {side:12s}: ROC AUC {roc_auc_score(y, m[side]):.4f}, minus plain {d['value']:+.4f} "
              f"[{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] (paired field bootstrap); at out-of-fold sensitivity 0.90 "
              f"(threshold {th:.4f}) specificity {call_rates(y, m[side].values >= th)[1]:.4f}")

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--site', type=Path, required=True, help='the folder `malaria-fastai adapt` wrote')
    p.add_argument('--int8', action='store_true', help="the fold models' int8 twins (`model.int8.onnx`)")
    a = p.parse_args()
    twin = 'model.int8.onnx' if a.int8 else 'model.onnx'
    from malaria_fastai.crossval import read_oof
    print(f"machine: {machine()}; fold models: cv/fold_<k>/{twin}")
    oof = pd.concat([read_oof(f) for f in sorted((a.site/'cv').glob('fold_*/oof.csv'))])
    parts, seconds = [], {}
    for k, held in oof.groupby('fold'):
        scored, s = fold_scores(a.site, k, held, twin)
        parts.append(scored); seconds = {v: seconds.get(v, 0) + t for v, t in s.items()}
        y = scored.label.eq('Parasitized')
        aucs = ', '.join(f"{side} {roc_auc_score(y, scored[side]):.4f}" for side in SIDES)
        recorded = min(('plain', 'four_flips'), key=lambda s: np.abs(scored[s] - scored.prob_parasitized).max())
        print(f"  fold {k}: {len(held)} cells ({y.sum()} infected): ROC AUC {aucs} (recorded out of fold: "
              f"{roc_auc_score(y, scored.prob_parasitized):.4f}, {recorded} as scored here to "
              f"{np.abs(scored[recorded] - scored.prob_parasitized).max():.1e})")
    m = pd.concat(parts)
    report_pooled(m)
    one, two, four = len(m) / seconds['plain'], len(m) / (seconds['plain'] + seconds['rot180']), len(m) / seconds['four_flips']
    print(f"  speed ({twin}, batches of 256, decoding excluded): plain {one:.0f} cells/s, two passes {two:.0f}, "
          f"four flips {four:.0f}; ratios to plain {two / one:.2f} and {four / one:.2f}")

if __name__ == '__main__': main()
