// Inside a `bun build --compile` binary, fetch's per-request TLS options
// must still work (minos runs compiled): a pull from an HTTPS registry
// succeeds with the test CA, fails without it, succeeds with
// insecureSkipVerify. The same binary, run alone, measures RSS while a
// 50 MiB random layer streams through: it must not grow with the layer.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistriesConfig } from "../../../src/registry/config.ts";
import { blob, imageFor, pushImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { makeTestPKI, type TestPKI } from "../../fixtures/registry/test-ca.ts";

const BUN = join(import.meta.dir, "../../../node_modules/.bin/bun");
const CLI = join(import.meta.dir, "../../fixtures/registry/pull-cli.ts");
const LAYER_MIB = Number(process.env.MINOS_TEST_LAYER_MIB ?? 50);

let pki: TestPKI;
let reg: RunningRegistry;
let dir: string;
let exe: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `minos-registry-compiled-${process.pid}-`));
  exe = join(dir, "pull");
  pki = makeTestPKI();
  reg = await startRegistry({ tls: { cert: pki.serverCert, key: pki.serverKey } });
  const build = Bun.spawn([BUN, "build", "--compile", CLI, "--outfile", exe], { stdout: "pipe", stderr: "pipe" });
  const small = imageFor("amd64", [blob("application/vnd.oci.image.layer.v1.tar", new TextEncoder().encode("x".repeat(4096)))]);
  await pushImage({ url: reg.url, ca: pki.caCert }, "test/small", small, "v1");
  {
    // Random bytes do not compress: the blob is as big on the wire as it claims.
    const big = new Uint8Array(LAYER_MIB << 20);
    for (let off = 0; off < big.length; off += 65536) crypto.getRandomValues(big.subarray(off, off + 65536));
    await pushImage({ url: reg.url, ca: pki.caCert }, "test/big", imageFor("amd64", [blob("application/vnd.oci.image.layer.v1.tar+gzip", big)]), "v1");
  }
  if ((await build.exited) !== 0) throw new Error(`bun build --compile failed: ${await new Response(build.stderr).text()}`);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface CliResult {
  ok: boolean;
  error?: string;
  servedBy?: string;
  layers?: { digest: string; bytes: number }[];
  rss?: { before: number; peak: number; after: number; afterGc: number };
  heap?: { before: number; afterGc: number };
}

async function run(cmd: string[], ref: string, config: RegistriesConfig): Promise<CliResult> {
  const p = Bun.spawn([...cmd, JSON.stringify({ ref, config })], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!) as CliResult;
}

const tlsCfg = (tls: { ca?: string; insecureSkipVerify?: boolean }): RegistriesConfig => ({ config: { [reg.host]: { tls } } });

test("compiled binary: TLS with the CA pulls, without it is refused, insecureSkipVerify pulls", async () => {
  const ref = `${reg.host}/test/small:v1`;
  const withCA = await run([exe], ref, tlsCfg({ ca: Buffer.from(pki.caCert).toString("base64") }));
  expect(withCA).toMatchObject({ ok: true, servedBy: reg.host, layers: [{ bytes: 4096 }] });
  const without = await run([exe], ref, {});
  expect(without.ok).toBe(false);
  expect(without.error).toMatch(/certificate|UNABLE_TO_VERIFY/i);
  const skip = await run([exe], ref, tlsCfg({ insecureSkipVerify: true }));
  expect(skip).toMatchObject({ ok: true, layers: [{ bytes: 4096 }] });
}, 60_000);

test(`streaming a ${LAYER_MIB} MiB layer does not grow RSS with the layer`, async () => {
  const r = await run([exe], `${reg.host}/test/big:v1`, tlsCfg({ ca: pki.caCert }));
  expect(r.ok).toBe(true);
  expect(r.layers![0]!.bytes).toBe(LAYER_MIB << 20);
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const growth = r.rss!.peak - r.rss!.before;
  console.log(
    `RSS before ${mib(r.rss!.before)} MiB, peak ${mib(r.rss!.peak)} MiB, after ${mib(r.rss!.after)} MiB, after GC ${mib(r.rss!.afterGc)} MiB; ` +
      `growth ${mib(growth)} MiB for a ${LAYER_MIB} MiB layer; JS heap ${mib(r.heap!.before)} → ${mib(r.heap!.afterGc)} MiB`,
  );
  // Nothing of the layer is retained: the heap after a full collection is back near where it started.
  expect(r.heap!.afterGc - r.heap!.before).toBeLessThan(4 << 20);
  // Holding the layer would add at least its size; chunks awaiting the collector stay well below it.
  expect(growth).toBeLessThan(LAYER_MIB << 20);
  expect(r.rss!.afterGc - r.rss!.before).toBeLessThan(24 << 20);
}, 120_000);
