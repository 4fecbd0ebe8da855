"""Soak: predict over every image of a folder (the 18,027-cell dev zip) mixed with 200 generated bad files, through
the CLI in a child process; check that every file is accounted for in the CSV and print the peak memory (RSS).

    python benchmarks/soak.py [--data FOLDER] [--model models/default/model.pkl] [--engine auto|torch]
"""
import argparse, csv, os, random, resource, subprocess, sys, tempfile, time
from pathlib import Path
from _common import data_folder, machine

def bad_files(folder:Path, good:list, n:int=200):
    "Write `n` bad files of assorted kinds into `folder`."
    rng = random.Random(0)
    kinds = ['zero', 'truncated', 'html', 'random', 'thumbs']
    for i in range(n):
        k, f = kinds[i % len(kinds)], folder/f'bad_{i:03d}.png'
        if k == 'zero': f.write_bytes(b'')
        elif k == 'truncated': f.write_bytes(rng.choice(good).read_bytes()[:rng.randint(1, 300)])
        elif k == 'html': f.write_text('<html><body>not a cell</body></html>')
        elif k == 'random': f.write_bytes(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2000))))
        else: (folder/f'Thumbs_{i}.db').write_bytes(b'\xd0\xcf\x11\xe0' + bytes(60))

def main():
    p = argparse.ArgumentParser(); p.add_argument('--data', default=None); p.add_argument('--model', default=None)
    p.add_argument('--engine', default='auto'); args = p.parse_args()
    from malaria_fastai.data import cell_files
    root = data_folder(args.data)
    good = cell_files(root)
    with tempfile.TemporaryDirectory() as d:
        bad = Path(d)/'bad'; bad.mkdir()
        bad_files(bad, good)
        out = Path(d)/'soak.csv'
        cmd = [str(Path(sys.executable).parent/'malaria-fastai'), 'predict', str(root), str(bad), '--csv', str(out), '--engine', args.engine]
        if args.model: cmd += ['--model', args.model]
        t = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        rows = list(csv.DictReader(open(out, encoding='utf-8')))
        expected = {str(Path(r)/f) for r,_,fs in os.walk(root) for f in fs} | {str(f) for f in bad.iterdir()}
        got = [r['path'] for r in rows]
        classified = sum(r['prediction'] != '' for r in rows)
        errors = sum(r['error'] != '' for r in rows)
        print(f"# soak: malaria-fastai predict over {root} plus {len(list(bad.iterdir()))} bad files (engine {args.engine})\n# {machine()}")
        print(f"exit status {res.returncode}; {res.stderr.strip().splitlines()[-1]}")
        print(f"files: {len(expected)}; rows: {len(rows)}; every file exactly once: {sorted(got) == sorted(expected)}")
        print(f"classified {classified}, with a reason in error {errors}, both or neither: {len(rows) - classified - errors}")
        print(f"wall {wall:.1f} s ({len(rows)/wall:.0f} files/s); peak RSS of the predicting process {peak:.2f} GiB")

if __name__ == '__main__': main()
