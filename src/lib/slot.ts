// A value one step of a sequence provides and later steps read: set once by
// its provider, read with get() by whoever needs it after. Reading it before
// it was provided is a bug in the order of the steps, and get() says exactly
// that (instead of a `!` that turns into "undefined is not an object").

export class Slot<T> {
  private value: T | undefined;

  /** `what` and `providedBy` name the value and its provider in the error. */
  constructor(
    private readonly what: string,
    private readonly providedBy: string,
  ) {}

  set(v: T): void {
    this.value = v;
  }

  /** The value; throws when it was not provided yet. */
  get(): T {
    if (this.value === undefined) throw new Error(`${this.what} is not there yet (${this.providedBy} provides it)`);
    return this.value;
  }

  /** The value, or undefined for a reader that copes without it (the API before services start). */
  peek(): T | undefined {
    return this.value;
  }

  /** Takes the value out (a closed API server is gone for good). */
  take(): T | undefined {
    const v = this.value;
    this.value = undefined;
    return v;
  }
}
