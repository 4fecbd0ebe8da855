"""Package a model trained on every dev patient as the shipped default model in models/default/, with the
cross-validation that sets its operating point and justifies its recipe.

    python tools/ship_model.py RUN_DIR --cv CV_DIR --data DATA_FOLDER [--out models/default]

RUN_DIR is `malaria-fastai train --data DATA_FOLDER --no-pretrained` of the chosen recipe trained on all 130 dev
patients (`train(valid_patients=[], threshold=...)`); CV_DIR is `malaria-fastai cv` of the same recipe over the same
data (DATA_FOLDER: cell_images_dev.zip extracted). Writes model.safetensors and model.pkl (half-precision weights) with their SHA-256,
model.json, the int8 ONNX twin (calibrated on 512 dev cells) with its SHA-256, cv/ (the cross-validation's oof.csv,
report.json, label audit tables and figures but not the gallery of NIH cells, and int8/, the same report through each fold model's int8 twin) and
ship.json (what the card quotes). The stored threshold is the lower of the two cross-validated ones (float fold models
and their int8 twins), each set for the target sensitivity on the cells the label audit keeps, so both engines meet
the target out of fold; the referral band is the wider of the two narrowest bands whose kept audited cells reach
sensitivity 0.995 out of fold. The new files' hashes are pinned in the package (tools/pin_shipped.py). The card, models/default/README.md, is written by
hand from these files."""
import argparse, json, shutil, tempfile, time
from pathlib import Path
import numpy as np
from pin_shipped import pin_shipped

CV_FILES = ('oof.csv', 'report.json', 'label_issues.csv', 'patient_audit.csv', 'tradeoff.csv', 'roc.png', 'tradeoff.png')
# not label_issues.png: it shows NIH cell images, which the project never commits (`malaria-fastai cv` draws it anew)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('run', type=Path); p.add_argument('--cv', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True); p.add_argument('--out', type=Path, default=Path('models/default'))
    args = p.parse_args()
    from malaria_fastai.core import cell_pixels, write_checksum, replace_when_done
    from malaria_fastai.data import class_root, cell_files
    from malaria_fastai.learner import export_onnx, save_weights, learner_from_weights
    from malaria_fastai.inference import load_model, export_half, predict
    from malaria_fastai.runtime import quantize_onnx, write_onnx_meta, OnnxCells
    from malaria_fastai.crossval import twin_oof, cv_report
    root, out, cv = class_root(args.data), args.out, args.cv
    report = json.loads((cv/'report.json').read_text())
    int8_report = cv_report(twin_oof(cv, root), cv/'int8', target_sensitivity=report['target_sensitivity'], recipe=report['recipe'])
    threshold = min(report['threshold'], int8_report['threshold'])
    band = max(report['refer_band_for_0995'] or 0, int8_report['refer_band_for_0995'] or 0)
    learn = load_model(args.run/'model.pkl')
    if learn.meta.get('valid_patients'): raise SystemExit(f"{args.run} held patients out: ship a model trained on every dev patient")
    files = cell_files(root)
    with tempfile.TemporaryDirectory() as d:
        learn = learner_from_weights(save_weights(learn, Path(d)/'half.safetensors', half=True))  # the shipped weights: half precision, back in float
        learn.meta = dict(learn.meta, threshold=threshold, refer_band=band, cv=dict(float_threshold=report['threshold'],
                          int8_threshold=int8_report['threshold'], target_sensitivity=report['target_sensitivity']))
        learn.loss_func.threshold = threshold
        calib = np.stack([cell_pixels(f, learn.meta['size']) for f in np.random.default_rng(0).choice(files, 512, replace=False)])
        float_onnx = export_onnx(learn, Path(d)/'float.onnx')
        quantize_onnx(float_onnx, Path(d)/'int8.onnx', calib)
        sample = list(np.random.default_rng(1).choice(files, 2000, replace=False))
        speed = {}
        for name in ('float', 'int8'):
            t = time.time(); probs = predict(sample, Path(d)/f'{name}.onnx').prob_parasitized.values; speed[name] = (len(sample)/(time.time() - t), probs)
        agree = float(((speed['float'][1] >= threshold) == (speed['int8'][1] >= threshold)).mean())
        shutil.copy(Path(d)/'int8.onnx', out/'model.onnx')
    write_onnx_meta(out/'model.onnx', dict(OnnxCells(out/'model.onnx').meta, threshold=threshold, refer_band=band))
    write_checksum(out/'model.onnx')
    export_half(learn, out/'model.pkl')  # for fastai's `load_learner`
    save_weights(learn, out/'model.safetensors', half=True)  # what this package loads
    with replace_when_done(out/'model.json') as tmp: tmp.write_text(json.dumps(dict(learn.meta, weights='float16'), indent=1))
    shutil.rmtree(out/'evaluation', ignore_errors=True)  # no held-out patients any more: the cross-validation is the evaluation
    (out/'cv'/'int8').mkdir(parents=True, exist_ok=True)
    for name in CV_FILES: shutil.copy(cv/name, out/'cv'/name)
    for name in ('report.json', 'tradeoff.csv', 'tradeoff.png', 'roc.png'): shutil.copy(cv/'int8'/name, out/'cv'/'int8'/name)
    ship = dict(run=str(args.run), cv=str(cv), threshold=threshold, refer_band=band, float_threshold=report['threshold'], int8_threshold=int8_report['threshold'],
                onnx_cells_per_s={k: round(v[0]) for k, v in speed.items()}, int8_float_agreement_at_threshold=agree,
                sizes_mib={f.name: round(f.stat().st_size/2**20, 2) for f in out.iterdir() if f.is_file()})
    with replace_when_done(out/'ship.json') as tmp: tmp.write_text(json.dumps(ship, indent=1))
    print(json.dumps(ship, indent=1))
    pin_shipped(out)

if __name__ == '__main__': main()
