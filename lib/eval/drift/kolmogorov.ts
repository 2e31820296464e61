/**
 * The distribution of the one-sample two-sided Kolmogorov–Smirnov statistic D_n, as scipy's `kstwo`: the
 * two-sample test's asymptotic p-value is its survival function at n = round(mn/(m+n)). The method for each
 * (n, x) follows Simard & L'Ecuyer (2011, J. Stat. Softw. 39(11)), with scipy's cut-offs so the values agree:
 * - Ruben–Gambino's closed forms for nx ≤ 1 and nx ≥ n−1;
 * - 2·P(D⁺_n ≥ x), exact for x ≥ 1/2 (the two one-sided events are then disjoint) and Miller's approximation
 *   where nx² is large;
 * - Durbin's matrix formula (Marsaglia, Tsang & Wang 2003) where nx² is small (scipy uses Pomeranz's recursion for
 *   n ≤ 140 and 0.754693 < nx² ≤ 4; both are exact, so the value is the same);
 * - the Pelz–Good (1976) asymptotic series for large n.
 */

/** P(D_n ≥ x), as scipy.stats.kstwo.sf(x, n). */
export function kolmogorovSf(n: number, x: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`kolmogorovSf: n must be a positive integer, got ${n}`);
  if (x >= 1) return 0;
  const t = n * x;
  if (t <= 0.5) return 1;
  if (t <= 1) {
    // P(D_n < x) = n!/n^n · (2t−1)^n.
    const cdf = n <= 140 ? fallingProduct(n, 2 * t - 1) : Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    return clip(1 - cdf);
  }
  if (t >= n - 1) return clip(2 * Math.pow(1 - x, n));
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clip(1 - durbinCdf(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, x));
  const cdf = n <= 100000 && n * Math.pow(x, 1.5) <= 1.4 ? durbinCdf(n, x) : pelzGoodCdf(n, x);
  return clip(1 - cdf);
}

function clip(p: number): number {
  return Math.min(1, Math.max(0, p));
}

/** Π_{i=1..n} (i/n)·c, in order, as a product of n factors (no overflow for n ≤ 140). */
function fallingProduct(n: number, c: number): number {
  let p = 1;
  for (let i = 1; i <= n; i++) p *= (i / n) * c;
  return p;
}

/** log(n!/nⁿ) by Stirling's series; its first omitted term is below 1e-17 for n > 140. */
function logFactorialOverPower(n: number): number {
  const r = 1 / n;
  const r2 = r * r;
  return 0.5 * Math.log(2 * Math.PI * n) - n + r * (1 / 12 - r2 * (1 / 360 - r2 / 1260));
}

/** Below e^-708 a double underflows; one-sided tails there are 0. */
const LOG_MIN = -708.3964185322641;
/** Beyond this n scipy switches the one-sided tail to its closed-form approximation. */
const SMIRNOV_EXACT_MAX_N = 1_000_000;

/**
 * P(D⁺_n ≥ x), the one-sided statistic's tail, as scipy.special.smirnov: Birnbaum & Tingey's (1951) sum
 *   x · Σ_{j=0}^{⌊n(1−x)⌋} C(n, j) (1 − x − j/n)^{n−j} (x + j/n)^{j−1},
 * whose terms are all positive, evaluated in logs and stopped once the remaining terms cannot matter.
 */
function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  if (n === 1) return 1 - x;
  const nx = n * x;
  if (nx <= 1) return 1 - x * Math.pow(1 + x, n - 1);
  if (-2 * n * x * x < LOG_MIN) return 0;
  if (nx >= n - 1) return Math.pow(1 - x, n);
  if (n > SMIRNOV_EXACT_MAX_N) {
    const logp = -Math.pow(6 * nx + 1, 2) / 18 / n;
    return logp < -Math.LN2 ? Math.exp(logp) : -Math.expm1(logp);
  }
  let sum = 0;
  let logBinom = 0;
  let previous = 0;
  for (let j = 0; ; j++) {
    const base = (n - j) / n - x;
    if (!(base > 0)) break;
    const logTerm = logBinom + (n - j) * Math.log(base) + (j - 1) * Math.log(x + j / n);
    const term = Math.exp(logTerm);
    sum += term;
    // Terms rise then fall; once falling, the rest (fewer than n of them) is bounded by n·term.
    if (term < previous && term * (n - j) < sum * 1e-17) break;
    previous = term;
    logBinom += Math.log((n - j) / (j + 1));
  }
  return Math.min(1, x * sum);
}

/** Rescale by 2^±SCALE_BITS when values leave this range, tracking the exponent separately. */
const SCALE_BITS = 128;
const SCALE_UP = 2 ** SCALE_BITS;
const SCALE_DOWN = 2 ** -SCALE_BITS;

/**
 * P(D_n < x) by Durbin's (1968) matrix formula: n!/nⁿ · (Hⁿ)_{kk} for the (2k−1)² matrix H of Marsaglia, Tsang &
 * Wang (2003), k = ⌈nx⌉, by repeated squaring with the scale kept as a power of two.
 */
function durbinCdf(n: number, x: number): number {
  const nx = n * x;
  const k = Math.ceil(nx);
  const h = k - nx;
  const m = 2 * k - 1;
  const H = new Float64Array(m * m);
  // 1/i! for i = 0..m.
  const invFact = new Float64Array(m + 1);
  invFact[0] = 1;
  for (let i = 1; i <= m; i++) invFact[i] = invFact[i - 1]! / i;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) if (i - j + 1 >= 0) H[i * m + j] = invFact[i - j + 1]!;
  }
  for (let i = 0; i < m; i++) {
    H[i * m] -= Math.pow(h, i + 1) * invFact[i + 1]!;
    H[(m - 1) * m + i] -= Math.pow(h, m - i) * invFact[m - i]!;
  }
  if (2 * h - 1 > 0) H[(m - 1) * m] += Math.pow(2 * h - 1, m) * invFact[m]!;

  let power: Float64Array | null = null;
  let powerExp = 0;
  let square: Float64Array = H;
  let squareExp = 0;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      power = power ? multiply(power, square, m) : square.slice();
      powerExp += squareExp;
      if (Math.abs(power[(k - 1) * m + (k - 1)]!) > SCALE_UP) {
        scaleInPlace(power, SCALE_DOWN);
        powerExp += SCALE_BITS;
      }
    }
    if (e > 1) {
      square = multiply(square, square, m);
      squareExp *= 2;
      if (Math.abs(square[(k - 1) * m + (k - 1)]!) > SCALE_UP) {
        scaleInPlace(square, SCALE_DOWN);
        squareExp += SCALE_BITS;
      }
    }
  }
  let p = power![(k - 1) * m + (k - 1)]!;
  let exp = powerExp;
  for (let i = 1; i <= n; i++) {
    p = (p * i) / n;
    if (Math.abs(p) < SCALE_DOWN) {
      p *= SCALE_UP;
      exp -= SCALE_BITS;
    }
  }
  // In two steps: 2^exp alone may overflow where p·2^exp does not.
  const half = Math.trunc(exp / 2);
  return clip(p * 2 ** half * 2 ** (exp - half));
}

function multiply(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l]!;
      if (ail === 0) continue;
      for (let j = 0, bo = l * m, oo = i * m; j < m; j++) out[oo + j] += ail * b[bo + j]!;
    }
  }
  return out;
}

function scaleInPlace(a: Float64Array, factor: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= factor;
}

/**
 * P(D_n ≤ x) by the Pelz–Good expansion K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^{3/2}, z = x√n, with each K_i
 * written as theta-function series that converge fast for small z (Simard & L'Ecuyer 2011, section 2.3). The
 * K2 and K3 correction sums over all integers k carry the constants scipy uses.
 */
function pelzGoodCdf(n: number, x: number): number {
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const pi2 = Math.PI * Math.PI;
  const pi4 = pi2 * pi2;
  const pi6 = pi4 * pi2;
  const logQ = -pi2 / 8 / z2;
  if (logQ < -708) return 0;
  const terms = Math.ceil((16 * z) / Math.PI);
  // Σ over odd m = 2k−1 of c_i(m) · exp(−π²m²/(8z²)).
  let k0 = 0;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  for (let k = 1; k <= terms; k++) {
    const m2 = (2 * k - 1) ** 2;
    const w = Math.exp(logQ * m2);
    k0 += w;
    k1 += w * (pi2 * m2 / 4 - z2);
    k2 += w * (6 * z6 + 2 * z4 + (pi2 * (2 * z4 - 5 * z2) * m2) / 4 + (pi4 * (1 - 2 * z2) * m2 * m2) / 16);
    k3 += w * (-30 * z6 - 90 * z6 * z2 + (pi2 * (135 * z4 - 96 * z6) * m2) / 4
      + (pi4 * (212 * z4 - 60 * z2) * m2 * m2) / 16 + (pi6 * (5 - 30 * z2) * m2 * m2 * m2) / 64);
  }
  const root2pi = Math.sqrt(2 * Math.PI);
  k0 *= root2pi / z;
  k1 *= root2pi / (6 * z4);
  k2 *= root2pi / (72 * z6 * z);
  k3 *= root2pi / (6480 * z6 * z4);
  // Σ over all k ≥ 1 with weight exp(−π²k²/(2z²)).
  let extra2 = 0;
  let extra3 = 0;
  for (let k = 1; k <= terms; k++) {
    const k2pi2 = k * k * pi2;
    const w = k * k * Math.exp(-k2pi2 / (2 * z2));
    extra2 += w;
    extra3 += w * (3 * z2 - k2pi2);
  }
  k2 += (extra2 * pi2 * root2pi) / (-36 * z2 * z);
  k3 += (extra3 * pi2 * root2pi) / (216 * z6);
  return k0 + k1 / Math.sqrt(n) + k2 / n + k3 / (n * Math.sqrt(n));
}
