"""Pin the shipped model's hashes in the package: rewrite `SHIPPED_SHA256` in nbs/api/00_core.ipynb from the files in
models/default (or the folder given) and export the package again. Run after any change to the shipped model
(tools/ship_model.py and tools/add_input_check.py call it); tests/test_default_model.py fails while they disagree.

    python tools/pin_shipped.py [models/default]"""
import json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT/'nbs'/'api'/'00_core.ipynb'

def pin_shipped(folder:Path=ROOT/'models'/'default'):
    "Write the SHA-256 of each pinned file in `folder` into the `SHIPPED_SHA256` cell of the core notebook; export."
    import malaria_fastai.core as core
    hashes = {name: core.sha256_file(Path(folder)/name) for name in core.SHIPPED_SHA256}
    nb = json.loads(NOTEBOOK.read_text())
    cell = next(c for c in nb['cells'] if ''.join(c['source']).startswith('#| export\nSHIPPED_SHA256 = {'))
    src = ''.join(cell['source'])
    for name, h in hashes.items(): src = re.sub(rf"('{re.escape(name)}': )'[0-9a-fA-F]*'", rf"\g<1>'{h}'", src)
    cell['source'] = src.splitlines(keepends=True)
    NOTEBOOK.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    subprocess.run([str(Path(sys.executable).parent/'nbdev-export')], cwd=ROOT, check=True)
    core.SHIPPED_SHA256.update(hashes)  # this process goes on with the new pins too
    print('pinned: ' + ', '.join(f'{k} {v[:16]}...' for k, v in hashes.items()))

if __name__ == '__main__': pin_shipped(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT/'models'/'default')
