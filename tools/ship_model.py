"""Package a finished training run as the shipped default model in models/default/, and measure it for the card.

    python tools/ship_model.py RUN_DIR --data DATA_FOLDER [--out models/default]

RUN_DIR is a `malaria-fastai train` output folder trained on cell_images_dev.zip with the patient split; DATA_FOLDER
is that zip extracted (the same data, so the validation patients are the run's own). Writes model.pkl (half-precision
weights) with its SHA-256, model.json, the ONNX twin (int8 where it costs at most 0.3 points of accuracy on the
validation patients, at 0.5 and at the run's threshold, else float16 weights), evaluation/ (report.json, figures,
tables) and ship.json (the measurements the model card quotes). The stored threshold is the lower of the run's (set
on the torch model) and the one the shipped twin needs for the target sensitivity on the validation patients, so
both engines meet the target there. The card itself, models/default/README.md, is written by hand from ship.json and
report.json."""
import argparse, json, shutil, tempfile, time
from pathlib import Path
import numpy as np

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('run', type=Path); p.add_argument('--data', type=Path, required=True)
    p.add_argument('--out', type=Path, default=Path('models/default'))
    args = p.parse_args()
    from malaria_fastai.core import cell_pixels, write_checksum, replace_when_done
    from malaria_fastai.learner import export_onnx, sensitivity_threshold
    from malaria_fastai.inference import load_model, export_half, predict
    from malaria_fastai.runtime import OnnxCells, quantize_onnx, halve_onnx, write_onnx_meta
    from malaria_fastai.evaluate import evaluate, labelled_cells
    out = args.out; out.mkdir(parents=True, exist_ok=True)
    learn = load_model(args.run/'model.pkl')
    meta, run_threshold = learn.meta, learn.meta['threshold']
    with tempfile.TemporaryDirectory() as d:
        # the shipped weights, half precision and back in float: the ONNX twin is made from exactly these
        learn = load_model(export_half(learn, Path(d)/'half.pkl'))
        train_files, valid_files = (labelled_cells(args.data, learn, side) for side in ('train', 'valid'))
        rng = np.random.default_rng(0)
        calib = np.stack([cell_pixels(f, meta['size']) for f in rng.choice(train_files, 512, replace=False)])
        float_onnx = export_onnx(learn, Path(d)/'float.onnx')
        candidates = {'float': float_onnx, 'half': halve_onnx(float_onnx, Path(d)/'half.onnx'),
                      'int8': quantize_onnx(float_onnx, Path(d)/'int8.onnx', calib)}
        y = np.array([f.parent.name == 'Parasitized' for f in valid_files])
        scores, probs = {}, {}
        def accuracy(name, th): return float(((probs[name] >= th) == y).mean())
        for name, f in candidates.items():
            t = time.time(); probs[name] = predict(valid_files, f).prob_parasitized.values; secs = time.time() - t
            scores[name] = dict(accuracy=accuracy(name, meta['threshold']), accuracy_at_half=accuracy(name, 0.5), seconds=secs,
                                cells_per_s=len(valid_files)/secs, mib=f.stat().st_size/2**20)
        drop = max(scores['float'][k] - scores['int8'][k] for k in ('accuracy', 'accuracy_at_half'))
        chosen = 'int8' if drop <= 0.003 else 'half'  # int8 only where it costs at most 0.3 points, at 0.5 and at the run's threshold
        twin_threshold = sensitivity_threshold(y, probs[chosen], meta['target_sensitivity'])
        threshold = min(meta['threshold'], twin_threshold)
        meta = learn.meta = dict(meta, threshold=threshold)
        drop_at_threshold = accuracy('float', threshold) - accuracy(chosen, threshold)
        shutil.copy(candidates[chosen], out/'model.onnx')
    write_onnx_meta(out/'model.onnx', dict(OnnxCells(out/'model.onnx').meta, threshold=threshold))
    write_checksum(out/'model.onnx')
    export_half(learn, out/'model.pkl')
    with replace_when_done(out/'model.json') as tmp: tmp.write_text(json.dumps(dict(meta, weights='float16'), indent=1))
    report = evaluate(args.data, out/'model.pkl', out=out/'evaluation', patients='valid', tta=True)
    ship = dict(run=str(args.run), onnx=chosen, onnx_scores=scores, int8_accuracy_drop=drop, run_threshold=run_threshold,
                accuracy_drop_at_threshold=drop_at_threshold,
                twin_threshold=twin_threshold, threshold=threshold,
                sizes_mib={f.name: round(f.stat().st_size/2**20, 2) for f in out.iterdir() if f.is_file()},
                tiny_check='tests/test_default_model.py')
    with replace_when_done(out/'ship.json') as tmp: tmp.write_text(json.dumps(ship, indent=1))
    print(json.dumps(ship, indent=1))

if __name__ == '__main__': main()
