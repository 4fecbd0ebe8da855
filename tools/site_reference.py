"""Keep a model's site-check reference (`malaria_fastai.sitecheck`) in its model.json, fitted on its recipe's
cross-validation by patient: each dev patient's cells with their out-of-fold calls at the model's stored threshold
(`ship_model` does this when it ships; this tool refits a shipped model's reference in place).

    python tools/site_reference.py --data DATA_FOLDER --cv CV_FOLDER [--model models/default/model.onnx]

DATA_FOLDER holds the cells the cross-validation saw (for the shipped model: cell_images_dev.zip extracted); CV_FOLDER
holds its `oof.csv` (for the shipped model: models/default/cv)."""
import argparse
from pathlib import Path

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', type=Path, required=True); p.add_argument('--cv', type=Path, required=True)
    p.add_argument('--model', type=Path, default=None)
    args = p.parse_args()
    import pandas as pd
    from malaria_fastai.core import default_model
    from malaria_fastai.data import class_root
    from malaria_fastai.runtime import open_cells, model_file
    from malaria_fastai.sitecheck import keep_site_check, cv_reference
    model = model_file(args.model or default_model())
    cells = open_cells(model)
    check = cv_reference(pd.read_csv(args.cv/'oof.csv'), class_root(args.data), cells.threshold, cells.size)
    keep_site_check(model.with_name('model.json'), check)
    print({k: {'groups': c['groups'], 'limit': round(c['limit'], 1)} for k, c in check.classes.items()}, 'kept in',
          model.with_name('model.json'))

if __name__ == '__main__': main()
