"Ctrl-C stops a command promptly, keeps its finished work and says how to go on; a resumed training repeats an uninterrupted one."
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
from conftest import run_cli

def _start(*args) -> subprocess.Popen:
    "Start `malaria-fastai ARGS` as users run it, its output captured."
    exe = Path(sys.executable).parent/'malaria-fastai'
    return subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def _reading(proc, folder:Path, deadline:float=120) -> bool:
    "Wait until `proc` has a file under `folder` open (it has started on its inputs); `False` if it ended or time ran out."
    end = time.time() + deadline
    while proc.poll() is None and time.time() < end:
        for fd in Path(f'/proc/{proc.pid}/fd').glob('*'):
            try:
                target = os.readlink(fd)
                if target.startswith(str(folder)) and os.path.isfile(target): return True  # a cell, not a folder being listed
            except OSError: pass
        time.sleep(0.01)
    return False

def _interrupt(proc, timeout:float=20) -> tuple[float, str, str]:
    "Send Ctrl-C (SIGINT) to `proc`; return how many seconds it took to end, and its output."
    start = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return time.time() - start, out, err

def test_ctrl_c_in_predict_writes_every_row_and_exits_130(cells, tmp_path):
    "Issue 14: Ctrl-C must stop any command promptly, keeping finished work."
    inputs = tmp_path/'cells'
    for k in range(12):  # enough cells that one at a time takes a while
        shutil.copytree(cells, inputs/f'copy{k}')
    n = len([p for p in inputs.rglob('*') if p.is_file()])
    proc = _start('predict', inputs, '--bs', 1, '--out', tmp_path/'rows.csv')
    assert _reading(proc, inputs), 'predict ended before it read its inputs'
    time.sleep(2)  # some batches done, most of the 2,688 cells not
    took, _, err = _interrupt(proc)
    assert proc.returncode == 130 and took < 10, (proc.returncode, took, err)
    assert 'Traceback' not in err and 'interrupted (Ctrl-C)' in err
    rows = pd.read_csv(tmp_path/'rows.csv', keep_default_na=False)
    assert len(rows) == n and rows.path.is_unique  # every input once
    stopped = rows.error == 'not classified: interrupted (Ctrl-C)'
    assert stopped.any() and (rows.prediction != '').any()  # finished rows kept, the rest say why they are empty
    assert ((rows.prediction != '') | (rows.error != '')).all()
