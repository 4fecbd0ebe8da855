"""Keep a model's site-check reference (`malaria_fastai.sitecheck`) in its model.json: its training cells, grouped by
NIH patient, with the model's own calls of them.

    python tools/site_reference.py --data DATA_FOLDER [--model models/default/model.onnx]

DATA_FOLDER holds the cells the model trained on (for the shipped model: cell_images_dev.zip extracted, all 130 dev
patients); the patient of each is read from its file name."""
import argparse
from pathlib import Path

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', type=Path, required=True); p.add_argument('--model', type=Path, default=None)
    args = p.parse_args()
    from malaria_fastai.core import default_model
    from malaria_fastai.data import patient_id
    from malaria_fastai.runtime import open_cells, model_file
    from malaria_fastai.sitecheck import keep_site_check, reference_check
    model = model_file(args.model or default_model())
    files = sorted(args.data.rglob('*.png'))
    patients = [patient_id(f) for f in files]
    check = reference_check(open_cells(model), files, patients, f'{len(set(patients))} NIH patients (its training cells)')
    keep_site_check(model.with_name('model.json'), check)
    print({k: {'groups': c['groups'], 'limit': round(c['limit'], 1)} for k, c in check.classes.items()}, 'kept in',
          model.with_name('model.json'))

if __name__ == '__main__': main()
