"""`predict` and `screen` on a real Dask cluster on loopback (a scheduler and two workers, started as users start them):
the rows of a local run, a killed worker losing and duplicating nothing, an unreachable scheduler refused."""
import json, os, signal, socket, subprocess, sys, threading, time
from pathlib import Path
import pandas as pd
import pytest
from conftest import field_zip, run_cli

distributed = pytest.importorskip('distributed')  # the test extras include it; a plain install need not

def _start(*args, log:Path) -> subprocess.Popen:
    "A `dask` command (scheduler or worker) as its own process, its output in `log`."
    return subprocess.Popen([str(Path(sys.executable).parent/'dask'), *map(str, args)], stdout=open(log, 'w'),
                            stderr=subprocess.STDOUT)

@pytest.fixture(scope='module')
def scheduler(tmp_path_factory):
    "The address of a scheduler with two one-thread workers (each under a nanny, as `dask worker` starts them)."
    d = tmp_path_factory.mktemp('dask')
    procs = [_start('scheduler', '--host', '127.0.0.1', '--port', 0, '--no-dashboard', '--scheduler-file', d/'s.json',
                    log=d/'scheduler.log')]
    try:
        for _ in range(600):
            if (d/'s.json').exists() and (d/'s.json').read_text().strip(): break
            time.sleep(0.1)
        address = json.loads((d/'s.json').read_text())['address']
        procs += [_start('worker', address, '--nthreads', 1, '--no-dashboard', '--host', '127.0.0.1', '--name', f'w{i}',
                         '--local-directory', d/f'w{i}', log=d/f'worker{i}.log') for i in range(2)]
        with distributed.Client(address, timeout=30) as client: client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in procs: p.terminate()
        for p in procs: p.wait(30)

@pytest.fixture(scope='module')
def twelve_fields(tmp_path_factory):
    "A folder of 12 field photos from the field source in force (the IML dev fields in CI)."
    out = tmp_path_factory.mktemp('twelve')
    z, names = field_zip()
    with z:
        for n in names[:12]: (out/Path(n).name).write_bytes(z.read(n))
    return out

def _fields_without_time(path:Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False).drop(columns='seconds')

def test_predict_on_the_cluster_writes_the_rows_of_a_local_run(cells, scheduler, tmp_path):
    inputs = [cells, tmp_path/'missing.png']  # --bs 4: tasks of 64 files, 4 of them
    res = run_cli('predict', *inputs, '--scheduler', scheduler, '--out', tmp_path/'there.csv', '--bs', 4)
    run_cli('predict', *inputs, '--out', tmp_path/'here.csv', '--bs', 4)
    assert len(pd.read_csv(tmp_path/'there.csv')) == len(list(cells.rglob('*.png'))) + 1
    assert (tmp_path/'there.csv').read_bytes() == (tmp_path/'here.csv').read_bytes()  # same rows, same probabilities
    assert f'on the Dask cluster {scheduler}' in res.stderr
    with distributed.Client(scheduler) as client:  # the workers ran the ONNX twin: no torch there either
        assert not any(client.run(lambda: 'torch' in sys.modules).values())

def test_screen_on_the_cluster_writes_the_outputs_of_a_local_run(field_photos, scheduler, tmp_path):
    inputs = [field_photos/'folder', field_photos/'two.zip', tmp_path/'missing.jpg']
    run_cli('screen', *inputs, '--out', tmp_path/'here')
    run_cli('screen', *inputs, '--out', tmp_path/'there', '--scheduler', scheduler)
    assert (tmp_path/'there'/'cells.csv').read_bytes() == (tmp_path/'here'/'cells.csv').read_bytes()
    pd.testing.assert_frame_equal(_fields_without_time(tmp_path/'there'/'fields.csv'),
                                  _fields_without_time(tmp_path/'here'/'fields.csv'))
    overlays = sorted(p.name for p in (tmp_path/'here'/'overlays').iterdir())
    assert len(overlays) == 5 and overlays == sorted(p.name for p in (tmp_path/'there'/'overlays').iterdir())
    assert all((tmp_path/'there'/'overlays'/n).read_bytes() == (tmp_path/'here'/'overlays'/n).read_bytes() for n in overlays)
    here, there = (json.loads((tmp_path/d/'summary.json').read_text()) for d in ('here', 'there'))
    assert there['parasitemia'] == here['parasitemia'] and there['cells'] == here['cells']

def test_an_unreachable_scheduler_is_an_error_before_any_work(cells, tmp_path):
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]  # nothing listens there
    res = run_cli('predict', cells, '--scheduler', f'tcp://127.0.0.1:{port}', '--out', tmp_path/'p.csv', check=False)
    assert res.returncode == 1 and 'cannot reach the Dask scheduler' in res.stderr
    assert not (tmp_path/'p.csv').exists()

def _kill_a_busy_worker(scheduler:str, run:subprocess.Popen, killed:dict):
    "Once a worker is running one of `run`'s tasks, SIGKILL that worker's process (its nanny starts a new one)."
    with distributed.Client(scheduler) as client:
        pids = client.run(os.getpid)
        while run.poll() is None:
            busy = {w: ts for w, ts in client.processing().items() if any('_screen_field' in str(t) for t in ts)}
            if busy:
                worker, tasks = next(iter(busy.items()))
                os.kill(pids[worker], signal.SIGKILL)
                killed.update(worker=worker, tasks=len(tasks), run_alive=run.poll() is None)
                return
            time.sleep(0.02)

def test_a_killed_worker_loses_and_duplicates_no_field(twelve_fields, scheduler, tmp_path):
    run_cli('screen', twelve_fields, '--out', tmp_path/'here', '--no-overlays')
    exe = Path(sys.executable).parent/'malaria-fastai'
    run = subprocess.Popen([str(exe), 'screen', str(twelve_fields), '--out', str(tmp_path/'there'), '--no-overlays',
                            '--scheduler', scheduler], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = {}
    watcher = threading.Thread(target=_kill_a_busy_worker, args=(scheduler, run, killed))
    watcher.start()
    out, err = run.communicate(timeout=600)
    watcher.join()
    assert killed.get('run_alive') and killed['tasks'] >= 1, f'no worker was killed mid-run: {killed}\n{err}'
    assert run.returncode == 0, err
    fields = _fields_without_time(tmp_path/'there'/'fields.csv')
    assert len(fields) == 12 and fields.field.is_unique and (fields.error == '').all()  # each field once, none lost
    pd.testing.assert_frame_equal(fields, _fields_without_time(tmp_path/'here'/'fields.csv'))
    assert (tmp_path/'there'/'cells.csv').read_bytes() == (tmp_path/'here'/'cells.csv').read_bytes()
