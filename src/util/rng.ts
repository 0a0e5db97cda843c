/**
 * A small seeded random number generator (xoshiro128**) whose whole state is four u32 words, so
 * a training run can checkpoint it and resume the exact same sequence.
 *
 * @module
 */

/**
 * Seeded generator of uniform, normal and integer variates and shuffles.
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const order = rng.permutation(10);
 * const saved = rng.state;
 * const again = Rng.fromState(saved);
 * ```
 */
export class Rng {
  #s: Uint32Array;

  /** @param seed any integer; expanded to the full state with SplitMix32 */
  constructor(seed: number) {
    this.#s = new Uint32Array(4);
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.#s[i] = (t ^ (t >>> 16)) >>> 0;
    }
    if (this.#s.every((w) => w === 0)) this.#s[0] = 1;
  }

  /** A generator continuing from a saved {@link state}. */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.every((w) => w === 0)) {
      throw new Error(`Rng state must be 4 u32 words, not all zero; got ${JSON.stringify(state)}`);
    }
    const rng = new Rng(0);
    rng.#s = Uint32Array.from(state);
    return rng;
  }

  /** The state, four u32 words (a copy). */
  get state(): number[] {
    return Array.from(this.#s);
  }

  /** Next uniform u32. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
