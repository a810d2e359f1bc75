// Reading a service's pipe (src/init/supervisor/output.ts) with real
// processes on a real pipe: lines and a last unterminated line arrive and the
// fd is closed at EOF; a line without end is cut into marked pieces of at most
// LINE_MAX_BYTES; and a writer faster than the reader's duty cycle is held
// back by the pipe itself (it sleeps in its write), not buffered in our memory.
import { expect, test } from "bun:test";
import { fstatSync, readFileSync } from "node:fs";
import { readOutput } from "../../../src/init/supervisor/output.ts";
import { DutyCycle } from "../../../src/lib/duty.ts";
import { CUT_MARK, LINE_MAX_BYTES } from "../../../src/lib/ring.ts";
import { close, pipe } from "../../../src/sys/spawn.ts";

/** Runs `sh -c script` with stdout and stderr on a fresh pipe; returns the read end and the process. */
function writer(script: string) {
  const [r, w] = pipe();
  const proc = Bun.spawn(["/bin/sh", "-c", script], { stdio: ["ignore", w, w] });
  close(w);
  return { fd: r, proc };
}

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

test("every line arrives, the last one without a newline too, and the fd is closed at EOF", async () => {
  const { fd, proc } = writer("printf 'one\\n\\ntwo\\nlast'; printf 'err\\n' >&2");
  const got: string[] = [];
  await readOutput(fd, (l) => got.push(l));
  await proc.exited;
  expect(got).toEqual(["one", "", "two", "lasterr"]);
  expect(isOpen(fd)).toBe(false);
});

test("100,000 bytes without a newline become marked pieces of at most LINE_MAX_BYTES, nothing lost", async () => {
  const { fd, proc } = writer("head -c 100000 /dev/zero | tr '\\0' x");
  const got: string[] = [];
  await readOutput(fd, (l) => got.push(l));
  await proc.exited;
  expect(Math.max(...got.map((l) => Buffer.byteLength(l)))).toBeLessThanOrEqual(LINE_MAX_BYTES);
  expect(got.slice(0, -1).every((l) => l.endsWith(CUT_MARK))).toBe(true);
  expect(got.map((l) => l.replace(CUT_MARK, "")).join("")).toBe("x".repeat(100_000));
});

test("a writer faster than the duty cycle allows blocks in its own write(2): backpressure through the pipe", async () => {
  const { fd, proc } = writer("exec yes");
  const budget = new DutyCycle(0.05, 5);
  let lines = 0;
  const done = readOutput(fd, () => lines++, budget);
  try {
    await Bun.sleep(1500);
    const wchar = Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${proc.pid}/io`, "utf8"))![1]);
    const wchan = readFileSync(`/proc/${proc.pid}/wchan`, "utf8");
    const blocked = readFileSync(`/proc/${proc.pid}/stat`, "utf8").split(") ")[1]!.startsWith("S");
    console.log(`yes wrote ${(wchar / 1e6).toFixed(1)} MB in 1.5 s at a 5% duty cycle (${lines} lines read); waits in ${wchan}`);
    expect(lines).toBeGreaterThan(1000); // it is read...
    // ...but at the reader's pace: unthrottled, yes writes ~1-2 GB/s into a pipe.
    expect(wchar).toBeLessThan(20e6);
    expect(wchar - 2 * lines).toBeLessThanOrEqual(1 << 20); // what it wrote and we did not read yet fits in the pipe (and yes's buffer)
    expect(blocked).toBe(true);
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    await done;
  }
});
