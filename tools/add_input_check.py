"""Store an input check (`malaria_fastai.runtime.InputCheck`) with a model trained before `train` calibrated one.

    python tools/add_input_check.py models/default --data data/cell_images_dev/cell_images

Gives the ONNX twin its `features` output (`add_feature_output`: the probabilities are untouched), then calibrates
the check on the cells of the model's training patients (from its model.json) at its input size, through the twin
itself (the engine `predict` runs): their image statistics, and the twin's features and calls at its threshold.
Writes the check into model.json, the ONNX twin's metadata and the export's `meta` (half-precision weights, as
shipped) and its safetensors weights, with new SHA-256 files. Everything else in the model is unchanged: the same weights, threshold and
referral band. The new hashes are pinned in the package (tools/pin_shipped.py)."""
import argparse, json
from pathlib import Path
from pin_shipped import pin_shipped

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model_dir', type=Path); p.add_argument('--data', type=Path, required=True)
    args = p.parse_args()
    from malaria_fastai.core import write_checksum, replace_when_done, verify_checksum
    from malaria_fastai.data import class_root, cell_files, patient_id, cells_tensor
    from malaria_fastai.inference import load_model, export_half
    from malaria_fastai.learner import save_weights
    from malaria_fastai.runtime import OnnxCells, add_feature_output, calibrated_check, write_onnx_meta
    d, meta = args.model_dir, json.loads((args.model_dir/'model.json').read_text())
    patients = set(meta['train_patients'])
    files = [f for f in cell_files(class_root(args.data)) if patient_id(f) in patients]
    pixels, bad = cells_tensor(files, meta['size'])
    verify_checksum(d/'model.onnx')  # a new checksum is written only over the file that was shipped
    write_checksum(add_feature_output(d/'model.onnx'))
    cells = OnnxCells(d/'model.onnx')
    check = calibrated_check(cells.scores, pixels.permute(0, 2, 3, 1).numpy(), cells.threshold).to_meta()
    print(f"calibrated on {len(files) - len(bad)} cells of {len(patients)} training patients; limits: image statistics "
          f"{check['limit']:.2f}, model features {check['features']['limit']:.2f}")
    write_onnx_meta(d/'model.onnx', dict(cells.meta, input_check=check))
    write_checksum(d/'model.onnx')
    learn = load_model(d/'model.pkl')
    learn.meta = dict(learn.meta, input_check=check)
    export_half(learn, d/'model.pkl')
    save_weights(learn, d/'model.safetensors', half=True)
    with replace_when_done(d/'model.json') as tmp: tmp.write_text(json.dumps(dict(meta, input_check=check), indent=1))
    pin_shipped(d)

if __name__ == '__main__': main()
