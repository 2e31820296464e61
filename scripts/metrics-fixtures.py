#!/usr/bin/env python3
"""Writes test/fixtures/metrics/cases.json: scikit-learn's value of every evaluation metric on seeded cases.

Needs scikit-learn and numpy from PyPI (`pip install scikit-learn numpy`); CI never runs this script, the tests
only read the JSON it writes. Rerun it from the repository root after changing the cases:
`python3 scripts/metrics-fixtures.py`.

Each case is a model's outputs (row-major `rows x width` logits, rounded to a few decimals so the file stays small)
and labels. The decimals are read as float32 on both sides (decimal -> double -> float32, as Float32Array.from does
in JavaScript), and the metrics see exactly what lib/eval/metrics sees:
- predictions: argmax of the logits (softmax-ce) or logit > 0 (bce-logits);
- probabilities: float64 softmax exp(z - max) / sum(exp(z - max)) per row, or sigmoid(logit);
- ROC-AUC scores: the logit (bce-logits), the probability of class 1 (2 softmax classes), every class's probability
  one-vs-rest (more classes); ties come from rounding (bce-logits) or duplicated rows (softmax);
- precision, recall and F1 with labels = 0..C-1 and zero_division=0; 'binary' with pos_label=1 (2 classes only).
No row has two equal logits, since scikit-learn's top_k_accuracy_score and argmax order ties differently.
A ROC-AUC that scikit-learn rejects or returns as NaN (a class absent from the labels) is stored as null.
"""
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, log_loss, precision_score,
                             recall_score, roc_auc_score, top_k_accuracy_score)

OUT = os.path.join('test', 'fixtures', 'metrics', 'cases.json')
AVERAGES = ['macro', 'micro', 'weighted']


def softmax_case(name, rng, rows, classes, decimals=3, separation=1.0, absent=(), duplicates=0):
    """Logits drawn around a bump at each row's label, then `duplicates` rows copied over others (AUC ties)."""
    present = [c for c in range(classes) if c not in absent]
    labels = rng.choice(present, size=rows)
    logits = rng.normal(0.0, 1.0, size=(rows, classes))
    logits[np.arange(rows), labels] += separation
    for _ in range(duplicates):
        source, target = rng.integers(0, rows, size=2)
        logits[target] = logits[source]
        labels[target] = rng.choice(present)
    logits = np.round(logits, decimals)
    for row in logits:  # no ties within a row
        while len(np.unique(row)) < classes:
            row[rng.integers(0, classes)] += 10.0 ** -decimals
        row[:] = np.round(row, decimals)
    return {'name': name, 'loss': 'softmax-ce', 'numClasses': classes, 'width': classes,
            'logits': [round(float(v), decimals) for v in logits.ravel()], 'labels': [int(v) for v in labels]}


def logit_case(name, rng, rows, decimals=1, shift=1.0, only_negatives=False):
    """One logit per row, rounded coarsely so many scores tie."""
    labels = np.zeros(rows, dtype=np.int64) if only_negatives else rng.integers(0, 2, size=rows)
    logits = rng.normal(0.0, 1.2, size=rows) + shift * (labels - 0.5)
    if only_negatives:
        logits = -np.abs(logits) - 0.1
    return {'name': name, 'loss': 'bce-logits', 'numClasses': 2, 'width': 1,
            'logits': [round(float(v), decimals) for v in logits], 'labels': [int(v) for v in labels]}


def auc_or_none(compute):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            value = float(compute())
    except ValueError:
        return None
    return None if math.isnan(value) else value


def expected(case):
    classes, width = case['numClasses'], case['width']
    y = np.asarray(case['labels'])
    z = np.asarray(case['logits'], dtype=np.float32).astype(np.float64).reshape(-1, width)
    labels = list(range(classes))
    if case['loss'] == 'bce-logits':
        score = z[:, 0]
        predicted = (score > 0).astype(np.int64)
        probability = 1.0 / (1.0 + np.exp(-score))
        loss = log_loss(y, probability, labels=labels)
        auc = auc_or_none(lambda: roc_auc_score(y, score))
    else:
        predicted = np.argmax(z, axis=1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probability = e / e.sum(axis=1, keepdims=True)
        loss = log_loss(y, probability, labels=labels)
        if classes == 2:
            auc = auc_or_none(lambda: roc_auc_score(y, probability[:, 1]))
        else:
            auc = auc_or_none(lambda: roc_auc_score(y, probability, multi_class='ovr', average='macro', labels=labels))
    accuracy = {'1': float(accuracy_score(y, predicted))}
    for k in range(2, classes + 1):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # k >= classes: "will result in a perfect score"
            # With two classes scikit-learn takes one score per row; every sample is then a top-2 hit.
            scores = z[:, -1] if classes == 2 else z
            accuracy[str(k)] = float(top_k_accuracy_score(y, scores, k=k, labels=labels))
    if classes > 2:
        assert top_k_accuracy_score(y, z, k=1, labels=labels) == accuracy['1'], 'a tie within a row'
    result = {'accuracy': accuracy, 'loss': float(loss), 'rocAuc': auc,
              'confusionMatrix': confusion_matrix(y, predicted, labels=labels).tolist()}
    for metric, score_fn in [('precision', precision_score), ('recall', recall_score), ('f1', f1_score)]:
        result[metric] = {a: float(score_fn(y, predicted, labels=labels, average=a, zero_division=0)) for a in AVERAGES}
        if classes == 2:
            result[metric]['binary'] = float(score_fn(y, predicted, average='binary', pos_label=1, zero_division=0))
    return result


def main():
    rng = np.random.default_rng(20240611)
    cases = [
        logit_case('binary logits, tied scores', rng, 240),
        logit_case('binary logits, one class only, all predicted 0', rng, 40, only_negatives=True),
        softmax_case('binary softmax, duplicated rows', rng, 200, 2, duplicates=30),
        softmax_case('3 classes, duplicated rows', rng, 300, 3, duplicates=40),
        softmax_case('5 classes, class 4 absent from the labels', rng, 300, 5, separation=0.8, absent=(4,)),
        softmax_case('5 classes, duplicated rows', rng, 400, 5, separation=1.2, duplicates=40),
        softmax_case('3 classes, perfectly separable', rng, 60, 3, decimals=2, separation=20.0),
    ]
    for case in cases:
        case['expected'] = expected(case)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump({'sklearn': sklearn.__version__, 'numpy': np.__version__, 'cases': cases}, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {OUT}: {len(cases)} cases, {os.path.getsize(OUT)} bytes')


if __name__ == '__main__':
    main()
