"""Per-intent acting thresholds, calibrated on out-of-fold predictions of our own data.

    .venv/bin/python benchmarks/nlu_thresholds.py [--precision 0.98] [--json] [--write]

Every training message is predicted by a model trained on the other four fifths (the folds the
out-of-scope threshold is calibrated on). For each intent that changes a ticket, the lowest
confidence at which at least `precision` of its readings are right is its calibrated
threshold. The held-out test files, never used to fit, then check each threshold: how many of
their right readings it lets through and how many wrong readings clear it. Takes about a
minute on two busy cores. `--write` stores the fitted values in
`nlu/data/acting_thresholds.json`, which `handlers/rules/confirm.py` reads within its bands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATE_CHANGING = [
    "resolve_ticket",
    "reopen_ticket",
    "escalate",
    "cancel",
    "approve",
    "reject",
    "add_info",
    "affirm",
    "deny",
    "assign",
    "put_on_hold",
]


def main() -> None:
    """Fit the thresholds, check them on the held-out files, print them; `--write` stores them."""
    from nlu.calibration import coverage, intent_thresholds, write_acting_thresholds
    from nlu.dataset import builtin_test_files, builtin_train_files, read_examples
    from nlu.train import fit_pipeline, out_of_fold, top_labels

    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", type=float, default=0.98)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write", action="store_true", help="store them for confirm.py")
    args = parser.parse_args()

    train = read_examples(builtin_train_files())
    test = read_examples(builtin_test_files())
    predicted, confidence, gold = out_of_fold(train)
    chosen = intent_thresholds(
        confidence, predicted, gold, STATE_CHANGING, precision=args.precision
    )
    if args.write:
        write_acting_thresholds(chosen, precision=args.precision)
    nlp = fit_pipeline(train, 0)
    test_pred, test_conf = top_labels(nlp, [e.text for e in test])
    test_gold = [e.intent for e in test]
    rows = []
    for intent in STATE_CHANGING:
        t = chosen[intent]
        cv_right, cv_all, cv_wrong = coverage(confidence, predicted, gold, intent, t)
        ho_right, ho_all, ho_wrong = coverage(test_conf, test_pred, test_gold, intent, t)
        rows.append(
            {
                "intent": intent,
                "threshold": t,
                "cv_right_through": cv_right,
                "cv_right": cv_all,
                "cv_wrong_through": cv_wrong,
                "held_out_right_through": ho_right,
                "held_out_right": ho_all,
                "held_out_wrong_through": ho_wrong,
            }
        )
    if args.json:
        print(json.dumps({"precision": args.precision, "intents": rows}))
        return
    print(f"precision target {args.precision:.2f}")
    print(
        f"{'intent':16} {'threshold':>9}  {'cv right through':>18}  {'cv wrong':>8}  "
        f"{'held-out right':>15}  {'held-out wrong':>14}"
    )
    for r in rows:
        print(
            f"{r['intent']:16} {r['threshold']:9.2f}  "
            f"{r['cv_right_through']:>8}/{r['cv_right']:<9}  {r['cv_wrong_through']:>8}  "
            f"{r['held_out_right_through']:>7}/{r['held_out_right']:<7}  "
            f"{r['held_out_wrong_through']:>14}"
        )


if __name__ == "__main__":
    main()
