"""What each stage of `predict` and of `screen` costs, on one core and on both, the pipeline limit those costs imply,
and their own throughput as a share of it; `predict` beside emfet (the fastest peer: five handcrafted features and a
random forest) on the same files, all in one run.

    python benchmarks/stages.py --data FOLDER [--n 1000] [--model M] [--emfet-python /tmp/emfet-venv/bin/python]
                                [--fields FIELDS] [--n-fields 60] [--site ADAPTED]

`screen` runs an adapted model (`--site`, as `malaria-fastai adapt` wrote it: its plain box crops and its flips), or
else the shipped model with its flips on (a copy of its twin whose metadata says `tta`, as an adapted model's does).

The limit: the stages' one-core costs per image summed, over the two cores (both busy all the time, nothing waiting).
emfet (`pip install emfet` in a venv of its own: it needs numpy<2) is fitted on other cells of the same folder; only
its speed is compared here (its accuracy: benchmarks/peer_emfet.py).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
from _common import machine

def per_image(f, n:int, repeat:int=3) -> float:
    "Best of `repeat` wall seconds of `f()`, per image of `n`."
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    return best / n

def split2(f, items:list):
    "Run `f` over the two halves of `items` in two threads; the results in order."
    with ThreadPoolExecutor(2) as ex: return [x for part in ex.map(f, np.array_split(np.arange(len(items)), 2))
                                              for x in part]

def predict_stages(files:list, model:Path, bs:int=64) -> dict:
    "Seconds per image of each stage of `predict`, on one core and on two: {stage: (one, two)}."
    from threadpoolctl import threadpool_limits
    from malaria_fastai.core import list_inputs, cell_pixels
    from malaria_fastai.runtime import OnnxCells, InputCheck, cell_stats, onnx_twin
    from PIL import Image
    import pandas as pd
    n, one, two = len(files), OnnxCells(onnx_twin(model), threads=1), OnnxCells(onnx_twin(model), threads=2)
    pixels = np.stack([cell_pixels(f, one.size) for f in files])
    batches = [slice(i, i + bs) for i in range(0, n, bs)]
    stats, sizes = cell_stats(pixels), [Image.open(f).size for f in files]  # decoding gives them to predict
    features = np.concatenate([one.scores(pixels[b])[1] for b in batches])
    check = InputCheck.from_meta(one.meta)
    rows = [dict(path=str(f), prediction='Parasitized', prob_parasitized=0.5, refer=False, flag='', error='') for f in files]
    stages = {
        'listing the files': (lambda: list_inputs(files), lambda: split2(lambda ix: list_inputs([files[i] for i in ix]), files)),
        'decode and resize (the image size with it)': (lambda: [cell_pixels(f, one.size) for f in files],
                              lambda: split2(lambda ix: [cell_pixels(files[i], one.size) for i in ix], files)),
        'input-check statistics': (lambda: [cell_stats(pixels[b]) for b in batches],
                                   lambda: split2(lambda ix: [cell_stats(pixels[b]) for b in np.array(batches)[ix]], batches)),
        'feature distance and flags': (lambda: [check.flags(pixels[b], sizes[b], features[b], stats[b]) for b in batches],
                                       lambda: split2(lambda ix: [check.flags(pixels[b], sizes[b], features[b], stats[b])
                                                                  for b in np.array(batches)[ix]], batches)),
        'forward pass (batches of %d)' % bs: (lambda: [one.scores(pixels[b]) for b in batches],
                                             lambda: [two.scores(pixels[b]) for b in batches]),
        'the rows as a DataFrame': (lambda: pd.DataFrame(rows), lambda: pd.DataFrame(rows))}
    out = {}
    for name, (f1, f2) in stages.items():
        with threadpool_limits(1): c1 = per_image(f1, n)
        out[name] = (c1, per_image(f2, n))
    return out

def predict_rate(files:list, model:Path, one_core:bool=False) -> float:
    "Images per second of `predict`'s pipeline over `files`, the model opened once (best of 3); `one_core`: pinned to one CPU."
    import pandas as pd
    from malaria_fastai.runtime import COLUMNS, OnnxCells, classify_cells, onnx_twin
    cpus = os.sched_getaffinity(0)
    if one_core: os.sched_setaffinity(0, {min(cpus)})  # this thread, and the threads it starts from now on
    try:
        cells, workers = OnnxCells(onnx_twin(model), threads=1 if one_core else None), 1 if one_core else None
        run = lambda: pd.DataFrame(classify_cells(files, cells, n_workers=workers), columns=list(COLUMNS))
        run()  # warm: the files in the page cache
        return 1 / per_image(run, len(files))
    finally: os.sched_setaffinity(0, cpus)

def emfet_child(job:Path):
    "In emfet's venv: fit emfet's pipeline on the `fit` files, time its features and calls on the `time` files; JSON."
    from peer_emfet import fit_emfet
    spec = json.loads(job.read_text())
    extract_features, model = fit_emfet(spec['fit'], spec['labels'])
    def run():
        Xv = [x for x in (extract_features(f) for f in spec['time']) if x is not None]
        return model.predict(np.stack(Xv))
    print(json.dumps(dict(seconds=per_image(run, 1), n=len(spec['time']))))

def emfet_rate(python:str, fit:list, files:list, procs:int=1) -> float:
    "emfet's images per second on `files` (its own venv), fitted on `fit`; `procs` processes each timing a share at once."
    jobs = []
    for k, part in enumerate(np.array_split(np.arange(len(files)), procs)):
        job = Path(tempfile.mkdtemp())/f'job{k}.json'
        job.write_text(json.dumps(dict(fit=[str(f) for f in fit], labels=[f.parent.name == 'Parasitized' for f in fit],
                                       time=[str(files[i]) for i in part])))
        jobs.append(subprocess.Popen([python, __file__, '--child', str(job)], stdout=subprocess.PIPE, text=True))
    res = [json.loads(j.communicate()[0].strip().splitlines()[-1]) for j in jobs]
    return sum(r['n'] for r in res) / max(r['seconds'] for r in res)

def report_predict(files, model, emfet_python, fit):
    "Print the stage table, the limit, predict's rates and emfet's."
    costs = predict_stages(files, model)
    print(f"\n## predict: {len(files)} cell crops, model {model} (its ONNX twin)")
    print(f"| stage | one core, ms an image | both cores, ms an image |\n| --- | ---: | ---: |")
    for k, (c1, c2) in costs.items(): print(f"| {k} | {c1*1e3:.3f} | {c2*1e3:.3f} |")
    work = sum(c1 for c1, _ in costs.values())
    print(f"| all stages | {work*1e3:.3f} | {sum(c2 for _, c2 in costs.values())*1e3:.3f} |")
    limit1, limit2 = 1 / work, 2 / work
    rate1, rate2 = predict_rate(files, model, one_core=True), predict_rate(files, model)
    print(f"pipeline limit: {limit1:,.0f} img/s on one core, {limit2:,.0f} img/s on two (one-core work over both cores)")
    print(f"predict's pipeline (model opened once): {rate2:,.0f} img/s ({rate2/limit2:.2f} of the limit); pinned to one "
          f"core {rate1:,.0f} img/s ({rate1/limit1:.2f} of the one-core limit)")
    if emfet_python:  # emfet runs one image at a time in one thread: on two cores, two processes each take half
        one, two = emfet_rate(emfet_python, fit, files), emfet_rate(emfet_python, fit, files, 2)
        print(f"emfet (features + random forest): one process {one:,.0f} img/s, two processes at once {two:,.0f} img/s; "
              f"predict/emfet {rate2/two:.2f}x on two cores, {rate1/one:.2f}x on one")

def flipping_twin(model:Path, folder:Path) -> Path:
    "A copy of `model`'s ONNX twin in `folder` whose metadata turns its flips on, with its checksum."
    import shutil
    from malaria_fastai.core import write_checksum
    from malaria_fastai.runtime import OnnxCells, onnx_twin, write_onnx_meta
    twin = Path(shutil.copy(onnx_twin(model), folder/'model.onnx'))
    for f in ('model.json', 'README.md'):
        if (onnx_twin(model).parent/f).exists(): shutil.copy(onnx_twin(model).parent/f, folder/f)
    write_checksum(write_onnx_meta(twin, dict(OnnxCells(onnx_twin(model)).meta, tta=True)))
    return twin

def screen_stages(items:list, plan:dict) -> dict:
    "Seconds per field of each stage of `screen`, on one core and on two: {stage: (one, two)}."
    from threadpoolctl import threadpool_limits
    from malaria_fastai.fields import find_cells, cell_crops, count_flags
    from malaria_fastai.screen import classify_field, draw_overlay, _site_cells, segmented
    import io
    n = len(items)
    pixels = [np.asarray(it[1]()) for it in items]
    found = [find_cells(px) for px in pixels]
    fields = [segmented(*it) for it in items]
    rows = [classify_field(f, plan['cells'], plan['threshold'], plan['refer_band'], plan['check']) for f in fields]
    def jpeg(k):
        buf = io.BytesIO(); draw_overlay(pixels[k], rows[k]).save(buf, 'JPEG', quality=90)
    def each(f): return lambda: [f(k) for k in range(n)], lambda: split2(lambda ix: [f(k) for k in ix], items)
    stages = {'decode the field (JPEG)': each(lambda k: np.asarray(items[k][1]())),
              'segmentation (find_cells)': each(lambda k: find_cells(pixels[k])),
              'crops and count flags': each(lambda k: (cell_crops(pixels[k], *found[k], plan['size'], plan['inset']),
                                                       count_flags(found[k][0], pixels[k].shape))),
              'classification (with flips) and flags': each(lambda k: classify_field(
                  fields[k], plan['cells'], plan['threshold'], plan['refer_band'], plan['check'])),
              'site-check statistics': each(lambda k: _site_cells(fields[k], rows[k])),
              'overlay drawn and encoded': each(jpeg)}
    out = {}
    for name, (f1, f2) in stages.items():
        with threadpool_limits(1): c1 = per_image(f1, n, 1)
        out[name] = (c1, per_image(f2, n, 1))
    return out

def report_screen(source:Path, model:Path, n:int, site:Path=None):
    "Print the stage table of `screen`, its limit and its own fields/s: an adapted `site` model, or `model` with flips on."
    from malaria_fastai.fields import field_images
    from malaria_fastai.runtime import onnx_twin
    from malaria_fastai.screen import screen, screen_plan
    with tempfile.TemporaryDirectory() as d:
        twin = onnx_twin(Path(site)/'model.pkl') if site else flipping_twin(model, Path(d))
        if source.suffix == '.zip':  # screen takes files: the first `n` photos are copied out, as they are
            import zipfile
            with zipfile.ZipFile(source) as z:
                for name in sorted(m for m in z.namelist() if m.lower().endswith(('.jpg', '.jpeg', '.png')))[:n]:
                    (Path(d)/'fields').mkdir(exist_ok=True); (Path(d)/'fields'/Path(name).name).write_bytes(z.read(name))
            source = Path(d)/'fields'
        items = field_images(source)[:n]
        plan = screen_plan(twin)
        costs = screen_stages([(*it, plan['size'], plan['inset']) for it in items], plan)
        screen([it[0] for it in items[:4]], twin, Path(d)/'warm')  # the model and the files warm
        t = time.perf_counter(); screen([it[0] for it in items], twin, Path(d)/'out'); rate = len(items)/(time.perf_counter()-t)
    print(f"\n## screen: {len(items)} fields, model {twin if site else f'{model} (its twin, flips on)'}, overlays written")
    print("| stage | one core, ms a field | both cores, ms a field |\n| --- | ---: | ---: |")
    for k, (c1, c2) in costs.items(): print(f"| {k} | {c1*1e3:.1f} | {c2*1e3:.1f} |")
    work = sum(c1 for c1, _ in costs.values())
    print(f"| all stages | {work*1e3:.1f} | {sum(c2 for _, c2 in costs.values())*1e3:.1f} |")
    print(f"pipeline limit: {1/work:.2f} fields/s on one core, {2/work:.2f} on two; screen: {rate:.2f} fields/s "
          f"({rate/(2/work):.2f} of the limit)")

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data'); p.add_argument('--model', default=None); p.add_argument('--n', type=int, default=1000)
    p.add_argument('--emfet-python', default=None); p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    p.add_argument('--fields', default=None); p.add_argument('--n-fields', type=int, default=60)
    p.add_argument('--site', default=None, help="screen with this adapted model's folder (`malaria-fastai adapt`)")
    args = p.parse_args()
    if args.child: return emfet_child(Path(args.child))
    from malaria_fastai.core import default_model
    model = Path(args.model or default_model())
    print(f"# stages: {time.strftime('%Y-%m-%d')}, {machine()}\n# python benchmarks/stages.py {' '.join(sys.argv[1:])}")
    if args.data:
        from malaria_fastai.data import cell_files
        every = cell_files(Path(args.data))
        pick = np.random.default_rng(0).permutation(len(every))
        files, fit = [every[i] for i in pick[:args.n]], [every[i] for i in pick[args.n:args.n + 2000]]
        report_predict(files, model, args.emfet_python, fit)
    if args.fields: report_screen(Path(args.fields), model, args.n_fields, args.site)

if __name__ == '__main__': main()
