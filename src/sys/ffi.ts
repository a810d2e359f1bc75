// Shared plumbing for the libc bindings: opening libc, C strings, pointer arrays
// and errno. Every other file in src/sys declares only the symbols it needs, so an
// applet pays (TinyCC-compiled trampolines) only for the calls it makes.
import { dlopen, ptr, read, type FFIFunction, type Library, type Pointer } from "bun:ffi";
import { SysError } from "./errno.ts";

export { FFIType as T, ptr } from "bun:ffi";
export type { Pointer } from "bun:ffi";

const errnoLib = () => dlopen("libc.so.6", { __errno_location: { args: [], returns: "ptr" } });
let errnoSym: ReturnType<typeof errnoLib> | undefined;

/** The calling thread's errno, read through __errno_location (never guessed). */
export function errno(): number {
  errnoSym ??= errnoLib();
  const p = errnoSym.symbols.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

/**
 * dlopen libc once per binding file, on first use. __errno_location is bound
 * then too, before any call of the binding can fail: binding it lazily in
 * errno() would run dlopen (which may itself set errno) between a failing call
 * and the read of its errno.
 */
export function libc<S extends Record<string, FFIFunction>>(symbols: S): () => Library<S>["symbols"] {
  let lib: Library<S> | undefined;
  return () => {
    if (!lib) {
      errnoSym ??= errnoLib();
      lib = dlopen("libc.so.6", symbols);
    }
    return lib.symbols;
  };
}

/** Throws SysError when a libc call returned -1 (errno is read immediately). */
export function check(ret: number, syscall: string): number {
  if (ret === -1) throw new SysError(syscall, errno());
  return ret;
}

/** A NUL-terminated copy of a string, kept alive by the caller while C uses it. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** A NULL-terminated char*[] (argv/envp). Keep the returned object alive across the call. */
export function cstrArray(items: readonly string[]): { array: BigUint64Array; keep: Buffer[]; pointer: Pointer } {
  const keep = items.map(cstr);
  const array = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep, pointer: ptr(array) };
}
