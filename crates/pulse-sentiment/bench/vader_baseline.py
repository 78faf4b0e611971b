"""VADER baseline on the pulse-sentiment held-out split.

Scores the texts written by the `train_default` example (`text,label,source`
CSV) with the vaderSentiment package and the standard compound-score cut
(compound >= 0.05 positive, <= -0.05 negative, neutral in between), then
prints accuracy, macro-F1, per-class metrics, the confusion matrix and a
per-source breakdown, in the same layout as `train_default`.

    pip install vaderSentiment
    cargo run --release -p pulse-sentiment --example train_default -- model.json heldout.csv
    python3 crates/pulse-sentiment/bench/vader_baseline.py heldout.csv
"""

import csv
import sys
from collections import defaultdict

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

CLASSES = ["negative", "neutral", "positive"]


def vader_label(compound):
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def evaluate(pairs):
    """Accuracy, macro-F1 (over classes seen in truth or predictions), per class, confusion."""
    confusion = [[0] * 3 for _ in CLASSES]
    for truth, predicted in pairs:
        confusion[CLASSES.index(truth)][CLASSES.index(predicted)] += 1
    total = sum(map(sum, confusion))
    per_class = []
    f1s = []
    for c in range(3):
        tp = confusion[c][c]
        support = sum(confusion[c])
        predicted = sum(confusion[t][c] for t in range(3))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1, support))
        if support or predicted:
            f1s.append(f1)
    accuracy = sum(confusion[c][c] for c in range(3)) / total if total else 0.0
    macro_f1 = sum(f1s) / len(f1s) if f1s else 0.0
    return accuracy, macro_f1, per_class, confusion, total


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: vader_baseline.py HELDOUT.csv")
    analyzer = SentimentIntensityAnalyzer()
    rows = []
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            predicted = vader_label(analyzer.polarity_scores(row["text"])["compound"])
            rows.append((row["source"], row["label"], predicted))

    accuracy, macro_f1, per_class, confusion, total = evaluate([(t, p) for _, t, p in rows])
    print("VADER (compound, +-0.05) on the held-out split, all sources")
    print(f"documents {total}  accuracy {accuracy:.4f}  macro-F1 {macro_f1:.4f}")
    print(f"{'class':<10} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for name, (p, r, f1, s) in zip(CLASSES, per_class):
        print(f"{name:<10} {p:>9.4f} {r:>9.4f} {f1:>9.4f} {s:>8}")
    print("confusion (rows truth, columns predicted)")
    print(f"{'':<10} {'negative':>9} {'neutral':>9} {'positive':>9}")
    for name, row in zip(CLASSES, confusion):
        print(f"{name:<10} {row[0]:>9} {row[1]:>9} {row[2]:>9}")

    by_source = defaultdict(list)
    for source, truth, predicted in rows:
        by_source[source].append((truth, predicted))
    print(f"{'source':<14} {'docs':>6} {'accuracy':>9} {'macro-F1':>9}")
    for source in sorted(by_source):
        acc, mf1, _, _, n = evaluate(by_source[source])
        print(f"{source:<14} {n:>6} {acc:>9.4f} {mf1:>9.4f}")


if __name__ == "__main__":
    main()
