"""Another site's stain (issue 34): for each model given, in one run, its NIH figures out of fold, its zero-shot figures
on IML-Malaria fields (a hospital it never saw), and the site check's verdicts on unseen NIH patients and on IML samples.

    python benchmarks/site_shift.py --data DEV --fields ../shared/iml-malaria/iml_fields_dev.zip \\
        --model models/default:models/default/cv --model NEW_MODEL_FOLDER:ITS_CV_FOLDER

Each `--model` is `MODEL:CV`: the model folder (`model.onnx` and `model.json` with its site-check reference) and the
cross-validation by patient of its recipe (`report.json`, `oof.csv`).

1. NIH, out of fold (every dev patient held out once): ROC AUC, accuracy at 0.5, sensitivity and specificity at the
   fold models' threshold (`report.json`, patient-bootstrap 95% intervals), on the original labels.
2. IML zero-shot, as `screen` runs: every field segmented, each box cut and called; on the annotated cells found
   (IoU >= 0.5) that `screen` counts, ROC AUC and sensitivity / specificity at the model's stored threshold; the
   sample's parasitemia as `screen` reports it (withheld or its interval) against the annotated truth.
3. The site check, nested by fold: each fold's reference is fitted as the shipped one is (`sitecheck.cv_reference`:
   out-of-fold calls at the model's threshold) on the other folds' patients, and each of its patients' cells are one
   batch (false alarms: batches called shifted). On IML: all fields as one sample, and as samples of 10 fields.
"""
import argparse, json, sys, time
from datetime import date
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
from _common import machine

def nih_out_of_fold(cv:Path) -> str:
    "Part 1 in a line, from the cross-validation's report."
    r = json.loads((cv/'report.json').read_text())
    f = lambda m: f"{m['value']:.4f} [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]"
    oof = pd.read_csv(cv/'oof.csv').dropna(subset=['prob_parasitized'])
    auc = roc_auc_score(oof.label.eq('Parasitized'), oof.prob_parasitized)
    return (f"ROC AUC {auc:.4f}; at 0.5 accuracy {f(r['at_half']['accuracy'])}; at its threshold {r['threshold']:.4f} "
            f"sensitivity {f(r['at_threshold']['sensitivity'])}, specificity {f(r['at_threshold']['specificity'])} "
            f"({r['cells']} cells, {r['patients']} patients)")

def iml_screened(model:Path, fields:Path, truth:dict) -> tuple[pd.DataFrame, list, list, dict]:
    "Every box `screen` finds on the fields with its annotation; each field's row and site sample; the plan."
    from malaria_fastai.screen import screen_plan, screen_here
    from malaria_fastai.fields import field_images
    from malaria_fastai.adapt import field_file, truth_of_boxes
    plan = screen_plan(model, draw=False)
    items = [(*f, plan['size'], plan['inset']) for f in field_images(fields) if field_file(f[0]) in truth]
    boxes, field_rows, site = [], [], []
    for res in screen_here(items, plan):
        name = field_file(res['field']['field'])
        boxes += [dict(r, field=name) for r in truth_of_boxes(res['cells'], truth[name])]
        field_rows.append(res['field']); site.append(res['site'])
    return pd.DataFrame(boxes), field_rows, site, plan

def iml_zero_shot(boxes:pd.DataFrame, field_rows:list, site:list, plan:dict, truth:dict) -> list[str]:
    "Part 2 (and the site check of the whole sample) in lines."
    from malaria_fastai.evaluate import call_rates
    from malaria_fastai.screen import sample_summary, site_verdict, parasitemia_text
    c = boxes[(boxes.flag == '') & boxes.annotated]
    y, p, th = c.infected.values, c.prob_parasitized.values, plan['threshold']
    sens, spec = call_rates(y, p >= th)
    cells = [x for v in truth.values() for x in v]
    true_share = sum(x['infected'] for x in cells) / len(cells)
    s = sample_summary(field_rows, plan['rates'], site=site_verdict(plan, site))
    v = s['site_check']
    return [f"{len(c)} annotated cells found and counted ({int(y.sum())} infected): ROC AUC {roc_auc_score(y, p):.4f}; "
            f"at the stored threshold {th:.4f}: sensitivity {sens:.3f}, specificity {spec:.3f}",
            f"sample of {len(field_rows)} fields: {parasitemia_text(s['parasitemia'])}; annotated truth {true_share:.2%}",
            f"site check of the sample: " + (f"shifted {v['shifted']}, statistic {v['statistic']}" if v else 'none kept')]

def iml_samples(site:list, plan:dict, per:int=10) -> str:
    "The site check on samples of `per` fields (in name order): how many are called shifted."
    from malaria_fastai.screen import site_verdict
    verdicts = [site_verdict(plan, site[i:i+per]) for i in range(0, len(site) - per + 1, per)]
    if not verdicts or verdicts[0] is None: return 'no site-check reference kept'
    shifted = [v['shifted'] for v in verdicts if v['shifted'] is not None]
    stats = [v['statistic'] for v in verdicts if v['statistic'] is not None]
    if not stats: return f"none of {len(verdicts)} samples of {per} fields could be checked"
    return (f"{sum(shifted)} of {len(shifted)} samples of {per} fields called shifted "
            f"(statistic {min(stats):.2f} to {max(stats):.2f})")

def nih_false_alarms(cv:Path, data:Path, model:Path) -> str:
    "Part 3 on NIH: each fold's reference from the other folds' patients; each of its patients one batch."
    from malaria_fastai.runtime import open_cells
    from malaria_fastai.sitecheck import sample_stats, nested_false_alarms
    oof = pd.read_csv(cv/'oof.csv').dropna(subset=['prob_parasitized'])
    cells = open_cells(model)
    stats, kept = sample_stats([data/p for p in oof.path], cells.size)
    oof = oof.iloc[kept]
    a = nested_false_alarms(stats, oof.prob_parasitized.values >= cells.threshold, oof.patient.values, oof.fold.values)
    s = np.array(list(a['statistics'].values()))
    if not len(s): return f"no patient's batch could be checked ({a['undefined']} too small)"
    named = ', '.join(f'{g} {v:.2f}' for g, v in a['statistics'].items() if v > 1)
    return (f"{a['shifted']} of {a['checked']} unseen patients' batches called shifted{f' ({named})' if named else ''}; "
            f"{a['undefined']} too small to check; statistic median {np.median(s):.2f}, 95th percentile "
            f"{np.quantile(s, 0.95):.2f}, max {s.max():.2f}")

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', type=Path, required=True, help='the extracted cell_images_dev.zip (its class folders)')
    p.add_argument('--fields', type=Path, required=True, help='the IML fields (zip or folder with annotations.json)')
    p.add_argument('--model', action='append', required=True, help='MODEL_FOLDER:CV_FOLDER (repeat for each model)')
    args = p.parse_args()
    from malaria_fastai.data import class_root
    from malaria_fastai.adapt import _annotations_beside
    from malaria_fastai.fields import read_annotations
    import tempfile
    with tempfile.TemporaryDirectory() as tmp: truth = read_annotations(_annotations_beside([args.fields], Path(tmp)))
    data = class_root(args.data)
    print(f"{date.today()}, {machine()}\n$ python benchmarks/site_shift.py {' '.join(sys.argv[1:])}")
    for spec in args.model:
        folder, cv = map(Path, spec.rsplit(':', 1))
        start = time.perf_counter()
        print(f"\n== {folder} (cross-validation {cv})\nNIH out of fold: {nih_out_of_fold(cv)}")
        boxes, field_rows, site, plan = iml_screened(folder/'model.onnx', args.fields, truth)
        for line in iml_zero_shot(boxes, field_rows, site, plan, truth): print(f"IML zero-shot: {line}")
        print(f"IML samples: {iml_samples(site, plan)}")
        print(f"NIH unseen patients (nested): {nih_false_alarms(cv, data, folder/'model.onnx')}")
        print(f"({time.perf_counter() - start:.0f} s)")

if __name__ == '__main__': main()
