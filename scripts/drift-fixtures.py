#!/usr/bin/env python3
"""Writes test/fixtures/drift/ks-cvm.json: scipy's two-sample KS and Cramér-von Mises results on seeded cases.

Needs scipy and numpy from PyPI (`pip install scipy numpy`); CI never runs this script, the tests only read the
JSON it writes. Rerun it from the repository root after changing the cases: `python3 scripts/drift-fixtures.py`.

Cases cover both tests' exact paths (KS: both samples <= 10,000 values, equal and unequal sizes; CvM: both
<= 20), ties, and the asymptotic paths, with and without a shift between the samples. Small and medium samples are
stored as values (rounded to 4 decimals before scipy sees them, to keep the file small). Samples with more than
10,000 values are stored as a recipe instead, a Weyl sequence bent by a quadratic, which JavaScript evaluates
with the same IEEE operations and so to the same doubles:
    u_i = ((i * mul + offset) % mod) / mod,   value_i = u_i + curve * (u_i * u_i - u_i) + shift,   i = 0..n-1
`kstwo` lists scipy.stats.kstwo.sf(x, n) at points reaching each branch of the KS asymptotic p-value.
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join('test', 'fixtures', 'drift', 'ks-cvm.json')


def stored(rng, n, shift=0.0, scale=1.0, integers=None):
    """n normal values (or integers in [0, integers) for ties), rounded so the JSON holds exactly what scipy saw."""
    if integers is not None:
        return [float(v) for v in rng.integers(0, integers, size=n) + shift]
    return [float(v) for v in np.round(rng.normal(shift, scale, size=n), 4)]


def weyl(n, mul, mod, offset, curve=0.0, shift=0.0):
    assert n <= mod, 'values repeat beyond mod'
    return {'n': n, 'mul': mul, 'mod': mod, 'offset': offset, 'curve': curve, 'shift': shift}


def expand(sample):
    if isinstance(sample, list):
        return np.array(sample, dtype=np.float64)
    s = sample
    r = (np.arange(s['n'], dtype=np.int64) * s['mul'] + s['offset']) % s['mod']
    u = r.astype(np.float64) / s['mod']
    return u + s['curve'] * (u * u - u) + s['shift']


def cases():
    rng = np.random.default_rng(20240611)
    out = []

    def add(name, a, b):
        out.append({'name': name, 'a': a, 'b': b})

    # Exact paths of both tests (CvM exact needs both sizes <= 20).
    for m, n in [(2, 2), (3, 4), (5, 7), (8, 8), (10, 3), (12, 18), (13, 17), (19, 20), (20, 20), (20, 2)]:
        for shift in (0.0, 0.8, 10.0):
            add(f'exact {m}x{n} shift {shift}', stored(rng, m), stored(rng, n, shift))
    # Ties (midranks in CvM, ECDF jumps of both samples at one value in KS).
    for m, n in [(6, 9), (15, 12), (20, 20), (60, 45), (400, 300)]:
        for shift in (0, 1):
            add(f'ties {m}x{n} shift {shift}', stored(rng, m, integers=5), stored(rng, n, shift, integers=5))
    # Medium: KS exact with m = n and m != n, CvM asymptotic; p-values from about 1 to far below 1e-100.
    for m, n, shift in [(21, 25, 0.5), (100, 80, 0.3), (500, 500, 0.0), (500, 500, 0.2), (1000, 700, 0.1),
                        (1000, 700, 1.0), (2000, 1999, 0.05)]:
        add(f'medium {m}x{n} shift {shift}', stored(rng, m), stored(rng, n, shift))
    # KS asymptotic (a sample over 10,000): en = mn/(m+n) picks kstwo's branch.
    add('asymptotic 12000x9000 null', weyl(12000, 7919, 104729, 17), weyl(9000, 6271, 99991, 5))
    add('asymptotic 12000x9000 bent', weyl(12000, 7919, 104729, 17), weyl(9000, 6271, 99991, 5, curve=0.04))
    add('asymptotic 10001x10001 (en = 5000.5, rounds to even)', weyl(10001, 7919, 104729, 3),
        weyl(10001, 6271, 99991, 11, curve=0.03))
    add('asymptotic 20000x150 (en = 149)', weyl(20000, 7919, 104729, 1), stored(rng, 150, 0.5, 0.29))
    add('asymptotic 15000x100 (en = 99)', weyl(15000, 7919, 104729, 2), stored(rng, 100, 0.45, 0.3))
    add('asymptotic 15000x100 shifted', weyl(15000, 7919, 104729, 2), stored(rng, 100, 0.7, 0.3))
    add('asymptotic 300000x200000 (Pelz-Good)', weyl(300000, 7919, 1000003, 9),
        weyl(200000, 6271, 999983, 4, curve=0.004))
    add('asymptotic 300000x200000 shifted', weyl(300000, 7919, 1000003, 9), weyl(200000, 6271, 999983, 4, shift=0.01))
    return out


def kstwo_points():
    points = []
    for n in (1, 2, 5, 50, 140, 141, 1000, 5143, 100000, 150000, 2000000):
        for x in (0.3 / n, 0.7 / n, 1.5 / n, 0.3 / np.sqrt(n), 0.8 / np.sqrt(n), 1.3 / np.sqrt(n), 1.8 / np.sqrt(n),
                  2.5 / np.sqrt(n), 6 / np.sqrt(n), 0.45, 0.6, 1 - 1.5 / n, 1 - 0.5 / n):
            if 0 < x < 1:
                points.append({'n': n, 'x': float(x), 'sf': float(stats.kstwo.sf(x, n))})
    return points


def main():
    results = []
    for case in cases():
        a, b = expand(case['a']), expand(case['b'])
        ks = stats.ks_2samp(a, b)
        cvm = stats.cramervonmises_2samp(a, b)
        results.append({**case,
                        'ks': {'statistic': float(ks.statistic), 'pValue': float(ks.pvalue)},
                        'cvm': {'statistic': float(cvm.statistic), 'pValue': float(cvm.pvalue)}})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump({'generator': 'scripts/drift-fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__,
                   'cases': results, 'kstwo': kstwo_points()}, f, separators=(',', ':'))
        f.write('\n')
    print(f'{OUT}: {len(results)} cases, {os.path.getsize(OUT)} bytes')


if __name__ == '__main__':
    main()
