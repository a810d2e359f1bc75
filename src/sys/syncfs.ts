// syncfs(2) off the calling thread. Flushing a filesystem's dirty data can
// take seconds on a slow disk, and PID 1's event loop must not wait that
// long: the call runs in a short-lived Bun Worker (its own thread, made from
// an inline script, so the compiled binary needs no second entrypoint) that
// binds libc itself and reports the result and its errno. The directory is
// opened here, on the calling thread (threads share the fd table), so a bad
// path fails at once with its own errno.
import { closeSync, constants, openSync } from "node:fs";
import { SysError } from "./errno.ts";

const WORKER_SOURCE = `
import { dlopen, read } from "bun:ffi";
const libc = dlopen("libc.so.6", { syncfs: { args: ["i32"], returns: "i32" }, __errno_location: { args: [], returns: "ptr" } });
self.onmessage = (e) => {
  const ret = libc.symbols.syncfs(e.data);
  const p = ret === -1 ? libc.symbols.__errno_location() : null;
  postMessage({ ret, errno: p === null ? 0 : read.i32(p, 0) });
};
`;

let workerUrl: string | undefined;

/** Flushes the filesystem holding `path` (a directory) to its device; rejects with SysError, or after `timeoutMs`. */
export async function syncfsOffThread(path: string, timeoutMs = 300_000): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).errno;
    throw code !== undefined ? new SysError(`open(${path})`, -code) : e;
  }
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(workerUrl);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await new Promise<{ ret: number; errno: number }>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`syncfs(${path}): no answer within ${timeoutMs} ms`)), timeoutMs);
      worker.onmessage = (e: MessageEvent<{ ret: number; errno: number }>) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(`syncfs(${path}): worker failed: ${e.message}`));
      worker.postMessage(fd);
    });
    if (r.ret === -1) throw new SysError(`syncfs(${path})`, r.errno);
  } finally {
    clearTimeout(timer);
    worker.terminate();
    // A timed-out call may still be in the kernel with this fd: closing it then only drops our reference.
    closeSync(fd);
  }
}
