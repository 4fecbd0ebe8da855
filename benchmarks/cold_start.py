"""Cold start: `malaria-fastai predict one.png` as a user types it (the shipped model, no flags) in a new process, median
wall time of 11 runs against the 0.3 s target, and where the time goes, each step measured in its own new process.
Python's byte-code cache is on, as it is for a user ($PYTHONDONTWRITEBYTECODE is dropped for the runs).

    python benchmarks/cold_start.py [--model models/default/model.pkl] [--data FOLDER] [--baseline CHECKOUT]

With `--baseline`, another checkout of this project (e.g. `git worktree add /tmp/before COMMIT`, its models/default
filled) runs the same command in turns with this one, both through `python -c` with the checkout on PYTHONPATH; the
ratio is printed.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path
from _common import data_folder, machine

STEPS = r'''
import time, json, sys
t0 = time.perf_counter()
import numpy, PIL.Image, onnxruntime
t1 = time.perf_counter()
from malaria_fastai.cli import parser
from malaria_fastai.runtime import OnnxCells, onnx_twin
from malaria_fastai.core import cell_pixels, sha256_file
t2 = time.perf_counter()
parser(['predict', sys.argv[2]]).parse_args(['predict', sys.argv[2]])
t3 = time.perf_counter()
cells = OnnxCells(onnx_twin(sys.argv[1]))
t4 = time.perf_counter()
px = cell_pixels(sys.argv[2], cells.size)[None]
t5 = time.perf_counter()
cells.scores(px)[0]
t6 = time.perf_counter()
sha256_file(cells.path)
t7 = time.perf_counter()
print(json.dumps({'import numpy, Pillow, onnxruntime': t1-t0, 'import malaria_fastai (cli, core, runtime)': t2-t1,
                  'parse the command line': t3-t2, 'load the model (read, SHA-256 check, session)': t4-t3,
                  '  of which the SHA-256 of the file': t7-t6, 'decode and resize one PNG': t5-t4, 'forward pass': t6-t5}))
'''

ENV = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}  # as a user runs it: byte code cached

def timed(cmd:list, **kw) -> float:
    "Wall seconds of one run of `cmd`, a new process that must succeed (byte code cached, as for a user)."
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, **{'env': ENV, **kw})
    assert res.returncode == 0, res.stderr
    return time.perf_counter() - t

def walls(cmd:list, n:int) -> list:
    "Wall seconds of `n` runs of `cmd`, after one to warm the caches."
    return [timed(cmd) for _ in range(n + 1)][1:]

CLI = "import sys; from malaria_fastai.cli import main; sys.exit(main(sys.argv[1:]))"

def against(baseline:Path, one:Path, n:int=15):
    "Median wall seconds of `predict one` run from `baseline` and from this checkout, in turns (after a warm-up round)."
    trees = (Path(baseline).resolve(), Path(__file__).resolve().parents[1])
    rounds = [[timed([sys.executable, '-c', CLI, 'predict', str(one)], cwd=tree, env=dict(ENV, PYTHONPATH=str(tree)))
               for tree in trees] for _ in range(n + 1)][1:]
    before, after = (statistics.median(r[i] for r in rounds) for i in (0, 1))
    print(f"in turns, {n} runs each (python -c, checkout on PYTHONPATH): {baseline} {before:.3f} s, this checkout "
          f"{after:.3f} s: {before/after:.2f}x")

def main():
    p = argparse.ArgumentParser(); p.add_argument('--model', default=None); p.add_argument('--data', default=None)
    p.add_argument('--baseline', default=None)
    args = p.parse_args()
    from malaria_fastai.core import default_model
    from malaria_fastai.data import cell_files
    model = Path(args.model or default_model())
    one = cell_files(data_folder(args.data))[0]
    exe = str(Path(sys.executable).parent/'malaria-fastai')
    typed = walls([exe, 'predict', str(one)] + (['--model', str(model)] if args.model else []), 11)
    python = walls([sys.executable, '-c', 'pass'], 11)
    steps = [json.loads(subprocess.run([sys.executable, '-c', STEPS, str(model), str(one)], capture_output=True, env=ENV,
                                       text=True, check=True).stdout) for _ in range(11)]
    med = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    print(f"# cold start: malaria-fastai predict one.png{' --model ' + str(model) if args.model else ''} (model {model}, "
          f"its ONNX twin), a new process each run\n# {time.strftime('%Y-%m-%d')}, {machine()}\n"
          f"# python benchmarks/cold_start.py {' '.join(sys.argv[1:])}")
    print(f"wall time, median of 11: {statistics.median(typed):.3f} s (target 0.3 s)   "
          f"(min {min(typed):.3f}, max {max(typed):.3f})")
    print("where the time goes (median of 11, each in a new process):")
    print(f"  {'start Python (python -c pass)':44s} {statistics.median(python):.3f} s")
    for k, v in med.items(): print(f"  {k:44s} {v:.3f} s")
    rest = statistics.median(typed) - statistics.median(python) - sum(v for k, v in med.items() if k[0] != ' ')
    print(f"  {'the rest (unmeasured: settings, checks, CSV, exit)':44s} {rest:.3f} s")
    if args.baseline: against(args.baseline, one)

if __name__ == '__main__': main()
