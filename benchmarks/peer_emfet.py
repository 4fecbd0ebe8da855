"""Our default predict path against the fastest peer, `emfet` (5 handcrafted features and a random forest), in one run on
the same cells: the shipped model's validation patients, which neither model saw in training.

emfet's published model is refit on all 200 NIH patients (its card says so), our validation patients included, so its
accuracy here would not be honest. This benchmark therefore fits emfet's own pipeline (its feature extractor, a
StandardScaler and a RandomForest with the hyper-parameters of its shipped model) on our model's *training* patients,
and scores both on the validation patients. Speed is the whole path from PNG on disk to a call, one process.

emfet needs numpy<2, so it runs in a venv of its own, in a child process:

    python -m venv /tmp/emfet-venv && /tmp/emfet-venv/bin/pip install emfet
    MALARIA_DATA=/path/to/extracted/dev python benchmarks/peer_emfet.py --emfet-python /tmp/emfet-venv/bin/python
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

def fit_emfet(files:list, labels:list):
    "In emfet's venv: its feature extractor, and its shipped model's pipeline (hyper-parameters and all) fitted on `files`."
    import numpy as np
    from emfet.features import extract_features
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    X = [extract_features(f) for f in files]
    keep = [i for i, x in enumerate(X) if x is not None]
    model = Pipeline([('scaler', StandardScaler()),
                      ('classifier', RandomForestClassifier(n_estimators=202, max_depth=16, min_samples_split=5,
                                                            random_state=42, n_jobs=1))])
    model.fit(np.stack([X[i] for i in keep]), np.array(labels)[keep])
    return extract_features, model

def emfet_child(job: Path):
    "Run in emfet's venv: fit emfet on the training files, time it on the validation files; print a JSON result."
    import numpy as np
    spec = json.loads(job.read_text())
    extract_features, model = fit_emfet(spec['train'], spec['train_parasitized'])
    t = time.perf_counter()
    Xv = [extract_features(f) for f in spec['valid']]
    ok = [i for i, x in enumerate(Xv) if x is not None]
    called = np.zeros(len(Xv), bool)
    called[ok] = model.predict(np.stack([Xv[i] for i in ok])).astype(bool)
    seconds = time.perf_counter() - t
    print(json.dumps(dict(seconds=seconds, called=called.tolist(), skipped=len(Xv) - len(ok))))

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--emfet-python', required=True, help="python of a venv with `pip install emfet`")
    p.add_argument('--model', default=None); p.add_argument('--data', default=None)
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child: return emfet_child(Path(args.child))
    import numpy as np
    from _common import data_folder, machine, timer
    from malaria_fastai.core import default_model, PARASITIZED
    from malaria_fastai.evaluate import labelled_cells
    from malaria_fastai.inference import load_model, predict
    model = Path(args.model or default_model())
    learn = load_model(model)
    meta = learn.meta
    train, valid = (labelled_cells(data_folder(args.data), learn, side) for side in ('train', 'valid'))
    truth = np.array([f.parent.name == PARASITIZED for f in valid])
    print(f"# {len(valid)} validation cells of {len(meta['valid_patients'])} patients; emfet fitted on {len(train)} cells "
          f"of {len(meta['train_patients'])} training patients\n# {machine()}", flush=True)

    job = Path(tempfile.mkdtemp())/'job.json'
    job.write_text(json.dumps(dict(train=[str(f) for f in train], valid=[str(f) for f in valid],
                                   train_parasitized=[f.parent.name == PARASITIZED for f in train])))
    out = subprocess.run([args.emfet_python, __file__, '--emfet-python', args.emfet_python, '--child', str(job)],
                         check=True, capture_output=True, text=True).stdout
    peer = json.loads(out.strip().splitlines()[-1])
    peer_acc = float((np.array(peer['called']) == truth).mean())

    predict(valid[:64], model)  # warm up
    with timer() as t: df = predict(valid, model, threshold=0.5)
    ours_acc = float(((df.prediction == PARASITIZED).values == truth).mean())
    ours_rate, peer_rate = len(valid)/t.s, len(valid)/peer['seconds']
    print(f"emfet (features + RandomForest, one process): {peer_rate:7.1f} cells/s, accuracy {peer_acc:.4f} "
          f"({peer['skipped']} unreadable)")
    print(f"ours  (predict, {df.attrs['engine']}, threshold 0.5): {ours_rate:7.1f} cells/s, accuracy {ours_acc:.4f}")
    print(f"ours/emfet: speed {ours_rate/peer_rate:.2f}x, accuracy {ours_acc - peer_acc:+.4f}")

if __name__ == '__main__': main()
