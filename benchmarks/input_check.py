"""How often the input check (`malaria_fastai.runtime.InputCheck`) flags real cells and non-cells.

    python benchmarks/input_check.py --data data/cell_images_dev/cell_images [--fields ../shared/iml-malaria/iml_fields_dev.zip]

1. Real cells of unseen patients: the dev cells in the 5 patient folds of `malaria-fastai cv` (fold seed 0); for each
   fold the check is calibrated on the other folds' cells and applied to the held-out patients' cells.
2. Not cells: the generated corpus of tests/not_cells.py (its kinds, 20 each) through the shipped model's ONNX twin.
3. Optional, for information: cells of another site cut as plain boxes from IML field photos (`--fields`): real cells,
   but not NIH-style crops (no black mask around the cell); the classifier is not reliable on them either.
"""
import argparse, io, json, sys, tempfile, zipfile
from pathlib import Path
import numpy as np
from _common import data_folder, machine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tests'))
from not_cells import write_not_cells, KINDS

def held_out_shares(root, size:int) -> list[float]:
    "Share of each fold's cells flagged by a check calibrated on the other folds."
    from malaria_fastai.data import cell_files, decode_cells, patient_folds
    from malaria_fastai.runtime import InputCheck
    files = cell_files(root)
    pixels = decode_cells(files, size)[0].permute(0, 2, 3, 1).numpy()
    folds = patient_folds(files, 5, 0)
    shares = []
    for k in range(5):
        check = InputCheck.fit(pixels[folds != k])
        shares.append(float(np.mean([f != '' for f in check.flags(pixels[folds == k], [(130, 130)] * int((folds == k).sum()))])))
    return shares

def field_box_crops(fields:Path, n:int=500) -> list:
    "Up to `n` plain box crops of annotated cells from the IML field photos, as PIL images."
    from PIL import Image
    crops = []
    with zipfile.ZipFile(fields) as z:
        notes = json.loads(z.read(next(n for n in z.namelist() if n.endswith('annotations.json'))))
        names = {Path(n).name: n for n in z.namelist()}
        for field in notes:
            im = Image.open(io.BytesIO(z.read(names[field['image_name']]))).convert('RGB')
            for o in field['objects']:
                b = {k: int(v) for k, v in o['bbox'].items()}
                crops.append(im.crop((b['x'], b['y'], b['x'] + b['w'], b['y'] + b['h'])))
                if len(crops) >= n: return crops
    return crops

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data'); p.add_argument('--fields', type=Path); p.add_argument('--model', default=None)
    args = p.parse_args()
    from malaria_fastai.core import default_model
    from malaria_fastai.runtime import OnnxCells, onnx_for, predict_onnx
    cells = OnnxCells(onnx_for(args.model or default_model(), 'onnx'))
    print(f"{machine()}; model {cells.path}")
    shares = held_out_shares(data_folder(args.data), cells.size)
    print(f"real cells of held-out patients flagged: {np.mean(shares):.4f} (mean over the 5 folds); per fold " +
          ', '.join(f'{s:.4f}' for s in shares))
    with tempfile.TemporaryDirectory() as d:
        write_not_cells(Path(d)/'odd', per_kind=20)
        rows = predict_onnx(Path(d)/'odd', cells)
        by_kind = {k: np.mean([r['flag'] != '' for r in rows if Path(r['path']).name.startswith(k + '_')]) for k in KINDS}
        print(f"not cells flagged: {np.mean([r['flag'] != '' for r in rows]):.4f} of {len(rows)}; by kind " +
              ', '.join(f'{k} {v:.2f}' for k, v in by_kind.items()))
        if args.fields:
            crops = field_box_crops(args.fields)
            for i, c in enumerate(crops): c.save(Path(d)/f'box_{i}.png')
            rows = predict_onnx([Path(d)/f'box_{i}.png' for i in range(len(crops))], cells)
            print(f"plain box crops of IML cells (another site, no black mask) flagged: "
                  f"{np.mean([r['flag'] != '' for r in rows]):.4f} of {len(rows)}")

if __name__ == '__main__': main()
