// Pulls from real Distribution 2.8 registries on 127.0.0.1 (Debian package
// docker-registry): HTTPS with a test CA (the "upstream"), plain HTTP (a
// mirror), HTTPS with htpasswd basic auth, HTTPS demanding client
// certificates. Images are pushed by the test through the upload API.
// Digest mismatches, 5xx, redirects and stalls come from small Bun.serve
// servers on loopback, since a real registry serves what it stored.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RegistryClient, type ResolvedImage } from "../../../src/registry/client.ts";
import type { RegistriesConfig } from "../../../src/registry/config.ts";
import { DigestMismatchError, PlatformNotFoundError, RegistryError, RegistryUnavailableError } from "../../../src/registry/errors.ts";
import { layerCompression } from "../../../src/registry/manifest.ts";
import { blob, busyboxImages, imageFor, indexOf, pushImage, pushIndex, pushManifest, type TestImage } from "../../fixtures/registry/image.ts";
import { freePort, startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { makeTestPKI, type TestPKI } from "../../fixtures/registry/test-ca.ts";

let pki: TestPKI;
let upstream: RunningRegistry; // HTTPS, anonymous
let mirror: RunningRegistry; // HTTP, anonymous
let basic: RunningRegistry; // HTTPS, htpasswd
let mtls: RunningRegistry; // HTTPS, client certificates required
let imgs: ReturnType<typeof busyboxImages>;
let mirrorOnly: TestImage;
const USER = { username: "puller", password: `pw-${process.pid}` };
const b64 = (s: string) => Buffer.from(s).toString("base64");
const servers: { stop(force?: boolean): unknown }[] = [];

beforeAll(async () => {
  pki = makeTestPKI();
  const tls = { cert: pki.serverCert, key: pki.serverKey };
  [upstream, mirror, basic, mtls] = await Promise.all([
    startRegistry({ tls }),
    startRegistry(),
    startRegistry({ tls, htpasswd: USER }),
    startRegistry({ tls: { ...tls, clientCA: pki.caCert } }),
  ]);
  imgs = busyboxImages();
  const both = [
    { image: imgs.amd64, os: "linux", architecture: "amd64" },
    { image: imgs.arm64, os: "linux", architecture: "arm64" },
  ];
  await pushIndex({ url: upstream.url, ca: pki.caCert }, "test/busybox", "v1", both);
  await pushIndex({ url: basic.url, ca: pki.caCert, basic: USER }, "test/busybox", "v1", both);
  // Only on the upstream, with no linux/amd64 entry.
  const armv7 = imageFor("arm", [imgs.layer]);
  await pushImage({ url: upstream.url, ca: pki.caCert }, "test/noamd64", imgs.arm64);
  await pushImage({ url: upstream.url, ca: pki.caCert }, "test/noamd64", armv7);
  await pushManifest(
    { url: upstream.url, ca: pki.caCert },
    "test/noamd64",
    "v1",
    indexOf([
      { image: imgs.arm64, os: "linux", architecture: "arm64" },
      { image: armv7, os: "linux", architecture: "arm", variant: "v7" },
    ]),
  );
  // The mirror has its own test/busybox:v1 (a different layer), so we can tell who served it.
  mirrorOnly = imageFor("amd64", [blob("application/vnd.oci.image.layer.v1.tar", new TextEncoder().encode("mirror layer".padEnd(1024, ".")))]);
  await pushImage({ url: mirror.url }, "test/busybox", mirrorOnly, "v1");
}, 60_000);

afterAll(async () => {
  for (const s of servers) s.stop(true);
  await Promise.all([upstream?.stop(), mirror?.stop(), basic?.stop(), mtls?.stop()]);
});

const caConfig = (host: string): RegistriesConfig => ({ config: { [host]: { tls: { ca: b64(pki.caCert) } } } });

async function drain(client: RegistryClient, image: ResolvedImage, i = 0): Promise<{ bytes: Uint8Array; progress: number[] }> {
  const parts: Uint8Array[] = [];
  const progress: number[] = [];
  for await (const c of client.fetchBlob(image, image.layers[i]!, { onProgress: (p) => progress.push(p.received) })) parts.push(c);
  return { bytes: Buffer.concat(parts), progress };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure, got success");
}

describe("anonymous pull over HTTPS with the test CA", () => {
  test("index → linux/amd64 manifest → layer streamed and verified, config readable", async () => {
    const client = new RegistryClient(caConfig(upstream.host));
    const image = await client.resolve(`${upstream.host}/test/busybox:v1`);
    expect(image.target.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(image.index).toBeDefined();
    expect(image.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
    expect(image.manifestDescriptor.platform).toEqual({ os: "linux", architecture: "amd64" });
    expect(Buffer.from(image.manifest).equals(Buffer.from(imgs.amd64.manifest.bytes))).toBe(true);
    expect(image.layers.map((l) => l.digest)).toEqual([imgs.layer.digest]);
    expect(layerCompression(image.layers[0]!.mediaType)).toBe("gzip");
    expect(image.servedBy).toBe(upstream.host);

    const { bytes, progress } = await drain(client, image);
    expect(bytes.byteLength).toBe(imgs.layer.size);
    expect(Buffer.from(bytes).equals(Buffer.from(imgs.layer.bytes))).toBe(true);
    expect(progress[0]).toBe(0);
    expect(progress[progress.length - 1]).toBe(imgs.layer.size);

    const config = JSON.parse(new TextDecoder().decode(await client.readBlob(image, image.config))) as { architecture: string };
    expect(config.architecture).toBe("amd64");
  });

  test("pull by digest, and by tag+digest, gives the same manifest", async () => {
    const client = new RegistryClient(caConfig(upstream.host));
    const byTag = await client.resolve(`${upstream.host}/test/busybox:v1`);
    const byDigest = await client.resolve(`${upstream.host}/test/busybox@${byTag.target.digest}`);
    const both = await client.resolve(`${upstream.host}/test/busybox:ignored@${byTag.target.digest}`);
    expect(byDigest.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
    expect(both.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
    expect(both.reference.canonical).toBe(`${upstream.host}/test/busybox:ignored@${byTag.target.digest}`);
  });
});

describe("TLS", () => {
  test("without the CA the certificate is refused, naming the host", async () => {
    const e = await failure(new RegistryClient().resolve(`${upstream.host}/test/busybox:v1`));
    expect(e).toBeInstanceOf(RegistryUnavailableError);
    expect(e.message).toContain(upstream.host);
    expect(e.message).toMatch(/certificate|UNABLE_TO_VERIFY/i);
    expect((e as RegistryError).status).toBe(0);
  });

  test("the CA as PEM text (not base64) is accepted too", async () => {
    const client = new RegistryClient({ config: { [upstream.host]: { tls: { ca: pki.caCert } } } });
    expect((await client.resolve(`${upstream.host}/test/busybox:v1`)).manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
  });

  test("insecureSkipVerify accepts the unknown certificate", async () => {
    const client = new RegistryClient({ config: { [upstream.host]: { tls: { insecureSkipVerify: true } } } });
    const image = await client.resolve(`${upstream.host}/test/busybox:v1`);
    expect((await drain(client, image)).bytes.byteLength).toBe(imgs.layer.size);
  });
});

describe("mutual TLS (clientIdentity)", () => {
  test("refused without a client certificate, served with one (base64 PEM as Talos stores it)", async () => {
    const small = imageFor("amd64", [blob("application/vnd.oci.image.layer.v1.tar", new TextEncoder().encode("mtls"))]);
    // The pusher needs the client certificate too.
    for (const b of [small.layers[0]!, small.config]) {
      const start = await fetch(`${mtls.url}/v2/test/mtls/blobs/uploads/`, {
        method: "POST",
        tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
      });
      expect(start.status).toBe(202);
      const loc = new URL(start.headers.get("location")!, mtls.url);
      loc.searchParams.set("digest", b.digest);
      const put = await fetch(loc, { method: "PUT", body: b.bytes, tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } });
      expect(put.status).toBe(201);
    }
    const put = await fetch(`${mtls.url}/v2/test/mtls/manifests/v1`, {
      method: "PUT",
      headers: { "Content-Type": small.manifest.mediaType },
      body: small.manifest.bytes,
      tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
    });
    expect(put.status).toBe(201);

    const ref = `${mtls.host}/test/mtls:v1`;
    const e = (await failure(new RegistryClient(caConfig(mtls.host)).resolve(ref))) as RegistryError;
    expect(e.status).toBe(0);
    expect(e.message).toContain(mtls.host);
    console.log(`without a client certificate: ${e.message}`);
    const client = new RegistryClient({
      config: { [mtls.host]: { tls: { ca: b64(pki.caCert), clientIdentity: { crt: b64(pki.clientCert), key: b64(pki.clientKey) } } } },
    });
    const image = await client.resolve(ref);
    expect(image.manifestDescriptor.digest).toBe(small.manifest.digest);
    expect((await drain(client, image)).bytes.byteLength).toBe(4);
  });
});

describe("basic auth (htpasswd)", () => {
  const ref = () => `${basic.host}/test/busybox:v1`;
  test("without credentials: 401 with host and the registry's UNAUTHORIZED code", async () => {
    const e = (await failure(new RegistryClient(caConfig(basic.host)).resolve(ref()))) as RegistryError;
    expect(e.status).toBe(401);
    expect(e.code).toBe("UNAUTHORIZED");
    expect(e.message).toContain(basic.host);
    expect(e.message).toContain("401");
    expect(e.message).toContain("basic auth");
  });

  test("wrong password: 401", async () => {
    const cfg: RegistriesConfig = { config: { [basic.host]: { tls: { ca: b64(pki.caCert) }, auth: { username: USER.username, password: "wrong" } } } };
    const e = (await failure(new RegistryClient(cfg).resolve(ref()))) as RegistryError;
    expect(e.status).toBe(401);
  });

  test("username/password, and the base64 `auth` form, both pull and stream the layer", async () => {
    for (const auth of [USER, { auth: b64(`${USER.username}:${USER.password}`) }]) {
      const client = new RegistryClient({ config: { [basic.host]: { tls: { ca: b64(pki.caCert) }, auth } } });
      const image = await client.resolve(ref());
      expect(image.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
      expect((await drain(client, image)).bytes.byteLength).toBe(imgs.layer.size);
    }
  });
});

describe("mirrors", () => {
  const cfg = (endpoints: string[]): RegistriesConfig => ({ mirrors: { [upstream.host]: { endpoints } }, ...caConfig(upstream.host) });

  test("the mirror is asked first and serves when it has the image", async () => {
    const client = new RegistryClient(cfg([mirror.url]));
    const image = await client.resolve(`${upstream.host}/test/busybox:v1`);
    expect(image.servedBy).toBe(mirror.host);
    expect(image.manifestDescriptor.digest).toBe(mirrorOnly.manifest.digest);
    expect(image.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar");
    expect(layerCompression(image.layers[0]!.mediaType)).toBe("none");
    expect((await drain(client, image)).bytes.byteLength).toBe(mirrorOnly.layers[0]!.size);
  });

  test("falls back to the upstream when the mirror lacks the image", async () => {
    const client = new RegistryClient(cfg([mirror.url]));
    const e = await failure(client.resolve(`${upstream.host}/test/noamd64:v1`)); // on upstream only; proves it got there
    expect(e).toBeInstanceOf(PlatformNotFoundError);
    const image = await client.resolve(
      `${upstream.host}/test/busybox@${
        indexOf([
          { image: imgs.amd64, os: "linux", architecture: "amd64" },
          { image: imgs.arm64, os: "linux", architecture: "arm64" },
        ]).digest
      }`,
    );
    expect(image.servedBy).toBe(upstream.host);
    expect(image.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
  });

  test("falls back to the upstream when the mirror is down, and says so if everything fails", async () => {
    const dead = `http://127.0.0.1:${freePort()}`;
    const client = new RegistryClient(cfg([dead, mirror.url]));
    const image = await client.resolve(`${upstream.host}/test/busybox:v1`);
    expect(image.servedBy).toBe(mirror.host); // second mirror, after the dead one
    const client2 = new RegistryClient(cfg([dead]));
    const up = await client2.resolve(`${upstream.host}/test/busybox:v1`);
    expect(up.servedBy).toBe(upstream.host);
    expect((await drain(client2, up)).bytes.byteLength).toBe(imgs.layer.size);

    const e = (await failure(
      new RegistryClient({ mirrors: { [upstream.host]: { endpoints: [dead], skipFallback: true } } }).resolve(`${upstream.host}/test/busybox:v1`),
    )) as RegistryUnavailableError;
    expect(e.attempts).toHaveLength(1);
    expect(e.message).toContain(new URL(dead).host);
    expect(e.message).toContain("cannot connect");
  });
});

describe("errors", () => {
  test("an index without linux/amd64 names the platforms it has", async () => {
    const e = await failure(new RegistryClient(caConfig(upstream.host)).resolve(`${upstream.host}/test/noamd64:v1`));
    expect(e).toBeInstanceOf(PlatformNotFoundError);
    expect(e.message).toContain("linux/amd64");
    expect(e.message).toContain("linux/arm64");
    expect(e.message).toContain("linux/arm/v7");
    expect(e.message).toContain(`${upstream.host}/test/noamd64:v1`);
  });

  test("an unknown tag: 404 with the registry's MANIFEST_UNKNOWN", async () => {
    const e = (await failure(new RegistryClient(caConfig(upstream.host)).resolve(`${upstream.host}/test/busybox:nope`))) as RegistryError;
    expect(e.status).toBe(404);
    expect(e.code).toBe("MANIFEST_UNKNOWN");
    expect(e.message).toContain(upstream.host);
    expect(e.message).toContain("/v2/test/busybox/manifests/nope");
  });

  test("an unknown blob: 404 BLOB_UNKNOWN", async () => {
    const client = new RegistryClient(caConfig(upstream.host));
    const image = await client.resolve(`${upstream.host}/test/busybox:v1`);
    const missing = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${"0".repeat(64)}`, size: 10 };
    const e = (await failure(
      (async () => {
        for await (const _ of client.fetchBlob(image, missing)) void _;
      })(),
    )) as RegistryError;
    expect(e.status).toBe(404);
    expect(e.code).toBe("BLOB_UNKNOWN");
  });

  test("5xx: status and the body's code in one message", async () => {
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Response.json({ errors: [{ code: "UNAVAILABLE", message: "storage backend down" }] }, { status: 503 }),
    });
    servers.push(srv);
    const host = `127.0.0.1:${srv.port}`;
    const e = (await failure(
      new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } }).resolve(`${host}/x/y:1`),
    )) as RegistryError;
    expect(e.status).toBe(503);
    expect(e.code).toBe("UNAVAILABLE");
    expect(e.message).toMatch(new RegExp(`registry ${host}: GET /v2/x/y/manifests/1: 503.*UNAVAILABLE: storage backend down`));
  });
});

describe("digest mismatch (a loopback server serving wrong bytes)", () => {
  // Serves the real amd64 manifest, but the layer's bytes with one byte flipped (or extra bytes).
  function badServer(mode: "flip" | "long"): string {
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const p = new URL(req.url).pathname;
        if (p.includes("/manifests/")) return new Response(imgs.amd64.manifest.bytes, { headers: { "Content-Type": imgs.amd64.manifest.mediaType } });
        if (p.endsWith(`/blobs/${imgs.layer.digest}`)) {
          const b = new Uint8Array(imgs.layer.bytes);
          if (mode === "flip") b[b.length - 1]! ^= 0xff;
          return new Response(mode === "long" ? Buffer.concat([b, new Uint8Array(100)]) : b);
        }
        return new Response("not found", { status: 404 });
      },
    });
    servers.push(srv);
    return `127.0.0.1:${srv.port}`;
  }

  test("wrong bytes: every chunk is delivered, then DigestMismatchError — never a clean end", async () => {
    const host = badServer("flip");
    const client = new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } });
    const image = await client.resolve(`${host}/test/busybox:v1`);
    let got = 0;
    let completed = false;
    const e = await failure(
      (async () => {
        for await (const c of client.fetchBlob(image, image.layers[0]!)) got += c.byteLength;
        completed = true;
      })(),
    );
    expect(completed).toBe(false);
    expect(e).toBeInstanceOf(DigestMismatchError);
    expect(got).toBe(imgs.layer.size); // the error came after the end of the stream
    expect(e.message).toContain(imgs.layer.digest);
    expect(e.message).toContain(host);
  });

  test("more bytes than the descriptor says: DigestMismatchError", async () => {
    const host = badServer("long");
    const client = new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } });
    const image = await client.resolve(`${host}/test/busybox:v1`);
    const e = await failure(
      (async () => {
        for await (const _ of client.fetchBlob(image, image.layers[0]!)) void _;
      })(),
    );
    expect(e).toBeInstanceOf(DigestMismatchError);
    expect(e.message).toContain(`${imgs.layer.size} bytes`);
  });

  test("a manifest that does not hash to the digest asked for is refused", async () => {
    const host = badServer("flip");
    const e = (await failure(
      new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } }).resolve(
        `${host}/test/busybox@sha256:${"1".repeat(64)}`,
      ),
    )) as RegistryUnavailableError;
    expect(e).toBeInstanceOf(RegistryUnavailableError);
    expect(e.code).toBe("DIGEST_INVALID");
  });
});

describe("redirects", () => {
  test("a blob redirect to another host is followed without our Authorization header", async () => {
    const seen: { auth: string | null }[] = [];
    const storage = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        seen.push({ auth: req.headers.get("authorization") });
        return new Response(imgs.layer.bytes);
      },
    });
    servers.push(storage);
    const creds = { username: "u", password: "p" };
    const expected = `Basic ${b64("u:p")}`;
    const front = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        if (req.headers.get("authorization") !== expected) {
          return Response.json(
            { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
            { status: 401, headers: { "WWW-Authenticate": 'Basic realm="fake"' } },
          );
        }
        const p = new URL(req.url).pathname;
        if (p.includes("/manifests/")) return new Response(imgs.amd64.manifest.bytes, { headers: { "Content-Type": imgs.amd64.manifest.mediaType } });
        // localhost vs 127.0.0.1: a different origin, as blob storage would be.
        return new Response(null, { status: 307, headers: { Location: `http://localhost:${storage.port}/blob?sig=1` } });
      },
    });
    servers.push(front);
    const host = `127.0.0.1:${front.port}`;
    const client = new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } }, config: { [host]: { auth: creds } } });
    const image = await client.resolve(`${host}/test/busybox:v1`);
    let n = 0;
    for await (const c of client.fetchBlob(image, image.layers[0]!)) n += c.byteLength;
    expect(n).toBe(imgs.layer.size);
    expect(seen).toEqual([{ auth: null }]);
  });
});

describe("head and stalls", () => {
  test("head() gives the index descriptor without the body; 404 names the path and status", async () => {
    const client = new RegistryClient(caConfig(upstream.host));
    const full = await client.resolve(`${upstream.host}/test/busybox:v1`);
    const d = await client.head(`${upstream.host}/test/busybox:v1`);
    expect(d).toEqual({ ...full.target, servedBy: upstream.host });
    const e = (await failure(client.head(`${upstream.host}/test/busybox:nope`))) as RegistryError;
    expect(e.status).toBe(404);
    expect(e.message).toContain("HEAD /v2/test/busybox/manifests/nope: 404");
  });

  test("a blob body that stalls is abandoned after the idle timeout, with bytes received so far", async () => {
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const p = new URL(req.url).pathname;
        if (p.includes("/manifests/")) return new Response(imgs.amd64.manifest.bytes, { headers: { "Content-Type": imgs.amd64.manifest.mediaType } });
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(imgs.layer.bytes.subarray(0, 1000)); // then nothing, forever
          },
        });
        return new Response(body, { headers: { "Content-Length": String(imgs.layer.size) } });
      },
    });
    servers.push(srv);
    const host = `127.0.0.1:${srv.port}`;
    const client = new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } });
    const image = await client.resolve(`${host}/test/busybox:v1`);
    const t0 = Date.now();
    const e = (await failure(
      (async () => {
        for await (const _ of client.fetchBlob(image, image.layers[0]!, { idleTimeoutMs: 300 })) void _;
      })(),
    )) as RegistryError;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.message).toContain("after 1000 of");
    expect(e.message).toContain("no data for 0.3 s");
  });
});
