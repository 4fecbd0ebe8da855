"""Cold start: `malaria-fastai predict one.png` in a new process with the shipped model, median wall time of 5 runs,
and where the time goes (imports, model load, decode, forward), each measured in its own new process.

    python benchmarks/cold_start.py [--model models/default/model.pkl] [--data FOLDER]
"""
import argparse, json, statistics, subprocess, sys, time
from pathlib import Path
from _common import data_folder, machine

STEPS = r'''
import time, json, sys
t0 = time.perf_counter()
import numpy, PIL.Image, onnxruntime
t1 = time.perf_counter()
from malaria_fastai.runtime import OnnxCells
from malaria_fastai.core import cell_pixels
t2 = time.perf_counter()
cells = OnnxCells(sys.argv[1])
t3 = time.perf_counter()
px = cell_pixels(sys.argv[2], cells.size)[None]
t4 = time.perf_counter()
cells.scores(px)[0]
t5 = time.perf_counter()
print(json.dumps({'import numpy, Pillow, onnxruntime': t1-t0, 'import malaria_fastai (core, runtime)': t2-t1,
                  'load the ONNX model': t3-t2, 'decode and resize one PNG': t4-t3, 'forward pass': t5-t4}))
'''

def main():
    p = argparse.ArgumentParser(); p.add_argument('--model', default=None); p.add_argument('--data', default=None)
    args = p.parse_args()
    from malaria_fastai.core import default_model
    from malaria_fastai.data import cell_files
    from malaria_fastai.runtime import onnx_twin
    model = Path(args.model or default_model())
    one = cell_files(data_folder(args.data))[0]
    exe = Path(sys.executable).parent/'malaria-fastai'
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        res = subprocess.run([str(exe), 'predict', str(one), '--model', str(model)], capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        assert res.returncode == 0, res.stderr
    steps = [json.loads(subprocess.run([sys.executable, '-c', STEPS, str(onnx_twin(model)), str(one)], capture_output=True,
                                       text=True, check=True).stdout) for _ in range(5)]
    print(f"# cold start: malaria-fastai predict one.png, model {model} (ONNX twin), new process each run\n# {machine()}")
    print(f"wall time, median of 5: {statistics.median(walls):.3f} s   (runs: {', '.join(f'{w:.3f}' for w in walls)})")
    print("where the time goes (median of 5, in-process steps):")
    for k in steps[0]: print(f"  {k:40s} {statistics.median(s[k] for s in steps):.3f} s")
    print("  (the rest of the wall time: starting Python and the CLI's own imports and CSV output)")

if __name__ == '__main__': main()
