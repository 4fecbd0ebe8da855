"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed here).
Usage: python tools/readme.py [--check]   (--check: exit 1 if README.md is out of date)"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def readme_text() -> str:
    "Markdown cells as they are, code cells as Python blocks (hidden cells left out)."
    cells = json.loads((root/'nbs'/'index.ipynb').read_text())['cells']
    parts = []
    for c in cells:
        src = ''.join(c['source']).strip()
        if c['cell_type'] == 'markdown': parts.append(src)
        elif src and not src.startswith('#| hide'): parts.append(f'```python\n{src}\n```')
    return '<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook -->\n\n' + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    readme = root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != readme_text(): sys.exit('README.md is out of date: run python tools/readme.py')
    else: readme.write_text(readme_text())
