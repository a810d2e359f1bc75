// syncfs(2) in a worker thread: the filesystem of a directory is flushed and
// the caller's event loop keeps running meanwhile; a path that cannot be
// opened fails at once with its errno and the path.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SysError } from "../../../src/sys/errno.ts";
import { syncfsOffThread } from "../../../src/sys/syncfs.ts";

test("flushes the filesystem of a directory; timers on the calling thread still fire meanwhile", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await syncfsOffThread(tmpdir());
    await syncfsOffThread(tmpdir()); // the worker script is made once and reused
  } finally {
    clearInterval(timer);
  }
  expect(ticks).toBeGreaterThan(0);
});

test("a missing directory: SysError naming open() and the path", async () => {
  const e = await syncfsOffThread("/nonexistent/minos-syncfs").catch((x: unknown) => x);
  expect(e).toBeInstanceOf(SysError);
  expect((e as SysError).message).toBe("open(/nonexistent/minos-syncfs): ENOENT (No such file or directory)");
});

test("a file, not a directory: ENOTDIR", async () => {
  const dir = mkdtempSync(join(tmpdir(), `minos-syncfs-${process.pid}-`));
  try {
    writeFileSync(join(dir, "f"), "x");
    const e = await syncfsOffThread(join(dir, "f")).catch((x: unknown) => x);
    expect((e as SysError).code).toBe("ENOTDIR");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
