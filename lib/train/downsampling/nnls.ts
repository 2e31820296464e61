/**
 * Non-negative least squares, min ‖Σ_j x_j a_j − b‖ with x ≥ 0, over columns a_j added one at a time (OMP's chosen
 * rows). Lawson–Hanson's active-set method on the normal equations, warm-started from the previous solution: a new
 * column usually just joins the positive ("passive") set with one O(p²) Cholesky append.
 */
import { GrowingCholesky } from './cholesky.js';

export class GrowingNnls {
  /** gram[a][b] = a_a·a_b for b ≤ a. */
  private readonly gram: Float64Array[] = [];
  /** a_j·b. */
  private readonly toTarget: number[] = [];
  /** a_j·(b − Σ x a) above this counts as a real push to grow x_j, not rounding. */
  private readonly tolerances: number[] = [];
  /** The solution, one coefficient per column; 0 for columns outside the passive set. */
  readonly x: number[] = [];
  /** Columns with x > 0, in the order of the Cholesky factor's rows. */
  private passive: number[] = [];
  private readonly factor = new GrowingCholesky();

  /** A column at x = 0: `products` holds its inner products with the earlier columns, then with itself. */
  addColumn(products: Float64Array, toTarget: number, tolerance: number): void {
    this.gram.push(products);
    this.toTarget.push(toTarget);
    this.tolerances.push(tolerance);
    this.x.push(0);
  }

  /** Lawson–Hanson from the current x. */
  solve(): void {
    const m = this.x.length;
    // Columns whose entry failed numerically (nearly dependent on the passive ones); they stay at 0 this solve.
    const excluded = new Uint8Array(m);
    for (let iteration = 0; iteration < 3 * m + 3; iteration++) {
      const enter = this.mostPositiveGradient(excluded);
      if (enter < 0) return;
      if (!this.factor.append(this.passive.map((p) => this.product(enter, p)), this.product(enter, enter))) {
        excluded[enter] = 1;
        continue;
      }
      this.passive.push(enter);
      for (let inner = 0; ; inner++) {
        const s = this.factor.solve(this.passive.map((p) => this.toTarget[p]!));
        if (s.every((v) => v > 0)) {
          this.passive.forEach((p, i) => (this.x[p] = s[i]!));
          break;
        }
        if (inner === 0 && s[s.length - 1]! <= 0) {
          // In theory the entering column's coefficient is positive; here rounding says otherwise, so leave it out
          // rather than step by zero forever.
          this.passive.pop();
          this.factor.pop();
          excluded[enter] = 1;
          break;
        }
        this.stepToward(s);
      }
    }
  }

  /** Moves x toward the unconstrained solution s until a passive coefficient hits 0, then drops it (and refactors). */
  private stepToward(s: Float64Array): void {
    let alpha = 1;
    let blocking = -1;
    this.passive.forEach((p, i) => {
      if (s[i]! > 0) return;
      const a = this.x[p]! / (this.x[p]! - s[i]!);
      if (a < alpha || blocking < 0) [alpha, blocking] = [a, p];
    });
    this.passive.forEach((p, i) => (this.x[p] = this.x[p]! + alpha * (s[i]! - this.x[p]!)));
    this.x[blocking] = 0;
    const kept = this.passive.filter((p) => this.x[p]! > 0);
    for (const p of this.passive) if (!(this.x[p]! > 0)) this.x[p] = 0;
    this.passive = [];
    this.factor.clear();
    for (const p of kept) {
      if (this.factor.append(this.passive.map((q) => this.product(p, q)), this.product(p, p))) this.passive.push(p);
      else this.x[p] = 0;
    }
  }

  /** The zero column with the largest gradient a_j·(b − Σ x a) above its tolerance, or −1 if x is optimal. */
  private mostPositiveGradient(excluded: Uint8Array): number {
    let enter = -1;
    let best = 0;
    for (let j = 0; j < this.x.length; j++) {
      // Outside the inner loop the passive columns are exactly those with x > 0.
      if (this.x[j]! > 0 || excluded[j]) continue;
      let w = this.toTarget[j]!;
      for (const p of this.passive) w -= this.product(j, p) * this.x[p]!;
      if (w > this.tolerances[j]! && w > best) [enter, best] = [j, w];
    }
    return enter;
  }

  private product(a: number, b: number): number {
    return a >= b ? this.gram[a]![b]! : this.gram[b]![a]!;
  }
}
