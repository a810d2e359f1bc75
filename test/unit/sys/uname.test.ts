// uname(2) through libc (src/sys/process.ts) replaces node:os's hostname()
// and release() in PID 1: the same answers, read from the same syscall.
import { expect, test } from "bun:test";
import os from "node:os";
import { uname } from "../../../src/sys/process.ts";

test("uname's nodename, release and machine are node:os's hostname, release and arch's machine", () => {
  const u = uname();
  expect(u.sysname).toBe("Linux");
  expect(u.nodename).toBe(os.hostname());
  expect(u.release).toBe(os.release());
  expect(u.version).toBe(os.version());
  expect(u.machine).toBe(os.machine());
});
