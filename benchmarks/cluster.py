"""Throughput of `predict` and `screen` on a Dask cluster against the same work in this process, in one run:
cells a second and fields a second, local and on the cluster, and their ratio; the cluster's rows checked equal to
the local ones. With `--scheduler local` the cluster is a LocalCluster of worker processes on this machine (on 2 cores
expect no gain: the point is the path and its overhead); give a real scheduler's address to measure one.

    python benchmarks/cluster.py [--scheduler local] [--cells FOLDER] [--n 4000] [--fields ZIP] [--n-fields 24]
"""
import argparse, os, tempfile, warnings, zipfile
from pathlib import Path
import numpy as np, pandas as pd
from _common import machine, timer

def cells_side(client, model, folder, n:int) -> dict:
    "Cells a second classifying `n` crops of `folder` here and on the cluster; the rows compared."
    from malaria_fastai.runtime import classify_cells, open_cells
    from malaria_fastai.cluster import classify_on_cluster
    files = sorted(Path(folder).rglob('*.png'))
    files = [files[i] for i in sorted(np.random.default_rng(0).choice(len(files), min(n, len(files)), replace=False))]
    cells = open_cells(model)
    classify_cells(files[:64], cells)  # warm up both sides
    classify_on_cluster(files[:64], cells.path, client)
    with timer() as here: a = classify_cells(files, cells)
    with timer() as there: b = classify_on_cluster(files, cells.path, client)
    same = pd.DataFrame(a).equals(pd.DataFrame(b))
    return dict(n=len(files), here=len(files) / here.s, there=len(files) / there.s, same=same)

def fields_side(client, fields_zip, n:int) -> dict:
    "Fields a second screening `n` fields here and on the cluster (overlays on); the outputs compared."
    from malaria_fastai.screen import screen
    from malaria_fastai.cluster import on_cluster
    with tempfile.TemporaryDirectory() as d, zipfile.ZipFile(fields_zip) as z:
        for name in sorted(m for m in z.namelist() if m.lower().endswith('.jpg'))[:n]: z.extract(name, Path(d)/'f')
        with timer() as here: a = screen(Path(d)/'f', out=Path(d)/'here')
        with timer() as there: b = screen(Path(d)/'f', out=Path(d)/'there', runner=on_cluster(client))
    return dict(n=len(a['fields']), here=len(a['fields']) / here.s, there=len(b['fields']) / there.s,
                same=a['cells'] == b['cells'])

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--scheduler', default='local'); p.add_argument('--model', default=None)
    p.add_argument('--cells', default='data/cell_images_dev/cell_images'); p.add_argument('--n', type=int, default=4000)
    p.add_argument('--fields', default=os.environ.get('MALARIA_FIELDS')); p.add_argument('--n-fields', type=int, default=24)
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    from malaria_fastai.core import default_model
    from malaria_fastai.cluster import dask_client
    model = args.model or default_model()
    print(machine())
    with dask_client(args.scheduler) as client:
        info = client.scheduler_info()['workers']
        print(f"cluster {args.scheduler}: {len(info)} workers, {sum(w['nthreads'] for w in info.values())} threads")
        rows = [('cells/s, predict', cells_side(client, model, args.cells, args.n))]
        if args.fields: rows.append(('fields/s, screen', fields_side(client, args.fields, args.n_fields)))
    print(f"{'':18} {'n':>6} {'here':>9} {'cluster':>9} {'cluster/here':>13}  same rows")
    for name, r in rows:
        print(f"{name:18} {r['n']:>6} {r['here']:>9.1f} {r['there']:>9.1f} {r['there'] / r['here']:>13.2f}  {r['same']}")

if __name__ == '__main__': main()
