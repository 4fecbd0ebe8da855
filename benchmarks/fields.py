"""Whole-field screening on annotated fields: segmentation, zero-shot and adapted classification, parasitemia, speed.

    python benchmarks/fields.py --fields ../shared/iml-malaria/iml_fields_dev.zip --site models/site_dev

`--site` is the folder `malaria-fastai adapt` wrote for these fields (its `cv/` holds the field-grouped folds, their
fold models and out-of-fold scores). Every figure is measured in this run and printed beside the baseline the issue
gives (quick prototypes: Otsu + watershed, the shipped model on plain box crops, a 3-epoch fine-tune).

1. Segmentation (`fields.find_cells`, fixed parameters): recall of the annotated cells at IoU >= 0.5, boxes found per
   annotated cell (the annotations leave border and some crowded cells out), seconds a field. Its parameters were set
   by eye on the first 70 dev fields (sorted by name): the other 80 are reported apart.
2. Zero-shot: the shipped NIH model on the annotated cells, NIH-style (the segmented cell on black, `NIH_INSET`,
   which was chosen on every other dev field) and as plain box crops; ROC AUC, and sensitivity / specificity at its
   NIH threshold.
3. Adapted, out of fold by field: ROC AUC, sensitivity and specificity at the stored threshold (field-bootstrap 95%).
4. Parasitemia: each fold's held-out fields screened end to end by that fold's model (cells found by the segmentation,
   not the annotations), pooled, naive and Rogan-Gladen corrected, against the annotated truth; and per field.
5. Speed: `screen` end to end (decode, segment, crop, classify, overlays) over all fields with the adapted model.
"""
import argparse, json, tempfile, time, zipfile
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from _common import machine

BASELINE = dict(recall=0.942, seconds_per_field=0.37, zero_shot_auc=0.74, adapted_auc=0.989, adapted_sensitivity=0.89,
                adapted_specificity=0.98)
TARGET = dict(recall=0.97, zero_shot_auc=0.85, auc=0.98, sensitivity=0.90, specificity=0.98, parasitemia_pp=0.3,
              fields_per_s=3)

def annotated(fields:Path, tmp:Path) -> dict:
    "Annotated cells by field file name, from the annotations.json in the fields' zip or folder."
    from malaria_fastai.fields import read_annotations
    from malaria_fastai.adapt import _annotations_beside
    return read_annotations(_annotations_beside([fields], tmp))

def field_name(name:str) -> str: return Path(name.split(':')[-1]).name

def segmentation_and_zero_shot(fields:Path, truth:dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    "Per field: annotated, matched, boxes, seconds; per annotated cell: label and the shipped model's two scores."
    from malaria_fastai.fields import field_images, find_cells, cell_crops, match_boxes, NIH_INSET
    from malaria_fastai.runtime import open_cells
    model, per_field, per_cell = open_cells(), [], []
    for k, (name, open_field, err) in enumerate(field_images(fields)):
        cells = truth.get(field_name(name))
        if err or cells is None: continue
        pixels = np.asarray(open_field())
        start = time.perf_counter(); boxes, masks = find_cells(pixels); seconds = time.perf_counter() - start
        tb, y = np.array([c['box'] for c in cells]), np.array([c['infected'] for c in cells])
        pairs = match_boxes(tb, boxes)
        plain = model.scores(cell_crops(pixels, tb, None, model.size))[0]
        nih = np.full(len(cells), np.nan)
        if pairs:
            ti, fi, _ = map(list, zip(*pairs))
            nih[ti] = model.scores(cell_crops(pixels, boxes[fi], [masks[j] for j in fi], model.size, NIH_INSET))[0]
        per_field.append(dict(field=field_name(name), order=k, annotated=len(cells), matched=len(pairs), boxes=len(boxes),
                              infected=int(y.sum()), infected_matched=int(y[[i for i, _, _ in pairs]].sum()) if pairs else 0,
                              seconds=seconds))
        per_cell += [dict(field=field_name(name), infected=bool(v), plain=float(p), nih_style=float(q))
                     for v, p, q in zip(y, plain, nih)]
    return pd.DataFrame(per_field), pd.DataFrame(per_cell)

def report_segmentation(f:pd.DataFrame):
    "Print recall at IoU 0.5 (all, infected; tuning fields apart), boxes per annotated cell, seconds a field."
    tuned = f.order < 70
    for what, part in (('all fields', f), ('first 70 (parameters set on them)', f[tuned]), ('other 80', f[~tuned])):
        print(f"  {what:36s} recall {part.matched.sum() / part.annotated.sum():.4f} "
              f"(infected {part.infected_matched.sum()}/{part.infected.sum()}), "
              f"boxes per annotated cell {part.boxes.sum() / part.annotated.sum():.2f}")
    worst = f.assign(recall=f.matched / f.annotated).nsmallest(3, 'recall')
    print(f"  worst fields: {', '.join(f'{r.field} {r.recall:.2f}' for r in worst.itertuples())}")
    print(f"  segmentation {f.seconds.mean():.3f} s a field (median {f.seconds.median():.3f})")
    print(f"  recall {f.matched.sum() / f.annotated.sum():.4f} vs baseline {BASELINE['recall']} (target {TARGET['recall']}); "
          f"ratio {f.matched.sum() / f.annotated.sum() / BASELINE['recall']:.3f}")

def rates_at(y, p, threshold:float) -> str:
    "Sensitivity and specificity of scores `p` at `threshold`, as text."
    y, called = np.asarray(y, bool), np.asarray(p) >= threshold
    return f"sensitivity {called[y].mean():.3f}, specificity {(~called[~y]).mean():.3f}"

def report_zero_shot(c:pd.DataFrame):
    "Print the shipped model's AUC on the annotated cells, NIH-style and plain boxes, and its rates at its threshold."
    from malaria_fastai.runtime import open_cells
    th, m = open_cells().threshold, c.nih_style.notna()
    nih, plain = roc_auc_score(c.infected[m], c.nih_style[m]), roc_auc_score(c.infected, c.plain)
    print(f"  NIH-style crops ({m.sum()} matched cells): ROC AUC {nih:.4f}; at the NIH threshold {th:.3f}: "
          f"{rates_at(c.infected[m], c.nih_style[m], th)}")
    print(f"  plain box crops ({len(c)} annotated cells):  ROC AUC {plain:.4f}; at the NIH threshold: "
          f"{rates_at(c.infected, c.plain, th)}")
    print(f"  NIH-style AUC {nih:.4f} vs baseline {BASELINE['zero_shot_auc']} (plain boxes; target {TARGET['zero_shot_auc']}); "
          f"ratio {nih / BASELINE['zero_shot_auc']:.3f}; plain boxes measured here {plain:.4f}")

def report_adapted(site:Path):
    "Print the adapted model's out-of-fold AUC and rates at the stored threshold (field bootstrap), beside the baselines."
    r = json.loads((site/'site.json').read_text())
    at = r['at_threshold']
    ci = lambda k: f"{at[k]['value']:.4f} [{at[k]['ci95'][0]:.4f}, {at[k]['ci95'][1]:.4f}]"
    print(f"  {r['fields']} fields, {r['matched']} cells ({r['infected_matched']} infected), {len(set(pd.read_csv(site/'cv'/'folds.csv').fold))} "
          f"folds by field; threshold {r['threshold']:.4f} (out-of-fold sensitivity target {r['target_sensitivity']})")
    print(f"  ROC AUC {ci('roc_auc')} vs baseline {BASELINE['adapted_auc']} (target {TARGET['auc']}); "
          f"ratio {at['roc_auc']['value'] / BASELINE['adapted_auc']:.3f}")
    print(f"  sensitivity {ci('sensitivity')} vs baseline {BASELINE['adapted_sensitivity']} (target {TARGET['sensitivity']})")
    print(f"  specificity {ci('specificity')} vs baseline {BASELINE['adapted_specificity']} (target {TARGET['specificity']})")
    oof = pd.read_csv(site/'cv'/'oof.csv')
    y, p = oof.label.eq('Parasitized'), oof.prob_parasitized
    for target in (0.85, 0.90, 0.95):  # what other operating points would give, out of fold
        th = np.quantile(p[y], 1 - target)
        print(f"    at out-of-fold sensitivity {target}: threshold {th:.4f}, {rates_at(y, p, th)}")
    return r

def fold_parasitemia(fields:Path, site:Path, truth:dict, tmp:Path, threshold:float) -> pd.DataFrame:
    "Each field screened by the fold model that never saw it, at the site's threshold (where its rates were measured)."
    from malaria_fastai.screen import screen
    from malaria_fastai.adapt import SITE_INSET
    folds = pd.read_csv(site/'cv'/'folds.csv')
    fold_of = folds.groupby('patient').fold.first().to_dict()
    with zipfile.ZipFile(fields) as z:
        names = {Path(n).stem: n for n in z.namelist() if Path(n).suffix.lower() == '.jpg'}
        for stem in fold_of: z.extract(names[stem], tmp/f'fold_{fold_of[stem]}')
    rows = []
    for k in sorted(set(fold_of.values())):
        res = screen(tmp/f'fold_{k}', site/'cv'/f'fold_{k}'/'model.onnx', threshold=threshold, overlays=False, inset=SITE_INSET)
        rows += [dict(r, fold=k) for r in res['fields']]
    out = pd.DataFrame(rows).assign(name=lambda d: [field_name(f) for f in d.field])
    out['true_infected'] = [sum(c['infected'] for c in truth[n]) for n in out.name]
    out['true_cells'] = [len(truth[n]) for n in out.name]
    return out

def report_parasitemia(f:pd.DataFrame, rates:dict):
    "Print the pooled sample's parasitemia (naive, corrected, interval) against the truth, and the per-field errors."
    from malaria_fastai.fields import parasitemia_estimate, rogan_gladen
    truth = f.true_infected.sum() / f.true_cells.sum()
    est = parasitemia_estimate(int(f.parasitized.sum()), int(f.counted.sum()), rates['sensitivity'], rates['specificity'])
    print(f"  truth {truth:.4%} ({f.true_infected.sum()} of {f.true_cells.sum()} annotated cells); screened "
          f"{f.counted.sum()} cells, {f.parasitized.sum()} called infected")
    print(f"  naive {est['naive']:.4%} (error {100 * (est['naive'] - truth):+.3f} pp); Rogan-Gladen {est['value']:.4%} "
          f"[{est['ci95'][0]:.4%}, {est['ci95'][1]:.4%}] (error {100 * (est['value'] - truth):+.3f} pp; target within "
          f"{TARGET['parasitemia_pp']} pp)")
    per = f.assign(truth=f.true_infected / f.true_cells, naive=f.parasitized / f.counted)
    per['corrected'] = rogan_gladen(per.naive, rates['sensitivity']['value'], rates['specificity']['value'])
    for k in ('naive', 'corrected'):
        err = 100 * (per[k] - per.truth).abs()
        print(f"  per field, {k:9s}: mean |error| {err.mean():.3f} pp, median {err.median():.3f} pp, 90th percentile "
              f"{err.quantile(0.9):.3f} pp")

def report_speed(fields:Path, site:Path, tmp:Path):
    "Print `screen`'s fields per second end to end over every field, overlays written, with the adapted model."
    from malaria_fastai.screen import screen
    start = time.perf_counter()
    res = screen(fields, site/'model.pkl', tmp/'speed')
    seconds = time.perf_counter() - start
    n = res['summary']['fields']
    print(f"  {n} fields in {seconds:.1f} s: {n / seconds:.2f} fields/s end to end (model opened, overlays written; "
          f"target {TARGET['fields_per_s']}); ratio to target {n / seconds / TARGET['fields_per_s']:.2f}")

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--fields', type=Path, required=True, help='a zip of annotated field photos with annotations.json')
    p.add_argument('--site', type=Path, help='the folder `malaria-fastai adapt` wrote for these fields')
    a = p.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t); truth = annotated(a.fields, tmp)
        per_field, per_cell = segmentation_and_zero_shot(a.fields, truth)
        print("1. segmentation"); report_segmentation(per_field)
        print("2. zero-shot (the shipped NIH model)"); report_zero_shot(per_cell)
        if not a.site: return
        print("3. adapted (out of fold, by field)"); r = report_adapted(a.site)
        print("4. parasitemia (fold models on their held-out fields)")
        report_parasitemia(fold_parasitemia(a.fields, a.site, truth, tmp, r['threshold']), r['at_threshold'])
        print("5. speed"); report_speed(a.fields, a.site, tmp)

if __name__ == '__main__': main()
