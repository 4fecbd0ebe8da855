"""Compare training recipes by patient-grouped 5-fold cross-validation over the dev patients (issue 12).

Each recipe is `malaria_fastai.crossval.cross_validate` into `--out/<name>` with the same folds (fold seed 0); finished
folds are kept, so the script resumes where it stopped. `cleaned` trains each fold without the cells that the default
recipe's label audit flags (`cleanedseed43`: the same with training seed 43). `distilled` trains one model per fold on
the mean probabilities of the `cleaned` and `cleanedseed43` fold models (knowledge distillation: an ensemble's
knowledge at one model's cost). `ensemble2` needs no training: it averages the out-of-fold probabilities of the two
cleaned seeds (the estimate for shipping both models). Every recipe is scored on the original labels of the held-out
folds. Prints one line per recipe, with its difference from the default recipe (paired patient bootstrap, same cells).

    python tools/cv_recipes.py --data data/cell_images_dev/cell_images --out models/cv_runs default cleaned cleanedseed43 ensemble2 distilled
"""
import argparse, json
from pathlib import Path
import pandas as pd
from malaria_fastai.crossval import cross_validate, cv_report, compare_oof, read_oof, OOF_COLUMNS
from malaria_fastai.data import get_data

RECIPES = dict(default=dict(), seed43=dict(seed=43), seed44=dict(seed=44), size64=dict(size=64, epochs=8), epochs8=dict(epochs=8))

def run(name, data, out):
    "Cross-validate recipe `name` into `out/name` (resuming), or derive it from the runs it needs."
    root = get_data(data)
    if name.startswith('cleaned'):
        flagged = pd.read_csv(out/'default'/'label_issues.csv').path.tolist()
        return cross_validate(root, out=out/name, resume=True, pretrained=False, exclude_train=flagged,
                              **RECIPES.get(name[len('cleaned'):], {}))
    if name == 'distilled':  # fold k learns the mean probabilities of both cleaned seeds' fold-k models, on every cell
        return cross_validate(root, out=out/name, resume=True, pretrained=False, teachers=[out/'cleaned', out/'cleanedseed43'])
    if name.startswith('ensemble'):
        runs = ['cleaned', 'cleanedseed43', 'cleanedseed44'][:int(name[-1])]
        oofs = [read_oof(out/r/'oof.csv') for r in runs]
        avg = oofs[0].assign(prob_parasitized=sum(o.prob_parasitized for o in oofs)/len(oofs))[OOF_COLUMNS]
        (out/name).mkdir(parents=True, exist_ok=True)
        avg.to_csv(out/name/'oof.csv', index=False)
        cv_report(avg, out/name, root=root, recipe=dict(averaged=runs))
        return avg
    return cross_validate(root, out=out/name, resume=True, pretrained=False, **RECIPES[name])

def line(name, out, base='default'):
    "The recipe's headline out-of-fold numbers from its report, and its paired difference from the `base` recipe."
    r = json.loads((out/name/'report.json').read_text())
    v = lambda d, k, f='.4f': f"{d[k]['value']:{f}} [{d[k]['ci95'][0]:{f}}, {d[k]['ci95'][1]:{f}}]"
    diff = '' if name == base else f'  vs {base}: ' + 'AUC {} acc {}'.format(*(v(d, k, '+.4f') for d in [compare_oof(
        *(read_oof(out/n/'oof.csv') for n in (base, name)))] for k in ('roc_auc', 'accuracy_at_half')))
    return (f"{name:10} AUC {v(r['at_half'], 'roc_auc')}  acc@0.5 {v(r['at_half'], 'accuracy')}  at {r['threshold']:.3f} "
            f"(target {r['target_sensitivity']}): sens {v(r['at_threshold'], 'sensitivity')} spec {v(r['at_threshold'], 'specificity')}{diff}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('recipes', nargs='+', help=f"any of {', '.join(RECIPES)}, cleaned (+ a recipe name), distilled, ensemble2, ensemble3")
    p.add_argument('--data', help='the dev data (folder or archive); default the data-source setting')
    p.add_argument('--out', type=Path, default=Path('models/cv_runs'))
    p.add_argument('--base', default='default', help='the recipe each one is compared with (default: default)')
    args = p.parse_args()
    for name in args.recipes:
        run(name, args.data, args.out)
        print(line(name, args.out, args.base), flush=True)
    print('\n'.join(line(n, args.out, args.base) for n in args.recipes))
