"""Package a model trained on every dev patient as the shipped default model in models/default/, with the
cross-validation that sets its operating point and justifies its recipe; then pin the new files' hashes.

    python tools/ship_model.py RUN_DIR --cv CV_DIR --data DATA_FOLDER [--out models/default]

RUN_DIR is `malaria-fastai train --data DATA_FOLDER --no-pretrained` of the chosen recipe trained on all 130 dev
patients (`train(valid_patients=[], threshold=...)`); CV_DIR is `malaria-fastai cv` of the same recipe over the same
data (DATA_FOLDER: cell_images_dev.zip extracted). The rules (which threshold and band are stored, which ONNX twin
ships, which files) are `malaria_fastai.ship` (nbs/api/11_ship.ipynb), documented and tested there. The card,
models/default/README.md, is written by hand from the files this leaves."""
import argparse, json
from pathlib import Path
from pin_shipped import pin_shipped

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('run', type=Path); p.add_argument('--cv', type=Path, required=True)
    p.add_argument('--data', type=Path, required=True); p.add_argument('--out', type=Path, default=Path('models/default'))
    args = p.parse_args()
    from malaria_fastai.ship import ship_model
    print(json.dumps(ship_model(args.run, args.cv, args.data, args.out), indent=1))
    pin_shipped(args.out)

if __name__ == '__main__': main()
