"""How often the input check (`malaria_fastai.runtime.InputCheck`) flags real cells and non-cells.

    python benchmarks/input_check.py --data data/cell_images_dev/cell_images --cv models/cv_runs/default \
        [--fields ../shared/iml-malaria/iml_fields_dev.zip]

1. Real cells of unseen patients: the dev cells in the patient folds of a `malaria-fastai cv` folder (`--cv`). For
   each finished fold, its fold model (given its `features` output) and the check calibrated on that model's own
   training cells (the other folds) are applied to the held-out patients' cells, as a shipped model meets new
   patients. Each distance is reported alone (image statistics, model features) and the two together.
2. Not cells: the generated corpus of tests/not_cells.py (its kinds, 20 each) through the same fold models and checks,
   and its look-alikes (40 objects that are not red blood cells, masked on black like NIH crops: stain blobs,
   bubbles, speckled debris, blue-green objects).
3. Held-out cells altered inside their mask (400 a fold: another stain, inverted, out of focus, grey, striped, flat
   colour, noise, two cells side by side): what the check catches and what it lets through.
4. Optional, for information: cells of another site cut as plain boxes from IML field photos (`--fields`): real cells,
   but not NIH-style crops (no black mask around the cell); the classifier is not reliable on them either.
"""
import argparse, io, json, shutil, sys, tempfile, zipfile
from pathlib import Path
import numpy as np, pandas as pd
from _common import data_folder, machine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tests'))
from not_cells import write_not_cells, LOOKALIKES

def fold_model(fold_dir:Path, tmp:Path):
    "The fold's ONNX twin with its `features` output (a copy in `tmp`), as `OnnxCells`."
    from malaria_fastai.core import write_checksum
    from malaria_fastai.runtime import OnnxCells, add_feature_output
    twin = tmp/f'{fold_dir.name}.onnx'
    shutil.copy(fold_dir/'model.onnx', twin)
    write_checksum(add_feature_output(twin))
    return OnnxCells(twin)

def scored(cells, pixels:np.ndarray, bs:int=512):
    "Probabilities and features of `pixels` under `cells`."
    outs = [cells.scores(pixels[i:i+bs]) for i in range(0, len(pixels), bs)]
    return tuple(np.concatenate(part) for part in zip(*outs))

def flagged(check, pixels, features, sizes) -> dict:
    "Share of images flagged by the image statistics alone, the model features alone, and by the check as a whole."
    stats = check.distance(pixels) > check.limit
    feats = check.features.distance(features) > check.features.limit
    whole = np.array([f != '' for f in check.flags(pixels, sizes, features)])
    return dict(image_stats=stats.mean(), model_features=feats.mean(), check=whole.mean())

def image_pixels(paths, size:int):
    "Pixels at `size` and own sizes of image files."
    from PIL import Image
    from malaria_fastai.core import cell_pixels
    sizes = []
    for p in paths:
        with Image.open(p) as im: sizes.append(im.size)
    return np.stack([cell_pixels(p, size) for p in paths]), sizes

def field_box_crops(fields:Path, dest:Path, n:int=500) -> list:
    "Up to `n` plain box crops of annotated cells from the IML field photos, written as PNGs into `dest`."
    from PIL import Image
    dest.mkdir(parents=True, exist_ok=True)
    crops = []
    with zipfile.ZipFile(fields) as z:
        notes = json.loads(z.read(next(n for n in z.namelist() if n.endswith('annotations.json'))))
        names = {Path(n).name: n for n in z.namelist()}
        for field in notes:
            im = Image.open(io.BytesIO(z.read(names[field['image_name']]))).convert('RGB')
            for o in field['objects']:
                b = {k: int(v) for k, v in o['bbox'].items()}
                crops.append(dest/f'box_{len(crops)}.png')
                im.crop((b['x'], b['y'], b['x'] + b['w'], b['y'] + b['h'])).save(crops[-1])
                if len(crops) >= n: return crops
    return crops

def altered(cells:np.ndarray, seed:int=0) -> dict:
    "Held-out cells (uint8, model size) altered inside their black mask: what a check should flag, or may miss."
    rng, dark = np.random.default_rng(seed), cells.max(-1) < 20
    side = cells.shape[1]
    def inside(f):
        out = f(cells.astype(float))
        out[dark] = 0
        return out.clip(0, 255).astype(np.uint8)
    stripes = (0.6 + 0.4 * (np.arange(side) // 3 % 2))[None, None, :, None]
    return {'another stain (RGB as BGR)': inside(lambda x: x[..., ::-1]), 'inverted': inside(lambda x: 255 - x),
            'out of focus (4x coarser)': inside(lambda x: np.kron(x[:, ::4, ::4], np.ones((1, 4, 4, 1)))[:, :side, :side]),
            'grey': inside(lambda x: x.mean(-1, keepdims=True).repeat(3, -1)), 'striped': inside(lambda x: x * stripes),
            'flat colour': inside(lambda x: np.broadcast_to(x[~dark].mean(0), x.shape).copy()),
            'noise': inside(lambda x: rng.normal(x.mean((1, 2), keepdims=True), 40, x.shape)),
            'two cells side by side': np.concatenate([cells[::2, :, ::2], cells[1::2, :, ::2][:len(cells[::2])]], 2)}

def per_fold(root:Path, cv:Path, extra:dict, tmp:Path) -> pd.DataFrame:
    "One row per finished fold and image set (`extra`: name -> image files): the shares flagged by checks calibrated on each fold model's training cells."
    from malaria_fastai.runtime import calibrated_check
    folds = pd.read_csv(cv/'folds.csv')
    done = sorted(int(d.name.split('_')[1]) for d in cv.glob('fold_*') if (d/'oof.csv').exists())
    if not done: raise SystemExit(f"no finished fold in {cv}")
    pixels = None
    rows = []
    for k in done:
        cells = fold_model(cv/f'fold_{k}', tmp)
        if pixels is None:  # decoded once, at the fold models' size
            pixels = image_pixels([root/p for p in folds.path], cells.size)[0]
            extra = {name: image_pixels(paths, cells.size) for name, paths in extra.items()}
        train = (folds.fold != k).values
        check = calibrated_check(cells.scores, pixels[train], cells.threshold)
        def add(name, px, sizes=None):
            sizes = sizes or [(130, 130)] * len(px)  # cells at their usual size: only the pixels are at stake
            rows.append(dict(fold=k, images=name, n=len(px), **flagged(check, px, scored(cells, px)[1], sizes)))
        held = pixels[~train]
        add('held-out dev cells', held)
        for name, px in altered(held[np.random.default_rng(k).permutation(len(held))[:400]]).items(): add(f'held-out cells, {name}', px)
        for name, (px, sizes) in extra.items(): add(name, px, sizes)
    return pd.DataFrame(rows)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data'); p.add_argument('--cv', type=Path, required=True); p.add_argument('--fields', type=Path)
    args = p.parse_args()
    root = data_folder(args.data)
    print(f"{machine()}; fold models of {args.cv}")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_not_cells(d/'odd', per_kind=20)
        extra = {'not cells (corpus)': sorted((d/'odd').iterdir()),
                 'not cells cut like NIH crops': write_not_cells(d/'lookalike', per_kind=40, kinds=LOOKALIKES)}
        if args.fields: extra['IML plain box crops'] = field_box_crops(args.fields, d/'boxes')
        df = per_fold(root, args.cv, extra, d)
    print(df.to_string(index=False, float_format='%.4f'))
    print("\nmean over the folds (share flagged):")
    print(df.groupby('images', sort=False)[['image_stats', 'model_features', 'check']].mean().to_string(float_format='%.4f'))

if __name__ == '__main__': main()
