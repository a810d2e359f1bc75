// Large blobs go to containerd over minos's own HTTP/2 upload stream
// (src/containerd/h2upload.ts) and are committed over node:http2. Against a
// real containerd: the bytes arrive intact in 1 MiB WRITEs through grpc-go's
// flow control (its BDP estimator raising the window included), and every way
// an upload can go wrong ends with containerd's or our error and no ingest
// left behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { ApiError, ContainerdClient, sha256Digest, type NamespaceClient } from "../../../src/containerd/index.ts";
import { SHARED_CONNECTION_MAX_BYTES } from "../../../src/containerd/content.ts";
import { Code } from "../../../src/api/status.ts";
import { Daemon } from "./daemon.ts";

const NS = "raw-upload";
let daemon: Daemon;
let client: ContainerdClient;
let leased: NamespaceClient;

beforeAll(async () => {
  daemon = Daemon.start();
  client = ContainerdClient.connect(daemon.socket, { timeoutMs: 30_000 });
  try {
    await client.waitReady(30_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\ncontainerd log:\n${daemon.logTail()}`);
  }
  await client.namespaces.ensure(NS);
  await client.withNamespace(NS).leases.create("raw-upload-test", {});
  leased = client.withNamespace(NS).withLease("raw-upload-test");
}, 60_000);

afterAll(async () => {
  client?.close();
  await daemon?.stop();
}, 30_000);

/** `bytes` in pieces of `piece` bytes, as a registry body arrives. */
function* piecesOf(bytes: Uint8Array, piece: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += piece) yield bytes.subarray(at, at + piece);
}

async function readAll(digest: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of leased.content.read(digest)) parts.push(c);
  return Buffer.concat(parts);
}

async function noIngest(): Promise<void> {
  expect(await client.withNamespace(NS).content.listStatuses()).toEqual([]);
}

describe("large blobs over minos's own upload stream", () => {
  test("40 MiB in 64 KiB pieces arrives byte for byte, committed under its digest", async () => {
    const data = new Uint8Array(randomBytes(40 << 20));
    const digest = sha256Digest(data);
    const w = await client.writeBlob(leased, "raw-40mib", digest, data.length, piecesOf(data, 64 << 10));
    expect(w).toEqual({ digest, size: data.length, existed: false });
    expect((await readAll(digest)).equals(Buffer.from(data))).toBe(true);
    await noIngest();
  }, 60_000);

  test("three uploads at once, each on its own connection, all complete", async () => {
    const blobs = [0, 1, 2].map(() => new Uint8Array(randomBytes(12 << 20)));
    const done = await Promise.all(blobs.map((b, i) => client.writeBlob(leased, `raw-par-${i}`, sha256Digest(b), b.length, piecesOf(b, 200_000))));
    expect(done.map((d) => d.size)).toEqual(blobs.map((b) => b.length));
    await noIngest();
  }, 60_000);

  test("a wrong expected digest: containerd's commit refuses it (FAILED_PRECONDITION with its message), nothing stays", async () => {
    const data = new Uint8Array(randomBytes(3 << 20));
    const wrong = sha256Digest(new Uint8Array(randomBytes(16)));
    const e = await client.writeBlob(leased, "raw-bad-digest", wrong, data.length, piecesOf(data, 1 << 16)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(Code.FAILED_PRECONDITION);
    expect((e as ApiError).message).toContain("digest");
    const info = await leased.content.info(wrong).catch((x: unknown) => x);
    expect((info as ApiError).code).toBe(Code.NOT_FOUND);
    await noIngest();
  }, 30_000);

  test("fewer bytes than declared: containerd's commit refuses the size (FAILED_PRECONDITION), nothing stays", async () => {
    const data = new Uint8Array(randomBytes(2 << 20));
    const e = await client.writeBlob(leased, "raw-short", sha256Digest(data), data.length + 1000, piecesOf(data, 1 << 16)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(Code.FAILED_PRECONDITION);
    await noIngest();
  }, 30_000);

  test("more bytes than declared: INVALID_ARGUMENT before any commit, ingest aborted", async () => {
    const data = new Uint8Array(randomBytes(2 << 20));
    const e = await client.writeBlob(leased, "raw-long", sha256Digest(data.subarray(0, 1 << 20)), 1 << 20, piecesOf(data, 1 << 16)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(Code.INVALID_ARGUMENT);
    await noIngest();
  }, 30_000);

  test("input that fails half-way (a registry body breaking off): that error, ingest aborted", async () => {
    const data = new Uint8Array(randomBytes(4 << 20));
    async function* breaking(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 3 << 20);
      throw new Error("registry went away");
    }
    const e = await client.writeBlob(leased, "raw-broken", sha256Digest(data), data.length, breaking()).catch((x: unknown) => x);
    expect((e as Error).message).toBe("registry went away");
    await noIngest();
  }, 30_000);

  test("a blob the namespace holds already: existed, nothing rewritten", async () => {
    const data = new Uint8Array(randomBytes(1 << 20));
    expect(data.length).toBeGreaterThan(SHARED_CONNECTION_MAX_BYTES);
    const digest = sha256Digest(data);
    await client.writeBlob(leased, "raw-again-1", digest, data.length, piecesOf(data, 1 << 16));
    const again = await client.writeBlob(leased, "raw-again-2", digest, data.length, piecesOf(data, 1 << 16));
    expect(again).toEqual({ digest, size: data.length, existed: true });
    await noIngest();
  }, 30_000);
});
