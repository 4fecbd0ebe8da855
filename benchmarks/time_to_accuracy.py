"""Time to accuracy, in one run on one machine: the plain fastai recipe against `malaria-fastai train` with its defaults.

Both train a ResNet18 from scratch on the same training patients of a patient split and are scored on the same
validation patients, through the same fastai per-file pipeline (`test_dl` on the validation files, argmax):
- plain: the seeds' recipe as fastai users write it: a `DataBlock` of class folders (what `ImageDataLoaders.from_folder`
  builds, with the patient split as its splitter), squish to 64 px, `Flip`, bs 64, `fit_one_cycle(8)` at fastai's
  default learning rate; timed from building the `DataLoaders` to the end of the last epoch.
- ours: `malaria-fastai train --no-pretrained` with every other setting at its default, in a fresh process, timed from
  launch to exit: imports, decoding the cells into memory, training, the threshold, plots, export and ONNX twin included.

    MALARIA_DATA=/path/to/extracted/dev python benchmarks/time_to_accuracy.py [--plain-epochs 8] [--out /tmp/tta]
"""
import argparse, json, subprocess, sys, tempfile, warnings
from pathlib import Path
import torch
from _common import data_folder, machine, timer

def scores(learn, files) -> dict:
    "Accuracy (argmax), sensitivity, specificity and ROC AUC of `learn` on `files`, through fastai's per-file pipeline."
    from malaria_fastai.core import PARASITIZED
    from malaria_fastai.evaluate import clinical_scores
    dl = learn.dls.test_dl(files, num_workers=0)
    probs = learn.get_preds(dl=dl)[0][:, list(learn.dls.vocab).index(PARASITIZED)].numpy()
    all_scores = clinical_scores([f.parent.name == PARASITIZED for f in files], probs, 0.5)
    return {k: all_scores[k] for k in ('accuracy', 'sensitivity', 'specificity', 'roc_auc')}

def plain_recipe(root, valid_patients, epochs):
    "The seeds' plain fastai recipe on the training patients; the learner and its wall seconds."
    from fastai.vision.all import (DataBlock, ImageBlock, CategoryBlock, FuncSplitter, get_image_files, parent_label, Resize,
                                   ResizeMethod, Flip, Normalize, imagenet_stats, vision_learner, resnet18, accuracy, set_seed)
    from malaria_fastai.data import patient_id
    set_seed(42)
    with timer() as t:
        dblock = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
                           splitter=FuncSplitter(lambda f: patient_id(f) in valid_patients),
                           item_tfms=Resize(64, ResizeMethod.Squish), batch_tfms=[Flip(), Normalize.from_stats(*imagenet_stats)])
        learn = vision_learner(dblock.dataloaders(root, bs=64), resnet18, pretrained=False, metrics=accuracy)
        learn.fit_one_cycle(epochs)
    return learn, t.s

def our_recipe(root, out):
    "`malaria-fastai train --no-pretrained` (defaults otherwise) in a fresh process; its export's run record and wall seconds."
    cli = Path(sys.executable).with_name('malaria-fastai')
    with timer() as t, open(out/'train.log', 'w') as log:
        subprocess.run([str(cli), 'train', '--no-pretrained', '--data', str(root), '--out', str(out)], check=True,
                       stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out/'model.json').read_text()), t.s

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=None); p.add_argument('--plain-epochs', type=int, default=8)
    p.add_argument('--out', default=None, help="where our run's model and log go (default: a temporary folder)")
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    from malaria_fastai.core import setting
    from malaria_fastai.data import cell_files, patient_id, patient_split
    from malaria_fastai.inference import load_model
    root = data_folder(args.data)
    files = cell_files(root)
    valid_idx = patient_split(files, setting('valid_pct'), setting('seed'))[1]
    valid_files = [files[i] for i in valid_idx]
    valid_patients = {patient_id(f) for f in valid_files}
    out = Path(args.out or tempfile.mkdtemp(prefix='tta_'))
    out.mkdir(parents=True, exist_ok=True)
    print(f"# time to accuracy, ResNet18 from scratch, 2 recipes on {len(files)} cells under {root}\n"
          f"# validation: {len(valid_files)} cells of {len(valid_patients)} patients, unseen by both\n"
          f"# {machine()}, torch threads {torch.get_num_threads()}", flush=True)

    meta, ours_s = our_recipe(root, out)
    if set(meta['valid_patients']) != valid_patients: raise RuntimeError("our run validated on other patients than the plain one")
    ours = scores(load_model(out/'model.pkl'), valid_files)
    recipe = ', '.join(f"{k} {setting(k)}" for k in ('size', 'bs', 'epochs', 'lr'))
    print(f"ours : malaria-fastai train --no-pretrained ({recipe}): {ours_s/60:5.1f} min  {ours}", flush=True)

    plain, plain_s = plain_recipe(root, valid_patients, args.plain_epochs)
    plain = scores(plain, valid_files)
    print(f"plain: DataBlock from the class folders, 64 px, bs 64, fit_one_cycle({args.plain_epochs}): {plain_s/60:5.1f} min  {plain}")
    print(f"ours/plain wall time {ours_s/plain_s:.2f} (target <= 0.33); accuracy ours - plain "
          f"{ours['accuracy'] - plain['accuracy']:+.4f} (target >= 0): "
          f"{'MET' if ours_s <= plain_s/3 and ours['accuracy'] >= plain['accuracy'] else 'NOT MET'}")

if __name__ == '__main__': main()
