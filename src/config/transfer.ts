// A parsed config moved between threads in bounded slices. postMessage's
// structured clone of a whole 30,000-entry config costs the receiving thread
// ~30-60 ms in one piece (measured here: structuredClone of three 9,999-key
// maps 58 ms; JSON.parse of the same 23-35 ms), and a 1 MiB config can hold
// five times as many entries. So the sender flattens the value into a tape of
// tokens (kind + item, in document order) and the receiver pulls it slice by
// slice, rebuilding the value with a resumable decoder and yielding to its
// event loop between slices: no turn of the receiving loop does more than one
// slice of work, whatever the input.
//
// Values are what the config parser produces: strings, numbers, booleans,
// null, undefined, arrays, plain objects and null-prototype objects (the
// free-form maps; their keys were checked against Object.prototype's names,
// and the decoder keeps their prototype so nothing changes on the way).

export const KIND = { scalar: 0, object: 1, dict: 2, array: 3 } as const;

/** One slice of a tape: kinds[i] says what items[i] is (a scalar value, or a container's entry count). */
export interface Slice {
  kinds: Uint8Array<ArrayBuffer>;
  items: unknown[];
}

/** A whole value as a tape. Object entries are a key token (a string scalar) followed by the value's tokens. */
export interface Tape {
  kinds: number[];
  items: unknown[];
}

/** Flattens `value` (iteratively: the depth is bounded by the parser, but not by us). */
export function toTape(value: unknown): Tape {
  const kinds: number[] = [];
  const items: unknown[] = [];
  const stack: unknown[] = [value];
  // Popped in reverse of pushing: children are pushed last-first so they come out in order.
  const KEY = Symbol("key");
  while (stack.length > 0) {
    const v = stack.pop();
    if (v !== null && typeof v === "object" && (v as { [KEY]?: string })[KEY] !== undefined) {
      kinds.push(KIND.scalar);
      items.push((v as { [KEY]: string })[KEY]);
      continue;
    }
    if (v === null || typeof v !== "object") {
      if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") throw new TypeError(`config transfer: cannot send a ${typeof v}`);
      kinds.push(KIND.scalar);
      items.push(v);
      continue;
    }
    if (Array.isArray(v)) {
      kinds.push(KIND.array);
      items.push(v.length);
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== null && proto !== Object.prototype) throw new TypeError(`config transfer: cannot send a ${proto?.constructor?.name ?? "non-plain object"}`);
    const keys = Object.keys(v);
    kinds.push(proto === null ? KIND.dict : KIND.object);
    items.push(keys.length);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      stack.push((v as Record<string, unknown>)[k]);
      stack.push({ [KEY]: k });
    }
  }
  return { kinds, items };
}

/** Slice number `index` of `tape`, `size` tokens each (the last may be shorter). */
export function sliceOf(tape: Tape, index: number, size: number): Slice {
  const from = index * size;
  const to = Math.min(tape.items.length, from + size);
  return { kinds: Uint8Array.from(tape.kinds.slice(from, to)), items: tape.items.slice(from, to) };
}

export function sliceCount(tape: Tape, size: number): number {
  return Math.max(1, Math.ceil(tape.items.length / size));
}

interface Frame {
  target: unknown[] | Record<string, unknown>;
  left: number;
  /** For objects: the key read, waiting for its value. */
  key: string | undefined;
  isArray: boolean;
}

/** Rebuilds a value from its tape, one slice at a time. */
export class TapeDecoder {
  private readonly stack: Frame[] = [];
  private root: { value: unknown } | undefined;

  /** True once the whole value is rebuilt. */
  get done(): boolean {
    return this.root !== undefined && this.stack.length === 0;
  }

  value(): unknown {
    if (!this.done) throw new Error("config transfer: the value is not complete");
    return this.root!.value;
  }

  push(slice: Slice): void {
    const { kinds, items } = slice;
    if (kinds.length !== items.length) throw new Error("config transfer: a slice's kinds and items differ in length");
    for (let i = 0; i < kinds.length; i++) this.token(kinds[i]!, items[i]);
  }

  private token(kind: number, item: unknown): void {
    if (this.done) throw new Error("config transfer: tokens after the end of the value");
    const top = this.stack[this.stack.length - 1];
    if (top && !top.isArray && top.key === undefined) {
      if (kind !== KIND.scalar || typeof item !== "string") throw new Error("config transfer: expected a key");
      top.key = item;
      return;
    }
    let value: unknown;
    let frame: Frame | undefined;
    if (kind === KIND.scalar) value = item;
    else {
      const n = item as number;
      if (!Number.isInteger(n) || n < 0) throw new Error("config transfer: a bad entry count");
      const isArray = kind === KIND.array;
      const target = isArray ? ([] as unknown[]) : kind === KIND.dict ? (Object.create(null) as Record<string, unknown>) : {};
      value = target;
      if (n > 0) frame = { target, left: n, key: undefined, isArray };
    }
    this.attach(value);
    if (frame) this.stack.push(frame);
    else this.close();
  }

  private attach(value: unknown): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      this.root = { value };
      return;
    }
    if (top.isArray) (top.target as unknown[]).push(value);
    else {
      const key = top.key!;
      // An own `__proto__` on an ordinary object needs defineProperty (assignment would set the prototype).
      if (key === "__proto__") Object.defineProperty(top.target, key, { value, enumerable: true, writable: true, configurable: true });
      else (top.target as Record<string, unknown>)[key] = value;
      top.key = undefined;
    }
    top.left--;
  }

  /** Pops every container whose entries are all in. */
  private close(): void {
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.left === 0) this.stack.pop();
  }
}
