"""Batch inference speed: `malaria_fastai.predict` (ONNX twin, int8 where shipped; and torch) against fastai's
`get_preds` on a test DataLoader, a `learn.predict` loop, and the model's forward pass alone on tensors in memory,
on the same PNG files and model, in one run. Also the accuracy of each engine on the model's validation patients.

    python benchmarks/inference.py [--model models/default/model.pkl] [--n 2000] [--data FOLDER]
"""
import argparse, warnings
import numpy as np, torch
from _common import data_folder, machine, timer

def main():
    p = argparse.ArgumentParser(); p.add_argument('--model', default=None); p.add_argument('--n', type=int, default=2000)
    p.add_argument('--data', default=None); p.add_argument('--loop', type=int, default=200, help='files timed in the learn.predict loop')
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    from malaria_fastai.core import default_model, cell_pixels, PARASITIZED
    from malaria_fastai.evaluate import labelled_cells
    from malaria_fastai.inference import load_model, predict
    from malaria_fastai.learner import preprocessing, model_input
    model = args.model or default_model()
    learn = load_model(model)
    size, mean, std = preprocessing(learn)
    pick = labelled_cells(data_folder(args.data), learn, 'valid' if learn.meta.get('valid_patients') else None)
    files = list(np.random.default_rng(0).choice(pick, min(args.n, len(pick)), replace=False))
    torch.set_num_threads(torch.get_num_threads())
    rates, acc, threshold = {}, {}, learn.meta.get('threshold', 0.5)
    y = np.array([f.parent.name == PARASITIZED for f in files])
    for name, kw in (('predict, ONNX twin', dict(engine='onnx')), ('predict, torch', dict(engine='torch'))):
        predict(files[:64], model, **kw)  # warm up
        with timer() as t: df = predict(files, model, **kw)
        rates[name] = len(files)/t.s
        acc[name] = {f'{th:.4f}': ((df.prob_parasitized.values >= th) == y).mean() for th in (threshold, 0.5)}
    dl = learn.dls.test_dl(files, bs=64)
    with timer() as t: probs = learn.get_preds(dl=dl)[0]
    rates['fastai get_preds(test_dl)'] = len(files)/t.s
    with timer() as t:
        for f in files[:args.loop]: learn.predict(f)
    rates['fastai learn.predict loop'] = args.loop/t.s
    x = model_input(np.stack([cell_pixels(f, size) for f in files[:256]]), mean, std)
    net = learn.model.eval()
    with torch.inference_mode():
        net(x[:64])
        with timer() as t:
            for i in range(0, len(x), 64): net(x[i:i+64])
    rates['forward pass alone (torch, in memory)'] = len(x)/t.s
    print(f"# batch inference, {len(files)} PNGs of validation patients, model {model}, size {size}px\n# {machine()}")
    for k, v in rates.items():
        print(f"{k:42s} {v:8.1f} cells/s" + ('   accuracy ' + ', '.join(f'{a:.4f} at {th}' for th, a in acc[k].items()) if k in acc else ''))
    best = rates['predict, ONNX twin']
    print(f"ratio predict(ONNX) / get_preds:        {best/rates['fastai get_preds(test_dl)']:.2f}x")
    print(f"ratio predict(ONNX) / learn.predict:    {best/rates['fastai learn.predict loop']:.2f}x")
    print(f"ratio predict(torch) / forward alone:   {rates['predict, torch']/rates['forward pass alone (torch, in memory)']:.2f}")
    print(f"ratio predict(ONNX) / forward alone:    {best/rates['forward pass alone (torch, in memory)']:.2f}")
    for th in acc['predict, torch']:
        print(f"accuracy ONNX minus torch at {th} (points): {100*(acc['predict, ONNX twin'][th] - acc['predict, torch'][th]):+.2f}")

if __name__ == '__main__': main()
