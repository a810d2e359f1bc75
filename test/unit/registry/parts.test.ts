// The pure pieces of the registry client: challenge parsing, endpoint lists
// from machine.registries, manifest parsing and platform choice, registry
// error bodies, and stream verification.

import { describe, expect, test } from "bun:test";
import { parseChallenges } from "../../../src/registry/auth.ts";
import { basicCredentials, endpointsFor, fetchTLS, pemText } from "../../../src/registry/config.ts";
import { DigestMismatchError, ManifestError, registryErrorText } from "../../../src/registry/errors.ts";
import { layerCompression, MediaType, parseManifest, pickPlatform, type Descriptor } from "../../../src/registry/manifest.ts";
import { sha256Digest, Verifier } from "../../../src/registry/verify.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe("WWW-Authenticate", () => {
  test("Docker Hub's bearer challenge", () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" } },
    ]);
  });
  test("basic, unquoted values, escapes, and two challenges in one header", () => {
    expect(parseChallenges('Basic realm="a \\"q\\" b", Bearer realm=https://x/t, error="insufficient_scope"')).toEqual([
      { scheme: "basic", params: { realm: 'a "q" b' } },
      { scheme: "bearer", params: { realm: "https://x/t", error: "insufficient_scope" } },
    ]);
  });
  test("a token68 challenge and junk do not break parsing", () => {
    expect(parseChallenges("Negotiate abc==, Basic realm=r")).toEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: { realm: "r" } },
    ]);
    expect(parseChallenges("")).toEqual([]);
  });
});

describe("endpoints from machine.registries", () => {
  test("no mirror: the registry itself over HTTPS; docker.io means registry-1.docker.io", () => {
    expect(endpointsFor("docker.io").map((e) => e.api)).toEqual(["https://registry-1.docker.io/v2"]);
    expect(endpointsFor("host:5000").map((e) => [e.api, e.host, e.mirror])).toEqual([["https://host:5000/v2", "host:5000", false]]);
  });
  test("mirrors in order, http:// stays plain, then the fallback; config is found by endpoint host", () => {
    const eps = endpointsFor("docker.io", {
      mirrors: { "docker.io": { endpoints: ["http://127.0.0.1:5001", "https://mirror.example/v2/", "mirror2:6000"] } },
      config: { "127.0.0.1:5001": { auth: { username: "u" } }, "docker.io": { tls: { insecureSkipVerify: true } } },
    });
    expect(eps.map((e) => e.api)).toEqual([
      "http://127.0.0.1:5001/v2",
      "https://mirror.example/v2",
      "https://mirror2:6000/v2",
      "https://registry-1.docker.io/v2",
    ]);
    expect(eps.map((e) => e.mirror)).toEqual([true, true, true, false]);
    expect(eps[0]!.settings.auth?.username).toBe("u");
    // The upstream of docker.io finds config under the name "docker.io" too.
    expect(eps[3]!.settings.tls?.insecureSkipVerify).toBe(true);
  });
  test("skipFallback, overridePath, and the '*' wildcard", () => {
    expect(
      endpointsFor("r.io", { mirrors: { "r.io": { endpoints: ["https://m/path/v1"], overridePath: true, skipFallback: true } } }).map((e) => e.api),
    ).toEqual(["https://m/path/v1"]);
    expect(endpointsFor("any.io", { mirrors: { "*": { endpoints: ["http://cache:80"] } } }).map((e) => e.api)).toEqual([
      "http://cache/v2",
      "https://any.io/v2",
    ]);
  });
  test("only http and https endpoints", () => {
    expect(() => endpointsFor("r.io", { mirrors: { "r.io": { endpoints: ["ftp://m"] } } })).toThrow(/only http/);
  });
  test("credentials: username/password, or the base64 auth form", () => {
    expect(basicCredentials({ username: "a", password: "b" })).toEqual({ username: "a", password: "b" });
    expect(basicCredentials({ auth: Buffer.from("x:y:z").toString("base64") })).toEqual({ username: "x", password: "y:z" });
    expect(basicCredentials({ identityToken: "t" })).toBeUndefined();
    expect(basicCredentials(undefined)).toBeUndefined();
  });
  test("TLS: base64 PEM (Talos v1alpha1) and PEM both give PEM; nothing for plain HTTP", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    expect(pemText(Buffer.from(pem).toString("base64"))).toBe(pem);
    expect(pemText(pem)).toBe(pem);
    const [https] = endpointsFor("h:1", {
      config: { "h:1": { tls: { ca: Buffer.from(pem).toString("base64"), insecureSkipVerify: true, clientIdentity: { crt: pem, key: pem } } } },
    });
    expect(fetchTLS(https!)).toEqual({ ca: pem, cert: pem, key: pem, rejectUnauthorized: false });
    const [plain] = endpointsFor("h:1", { mirrors: { "h:1": { endpoints: ["http://h:1"] } }, config: { "h:1": { tls: { insecureSkipVerify: true } } } });
    expect(fetchTLS(plain!)).toBeUndefined();
  });
});

describe("manifests", () => {
  const desc = (mediaType: string, c: string, extra: Partial<Descriptor> = {}) => ({ mediaType, digest: D(c), size: 10, ...extra });
  test("an OCI index with platforms", () => {
    const m = parseManifest(
      enc({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [desc(MediaType.OciManifest, "a", { platform: { os: "linux", architecture: "amd64" } })],
      }),
      null,
      "t",
    );
    expect(m).toEqual({
      kind: "index",
      mediaType: MediaType.OciIndex,
      manifests: [desc(MediaType.OciManifest, "a", { platform: { os: "linux", architecture: "amd64" } })],
    });
  });
  test("a Docker schema 2 manifest", () => {
    const m = parseManifest(
      enc({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: desc(MediaType.DockerConfig, "c"), layers: [desc(MediaType.DockerLayerGzip, "e")] }),
      MediaType.DockerManifest,
      "t",
    );
    expect(m.kind).toBe("image");
    if (m.kind === "image") expect(m.layers[0]!.digest).toBe(D("e"));
  });
  test("an OCI manifest without mediaType takes the Content-Type, else its shape", () => {
    const body = enc({ schemaVersion: 2, manifests: [] });
    expect(parseManifest(body, `${MediaType.DockerList}; charset=utf-8`, "t").mediaType).toBe(MediaType.DockerList);
    expect(parseManifest(body, "application/json", "t").mediaType).toBe(MediaType.OciIndex);
  });
  test("refuses schema 1, unknown media types, bad descriptors, non-JSON", () => {
    expect(() => parseManifest(enc({ schemaVersion: 1 }), null, "img")).toThrow(/img: schemaVersion 1/);
    expect(() => parseManifest(enc({ schemaVersion: 2, mediaType: "application/x" }), null, "img")).toThrow(ManifestError);
    expect(() =>
      parseManifest(
        enc({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: "x", digest: "sha256:zz", size: 1 }, layers: [] }),
        null,
        "img",
      ),
    ).toThrow(/config: digest/);
    expect(() =>
      parseManifest(
        enc({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc("x", "c"), layers: [{ ...desc("x", "e"), size: -1 }] }),
        null,
        "img",
      ),
    ).toThrow(/layers\[0\]: size/);
    expect(() => parseManifest(new TextEncoder().encode("{"), null, "img")).toThrow(/not JSON/);
  });
  test("platform choice: exact variant, else no variant; attestations never match", () => {
    const p = (c: string, platform: Descriptor["platform"]) => desc(MediaType.OciManifest, c, { platform });
    const list = [
      p("0", { os: "unknown", architecture: "unknown" }),
      p("1", { os: "linux", architecture: "arm64", variant: "v8" }),
      p("2", { os: "linux", architecture: "amd64", variant: "v3" }),
      p("3", { os: "linux", architecture: "amd64" }),
    ];
    expect(pickPlatform(list, { os: "linux", architecture: "amd64" })?.digest).toBe(D("3"));
    expect(pickPlatform(list, { os: "linux", architecture: "amd64", variant: "v3" })?.digest).toBe(D("2"));
    expect(pickPlatform(list, { os: "linux", architecture: "riscv64" })).toBeUndefined();
    expect(pickPlatform([p("2", { os: "linux", architecture: "amd64", variant: "v2" })], { os: "linux", architecture: "amd64" })?.digest).toBe(D("2"));
  });
  test("layer compression from the media type", () => {
    expect(layerCompression(MediaType.OciLayerGzip)).toBe("gzip");
    expect(layerCompression(MediaType.DockerLayerGzip)).toBe("gzip");
    expect(layerCompression(MediaType.OciLayerZstd)).toBe("zstd");
    expect(layerCompression(MediaType.OciLayer)).toBe("none");
    expect(layerCompression("application/x-unknown")).toBeUndefined();
  });
});

describe("registry error bodies", () => {
  test("code and message from the spec's JSON shape", () => {
    expect(
      registryErrorText(
        JSON.stringify({
          errors: [
            { code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: {} },
            { code: "X", message: "y" },
          ],
        }),
      ),
    ).toEqual({ code: "MANIFEST_UNKNOWN", text: "MANIFEST_UNKNOWN: manifest unknown; X: y" });
  });
  test("anything else: the start of the text", () => {
    expect(registryErrorText("<html>\n bad gateway </html>")).toEqual({ text: "<html> bad gateway </html>" });
    expect(registryErrorText("")).toEqual({ text: "" });
  });
});

describe("Verifier", () => {
  const data = new TextEncoder().encode("hello world");
  const good = { digest: sha256Digest(data), size: data.byteLength };
  test("accepts the right bytes in any chunking", () => {
    const v = new Verifier("h", good);
    v.update(data.subarray(0, 3));
    v.update(data.subarray(3));
    expect(() => v.finish()).not.toThrow();
  });
  test("wrong bytes of the right size fail at finish, naming the digest they hash to", () => {
    const v = new Verifier("h", good);
    v.update(new TextEncoder().encode("hello World"));
    expect(() => v.finish()).toThrow(DigestMismatchError);
    try {
      v.finish();
    } catch (e) {
      expect((e as Error).message).toContain(sha256Digest(new TextEncoder().encode("hello World")));
    }
  });
  test("too few bytes fail at finish; too many fail at once", () => {
    const short = new Verifier("h", good);
    short.update(data.subarray(0, 5));
    expect(() => short.finish()).toThrow(/got 5 bytes, descriptor says 11/);
    const long = new Verifier("h", good);
    long.update(data);
    expect(() => long.update(new Uint8Array(1))).toThrow(/more than the 11 bytes/);
  });
  test("sha512 digests are verified too; unknown algorithms refused", () => {
    const d512 = `sha512:${new Bun.CryptoHasher("sha512").update(data).digest("hex")}`;
    const v = new Verifier("h", { digest: d512, size: data.byteLength });
    v.update(data);
    expect(() => v.finish()).not.toThrow();
    expect(() => new Verifier("h", { digest: "md5:00", size: 1 })).toThrow(/not supported/);
  });
});
