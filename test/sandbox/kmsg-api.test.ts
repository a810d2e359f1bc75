// Dmesg against the host's real /dev/kmsg (root): the API server over a fake
// backend, and minosctl dmesg through it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/applets/minosctl/main.ts";
import { captureIo } from "../../src/lib/io.ts";
import { rawLocal, startFixture, type ApiFixture, type RawClient } from "../helpers/fake-backend.ts";

let f: ApiFixture;
let c: RawClient;
let home: string;

beforeAll(async () => {
  f = await startFixture();
  c = rawLocal(f);
  home = join(f.dir, "home");
  mkdirSync(home);
});
afterAll(async () => {
  c.close();
  await f.close();
});

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await Bun.sleep(10);
  }
};

describe("Dmesg over the local socket", () => {
  test("Dmesg returns kernel messages", async () => {
    // CI runs as root on Linux: a missing /dev/kmsg is a broken environment, not a reason to pass.
    expect(existsSync("/dev/kmsg")).toBe(true);
    const lines = await c.collect("Dmesg", {});
    expect(lines.length).toBeGreaterThan(0);
    expect(Buffer.from(lines[0].bytes).toString()).toMatch(/^\w+: +\w+: \[\d{4}-/);
  });

  test("Dmesg follow streams until cancelled, then closes /dev/kmsg", async () => {
    const kmsgFds = () =>
      readdirSync("/proc/self/fd").filter((n) => {
        try {
          return readlinkSync(`/proc/self/fd/${n}`) === "/dev/kmsg";
        } catch {
          return false;
        }
      }).length;
    const before = kmsgFds();
    const s = c.stream("Dmesg", { follow: true, tail: true });
    let error: grpc.ServiceError | undefined;
    s.on("error", (e) => (error = e));
    await waitFor(() => kmsgFds() === before + 1);
    // A record logged after the stream opened arrives (writing to the host's kernel log is harmless).
    const marker = `minos-api-test-${process.pid}-${Date.now()}`;
    const seen = new Promise<void>((resolve) =>
      s.on("data", (m: { bytes: Uint8Array }) => {
        if (Buffer.from(m.bytes).toString().includes(marker)) resolve();
      }),
    );
    // The server opens /dev/kmsg, then drains what is there (tail: not sent) before it
    // follows: a marker written in between is drained, so write until one arrives.
    const writer = setInterval(() => writeFileSync("/dev/kmsg", `<6>${marker}\n`), 200);
    try {
      await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error("followed record never arrived")), 3000))]);
    } finally {
      clearInterval(writer);
    }
    expect(kmsgFds()).toBe(before + 1);
    s.cancel();
    await waitFor(() => kmsgFds() === before);
    expect(error?.code ?? grpc.status.CANCELLED).toBe(grpc.status.CANCELLED);
  });

  test("minosctl dmesg prints kernel lines", async () => {
    expect(existsSync("/dev/kmsg")).toBe(true); // CI is root on Linux: never skip silently
    const io = captureIo({ HOME: home });
    const code = await main(["-n", `unix:${f.socketPath}`, "dmesg"], io);
    expect(code).toBe(0);
    expect(io.out.split("\n")[0]).toMatch(/^\w+: +\w+: \[/);
  });
});
