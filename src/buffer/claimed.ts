/**
 * Which seq each claimed, not yet settled record has, so ack / nack / deadLetter (which take ids) can address
 * rows by seq.
 *
 * Why not a plain `Map<id, seq>`: claim hands out fresh id strings read from SQLite, and putting each into a
 * Map hashes all 64 characters; that cost ~1 us per record, a fifth of the buffer's whole claim+ack. The
 * uploader nearly always settles a claimed batch whole, with the very id strings claim returned, in claim
 * order. So batches are kept as two arrays, and a call whose ids are exactly one outstanding batch takes its
 * seqs after a pointer comparison per id. Anything else (a partial ack after a bisection, ids in another
 * order, ids of several batches) builds an id index over every outstanding record once and uses it until
 * nothing is outstanding again.
 */

interface Batch {
  readonly ids: readonly string[];
  /** Seq per id; -1 once settled. */
  readonly seqs: number[];
  /** Ids not yet settled. */
  left: number;
}

/** The claimed records of one buffer and their seqs. */
export class ClaimedSeqs {
  #batches = new Set<Batch>();
  #index: Map<string, { batch: Batch; at: number }> | null = null;

  /** Records one claim: `ids[i]` has `seqs[i]`. Ids must not be outstanding already. */
  add(ids: readonly string[], seqs: number[]): void {
    if (ids.length === 0) return;
    const batch: Batch = { ids, seqs, left: ids.length };
    this.#batches.add(batch);
    if (this.#index) this.#indexBatch(batch);
  }

  /** Removes the given ids and returns their seqs; ids not outstanding (or repeated) are skipped. */
  take(ids: readonly string[]): number[] {
    if (ids.length === 0 || this.#batches.size === 0) return [];
    if (!this.#index) {
      for (const b of this.#batches) {
        if (b.left === ids.length && b.ids.length === ids.length && sameIds(b.ids, ids)) {
          this.#batches.delete(b);
          return b.seqs;
        }
      }
      this.#index = new Map();
      for (const b of this.#batches) this.#indexBatch(b);
    }
    const index = this.#index;
    const out: number[] = [];
    for (const id of ids) {
      const e = index.get(id);
      if (!e) continue;
      index.delete(id);
      out.push(e.batch.seqs[e.at]);
      e.batch.seqs[e.at] = -1;
      if (--e.batch.left === 0) this.#batches.delete(e.batch);
    }
    if (this.#batches.size === 0) this.#index = null;
    return out;
  }

  /** How many records are outstanding. */
  get size(): number {
    let n = 0;
    for (const b of this.#batches) n += b.left;
    return n;
  }

  /** Forgets everything (the rows were returned to the queue or the file was replaced). */
  clear(): void {
    this.#batches.clear();
    this.#index = null;
  }

  #indexBatch(b: Batch): void {
    const index = this.#index!;
    for (let i = 0; i < b.ids.length; i++) if (b.seqs[i] !== -1) index.set(b.ids[i], { batch: b, at: i });
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
