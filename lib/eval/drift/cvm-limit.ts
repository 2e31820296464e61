/**
 * The limiting distribution of the Cramér–von Mises statistic, as scipy's `_cdf_cvm_inf`: Csörgő & Faraway
 * (1996, JRSS B 58(1), eq. 1.2–1.3),
 *
 *   V(x) = Σ_{k≥0} Γ(k+½)/(Γ(k+1)·π^{3/2}·√x) · √(4k+1) · exp(−q_k) · K_{1/4}(q_k),   q_k = (4k+1)²/(16x),
 *
 * summed, like scipy, until a term falls below 1e-7 (that term included), so the two agree to rounding.
 */

/** V(x) for x > 0. Accurate where it matters for p-values (scipy documents the same limit: poor beyond x ≈ 4). */
export function cvmLimitCdf(x: number): number {
  let sum = 0;
  // Γ(k+½)/Γ(k+1), starting at Γ(½) = √π.
  let gammaRatio = Math.sqrt(Math.PI);
  const scale = Math.PI ** 1.5 * Math.sqrt(x);
  for (let k = 0; ; k++) {
    const y = 4 * k + 1;
    const q = (y * y) / (16 * x);
    const term = (gammaRatio / scale) * Math.sqrt(y) * scaledBesselK(q);
    sum += term;
    if (Math.abs(term) < 1e-7) return sum;
    gammaRatio *= (k + 0.5) / (k + 1);
  }
}

/** Index of the Bessel function the series needs. */
const NU = 0.25;

/**
 * exp(−q)·K_{1/4}(q) for q > 0, from K_ν(q) = ∫₀^∞ exp(−q cosh t) cosh(νt) dt by the trapezoidal rule. The
 * integrand is analytic in the strip |Im t| < π/2 and decays doubly exponentially, so the rule converges
 * geometrically: with step h the error is about exp(−π²/h), and h ≤ 0.5/√q also resolves the peak of width
 * ~1/√q at large q; both keep it far below double rounding.
 */
function scaledBesselK(q: number): number {
  const h = Math.min(0.1, 0.5 / Math.sqrt(q));
  // exp(−q)·exp(−q cosh t) = exp(−2q)·exp(−q(cosh t − 1)); the second factor is ≤ 1 and never underflows early.
  let sum = 0.5;
  for (let i = 1; ; i++) {
    const t = i * h;
    const f = Math.exp(-q * (Math.cosh(t) - 1)) * Math.cosh(NU * t);
    sum += f;
    // Past the maximum (q sinh t > ν) the remaining terms shrink faster than geometrically.
    if (q * Math.sinh(t) > NU && f < 1e-18 * sum) break;
  }
  return Math.exp(-2 * q) * sum * h;
}
