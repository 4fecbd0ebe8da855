"Shared fixtures: the tiny NIH subset (through the project's data-source setting) and one trained export."
import os, subprocess, sys
from pathlib import Path
import pytest

def run_cli(*args, cwd=None, check=True):
    "Run `malaria-fastai ARGS` in a new process; return the CompletedProcess."
    exe = Path(sys.executable).parent/'malaria-fastai'  # the installed console script, as users run it
    res = subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check and res.returncode: raise AssertionError(f'exit {res.returncode}\n{res.stdout}\n{res.stderr}')
    return res

@pytest.fixture(scope='session')
def cells():
    "The class-folder root of the data source in force (the tiny subset in CI)."
    if not (os.environ.get('MALARIA_DATA_URL') or os.environ.get('MALARIA_DATA')):
        pytest.fail('set MALARIA_DATA_URL (or MALARIA_DATA) to the tiny subset: see the test command in README.md')
    from malaria_fastai.data import get_data
    return get_data()

@pytest.fixture(scope='session')
def trained(cells, tmp_path_factory):
    "Output folder of `malaria-fastai train --no-pretrained --epochs 1 --size 64` on the test data."
    out = tmp_path_factory.mktemp('run')
    res = run_cli('train', '--no-pretrained', '--epochs', 1, '--size', 64, '--bs', 32, '--out', out)
    return out, res.stdout

def field_zip():
    "The zip of field photos in force, opened (`$MALARIA_FIELDS`: the IML dev fields in CI), and its photos' names."
    import zipfile
    src = os.environ.get('MALARIA_FIELDS')
    if not src: pytest.fail('set MALARIA_FIELDS to the IML dev fields: see the test command in README.md')
    z = zipfile.ZipFile(src)
    return z, sorted(n for n in z.namelist() if n.lower().endswith('.jpg'))

@pytest.fixture(scope='session')
def field_photos(tmp_path_factory):
    "A folder of 3 whole-field photos and a zip of 2 more, from the field source in force (the IML dev fields in CI)."
    import zipfile
    out = tmp_path_factory.mktemp('fields')
    z, names = field_zip()
    with z:
        names = names[:5]
        for n in names[:3]: (out/'folder').mkdir(exist_ok=True); (out/'folder'/Path(n).name).write_bytes(z.read(n))
        with zipfile.ZipFile(out/'two.zip', 'w') as two:
            for n in names[3:]: two.writestr(f'fields/{Path(n).name}', z.read(n))
        (out/'annotations.json').write_bytes(z.read('iml_fields/annotations.json'))
    return out
