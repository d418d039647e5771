#!/usr/bin/env python3
"""Recall of every system at equal false-positive rates, from the ROC curves
in an `mhguard eval --json` report: at the first system's own operating point
and at FPR 1 %, 5 %, 10 % (linear interpolation between curve points).

usage: bench/recall_at_fpr.py REPORT.json [TASK ...]
"""
import json
import sys


def tpr_at(curve, fpr):
    """True-positive rate of a ROC curve [[fpr, tpr], ...] at fpr."""
    best = 0.0
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if x0 <= fpr <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (fpr - x0) / (x1 - x0)
        if x1 <= fpr:
            best = y1
    return best


def main():
    r = json.load(open(sys.argv[1]))
    tasks = sys.argv[2:] or ["suicide", "self_harm", "overall"]
    for task in tasks:
        for field in ("source", "lang"):
            by_group(r, task, field)
    for task in tasks:
        first = r["systems"][0]["tasks"].get(task)
        if not first or first["overall"]["fpr"]["value"] is None:
            continue
        op = first["overall"]["fpr"]["value"]
        print(f"{task}: recall at equal FPR (first system's operating point FPR = {op:.3f})")
        print(f"  {'system':<58} {'@op':>6} {'@1%':>6} {'@5%':>6} {'@10%':>6} {'AUPRC':>6} {'ROC':>6}  msgs/s")
        for s in r["systems"]:
            t = s["tasks"][task]
            c = t["curves"]["roc"]
            o = t["overall"]
            print(f"  {s['name'][:58]:<58} {tpr_at(c, op):6.3f} {tpr_at(c, .01):6.3f} {tpr_at(c, .05):6.3f} "
                  f"{tpr_at(c, .10):6.3f} {o['auprc']['value'] or 0:6.3f} {o['roc_auc']['value'] or 0:6.3f}  "
                  f"{s['info'].get('messages_per_second', '-')}")


def by_group(r, task, field):
    """Per value of a group field: recall of every system at FPR 5 % and 10 %
    (each on that slice's own ROC curve)."""
    first = r["systems"][0]["tasks"].get(task)
    if not first or field not in first["groups"]:
        return
    print(f"{task} by {field}: recall at FPR 5 % / 10 % (slice's own ROC), per system")
    for value, g0 in first["groups"][field].items():
        if not g0.get("positives") or not g0.get("negatives"):
            continue
        cells = []
        for s in r["systems"]:
            g = s["tasks"][task]["groups"][field][value]
            c = g.get("roc") or []
            cells.append(f"{tpr_at(c, .05):.3f}/{tpr_at(c, .10):.3f}" if len(c) > 1 else "  -  ")
        print(f"  {value:<18} n={g0['n']:<5} pos={g0['positives']:<4} " + "  ".join(cells))
    print("  systems: " + " | ".join(s["name"] for s in r["systems"]))


if __name__ == "__main__":
    main()
