"""Run notebooks and save them with their outputs, so tutorials read on GitHub and Colab with their tables and plots.

    MALARIA_DATA_URL=file://$PWD/../shared/nih-malaria/cell_images_tiny.zip python tools/run_notebooks.py nbs/index.ipynb nbs/tutorials/*.ipynb

Cells marked `#| slow` are not run (as in CI). Outputs that would show NIH cell images (cells carrying the comment
`# NIH cell images: output not saved`) are cleared: the project never commits images from the data set. Images
over 150 KB, library deprecation warnings and console progress bars are dropped. Then `nbdev-clean` tidies the metadata."""
import json, subprocess, sys
from pathlib import Path
from execnb.shell import CaptureShell

MARK, MAX_BYTES = '# NIH cell images: output not saved', 150_000

def keep(output) -> bool:
    "False for an output too big to commit, a library's deprecation warning or a console progress bar."
    text = ''.join(output.get('text', ''))
    if 'FutureWarning' in text or 'DeprecationWarning' in text or '\u2588' in text: return False
    return all(len(str(v)) <= MAX_BYTES for v in output.get('data', {}).values())

def run(nb_path:Path):
    "Execute `nb_path` in place, then clear what must not be committed."
    skip = lambda cell: cell.cell_type == 'code' and '#| slow' in cell.source
    CaptureShell(path=nb_path.parent).execute(nb_path, nb_path, exc_stop=True, preproc=skip)
    nb = json.loads(nb_path.read_text())
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        c['outputs'] = [] if MARK in ''.join(c['source']) else [o for o in c.get('outputs', []) if keep(o)]
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__':
    for p in sys.argv[1:]:
        print(f'running {p}', flush=True)
        run(Path(p))
    subprocess.run(['nbdev-clean'], check=True)
