/**
 * Interns (sku, location) keys straight from the bytes of an export, without building a string per
 * row: an open-addressing hash table over a byte arena, giving each distinct key a dense integer id.
 * Every source then keeps its quantities in typed arrays indexed by that id, and the reconciliation
 * is a linear pass over arrays. This is what keeps millions of rows fast and small (a JS Map keyed
 * by strings measured ~5× slower and ~3× bigger on 4 × 1M rows).
 *
 * Memory layout is chosen for cache misses, the real cost at this size: a slot holds the key's hash
 * next to its id (a probe rejects other keys without touching them), and a key's start, length,
 * location and hash sit together in one record.
 */

/** Per-key record: [start in arena, byte length, location id, hash]. */
const META = 4;

export class KeyTable {
  #arena: Uint8Array;
  #arenaUsed = 0;
  #meta: Int32Array;
  /** Pairs [hash, id + 1]; id + 1 = 0 marks an empty slot. */
  #slots: Int32Array;
  #mask: number;
  #size = 0;

  /**
   * `expected`: about how many keys will come (default 65,536). A table sized to its keys stays in
   * the CPU caches where it can: the partitions of the parallel engine are small on purpose.
   */
  constructor(expected = 1 << 16) {
    const keys = Math.max(1024, Math.ceil(expected));
    const slots = 2 ** Math.ceil(Math.log2((4 * keys) / 3));
    this.#arena = new Uint8Array(keys * 16);
    this.#meta = new Int32Array(META * keys);
    this.#slots = new Int32Array(2 * slots);
    this.#mask = slots - 1;
  }
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();

  /** Number of distinct keys. */
  get size(): number {
    return this.#size;
  }

  /** Capacity of per-key arrays callers should keep (grows in steps). */
  get capacity(): number {
    return this.#meta.length / META;
  }

  /** The id of (sku bytes [start, end) of `buf`, location id), adding it if new. */
  intern(buf: Uint8Array, start: number, end: number, location: number): number {
    // FNV-1a over the sku bytes, then the location id
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    h = Math.imul(h ^ location, 0x01000193) | 0;
    const len = end - start;
    const slots = this.#slots;
    const meta = this.#meta;
    let slot = h & this.#mask;
    for (;;) {
      const entry = slots[2 * slot + 1]!;
      if (entry === 0) break;
      if (slots[2 * slot] === h) {
        const m = (entry - 1) * META;
        if (meta[m + 1] === len && meta[m + 2] === location && this.#equal(meta[m]!, buf, start, len)) return entry - 1;
      }
      slot = (slot + 1) & this.#mask;
    }
    const id = this.#size++;
    if ((id + 1) * META > this.#meta.length) this.#growMeta();
    if (this.#arenaUsed + len > this.#arena.length) {
      const bigger = new Uint8Array(Math.max(Math.ceil(this.#arena.length * 1.5), this.#arenaUsed + len));
      bigger.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = bigger;
    }
    const arena = this.#arena;
    const at = this.#arenaUsed;
    for (let i = 0; i < len; i++) arena[at + i] = buf[start + i]!;
    const m = id * META;
    this.#meta[m] = at;
    this.#meta[m + 1] = len;
    this.#meta[m + 2] = location;
    this.#meta[m + 3] = h;
    this.#arenaUsed += len;
    slots[2 * slot] = h;
    slots[2 * slot + 1] = id + 1;
    // at most 3/4 full: a slot is 8 bytes and a probe reads neighbouring ones from the same cache line
    if (this.#size * 4 > (this.#mask + 1) * 3) this.#rehash();
    return id;
  }

  /**
   * Whether key `id` is (sku bytes [start, end), location). Exports are usually sorted the same
   * way, so a reader first tries "the key after the previous one" here: a sequential memory read
   * instead of a random probe of the table.
   */
  matches(id: number, buf: Uint8Array, start: number, end: number, location: number): boolean {
    if (id < 0 || id >= this.#size) return false;
    const m = id * META;
    if (this.#meta[m + 2] !== location || this.#meta[m + 1] !== end - start) return false;
    return this.#equal(this.#meta[m]!, buf, start, end - start);
  }

  /** The id of (sku, location id) for a sku already decoded (JSON sources, quoted fields). */
  internString(sku: string, location: number): number {
    const bytes = this.#encoder.encode(sku);
    return this.intern(bytes, 0, bytes.length, location);
  }

  sku(id: number): string {
    const m = id * META;
    return this.#decoder.decode(this.#arena.subarray(this.#meta[m]!, this.#meta[m]! + this.#meta[m + 1]!));
  }

  /** The bytes of every sku (valid until the next `intern`): key `id` is [skuStart(id), skuEnd(id)). */
  get arena(): Uint8Array {
    return this.#arena;
  }

  skuStart(id: number): number {
    return this.#meta[id * META]!;
  }

  skuEnd(id: number): number {
    return this.#meta[id * META]! + this.#meta[id * META + 1]!;
  }

  location(id: number): number {
    return this.#meta[id * META + 2]!;
  }

  #equal(at: number, buf: Uint8Array, start: number, len: number): boolean {
    const a = this.#arena;
    for (let i = 0; i < len; i++) if (a[at + i] !== buf[start + i]) return false;
    return true;
  }

  #growMeta(): void {
    // by half again, not double: at tens of millions of keys every doubling is hundreds of MB
    const next = new Int32Array(META * Math.ceil((this.#meta.length / META) * 1.5));
    next.set(this.#meta);
    this.#meta = next;
  }

  #rehash(): void {
    const capacity = (this.#mask + 1) * 2;
    const slots = new Int32Array(2 * capacity);
    const mask = capacity - 1;
    const meta = this.#meta;
    for (let id = 0; id < this.#size; id++) {
      const h = meta[id * META + 3]!;
      let slot = h & mask;
      while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      slots[2 * slot] = h;
      slots[2 * slot + 1] = id + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

/** Names (locations) given small dense ids in the order first seen. */
export class NameTable {
  readonly names: string[] = [];
  readonly #ids = new Map<string, number>();

  id(name: string): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.#ids.set(name, id);
    }
    return id;
  }
}
