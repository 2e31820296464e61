/**
 * Lower-triangular Cholesky factor L (L·Lᵀ = M) of a symmetric positive-definite matrix grown one row and column
 * at a time: appending costs O(p²) instead of refactoring in O(p³).
 */

/** A pivot below this fraction of its diagonal means the new column is (numerically) a combination of the others. */
const dependent = 1e-12;

export class GrowingCholesky {
  /** rows[i] holds L's row i, entries 0..i. */
  private readonly rows: Float64Array[] = [];

  get size(): number {
    return this.rows.length;
  }

  /**
   * Appends a last row and column to M: `column` holds its entries against the existing rows, `diagonal` its own.
   * Returns false, appending nothing, when the grown M would not be numerically positive definite.
   */
  append(column: ArrayLike<number>, diagonal: number): boolean {
    const p = this.rows.length;
    const row = new Float64Array(p + 1);
    let squares = 0;
    for (let i = 0; i < p; i++) {
      const li = this.rows[i]!;
      let v = column[i]!;
      for (let j = 0; j < i; j++) v -= li[j]! * row[j]!;
      row[i] = v / li[i]!;
      squares += row[i]! ** 2;
    }
    const pivot = diagonal - squares;
    if (!(pivot > dependent * diagonal)) return false;
    row[p] = Math.sqrt(pivot);
    this.rows.push(row);
    return true;
  }

  /** Drops the last row and column: the leading rows of L already factor the smaller matrix. */
  pop(): void {
    this.rows.pop();
  }

  clear(): void {
    this.rows.length = 0;
  }

  /** x with M·x = rhs, by a forward then a backward substitution. */
  solve(rhs: ArrayLike<number>): Float64Array {
    const p = this.rows.length;
    const x = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      const li = this.rows[i]!;
      let v = rhs[i]!;
      for (let j = 0; j < i; j++) v -= li[j]! * x[j]!;
      x[i] = v / li[i]!;
    }
    for (let i = p - 1; i >= 0; i--) {
      let v = x[i]!;
      for (let j = i + 1; j < p; j++) v -= this.rows[j]![i]! * x[j]!;
      x[i] = v / this.rows[i]![i]!;
    }
    return x;
  }
}
