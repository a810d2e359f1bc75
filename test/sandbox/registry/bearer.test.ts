// Bearer-token auth against a real Distribution 2.8 registry configured with
// `auth.token`, and a token server of our own (test/fixtures/registry/
// token-server.ts) that signs RS256 JWTs. The registry answers 401 with a
// `Bearer realm=…,service=…,scope=…` challenge; the client must fetch a token
// (with basic credentials, or an identity token) and retry.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { RegistryClient } from "../../../src/registry/client.ts";
import type { RegistriesConfig } from "../../../src/registry/config.ts";
import type { RegistryError } from "../../../src/registry/errors.ts";
import { busyboxImages, pushIndex } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { makeSigningCert } from "../../fixtures/registry/test-ca.ts";
import { startTokenServer, type TokenServer } from "../../fixtures/registry/token-server.ts";

const USER = { username: "tok-user", password: `tok-pw-${process.pid}` };
const REFRESH = `refresh-${process.pid}`;
let tokens: TokenServer;
let reg: RunningRegistry;
let imgs: ReturnType<typeof busyboxImages>;

beforeAll(async () => {
  const signing = makeSigningCert();
  tokens = startTokenServer({ ...signing, user: USER, refreshToken: REFRESH });
  reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: signing.cert } });
  imgs = busyboxImages();
  const bearer = tokens.mint(["repository:test/busybox:pull,push"]);
  await pushIndex({ url: reg.url, bearer }, "test/busybox", "v1", [
    { image: imgs.amd64, os: "linux", architecture: "amd64" },
    { image: imgs.arm64, os: "linux", architecture: "arm64" },
  ]);
}, 60_000);

afterAll(async () => {
  tokens?.stop();
  await reg?.stop();
});

// The registry's own name is https://127.0.0.1:PORT; reach it as a plain-HTTP mirror.
const cfg = (auth?: RegistriesConfig["config"]): RegistriesConfig => ({
  mirrors: { [reg.host]: { endpoints: [reg.url], skipFallback: true } },
  ...(auth ? { config: auth } : {}),
});

test("the registry really demands a token: a plain GET is 401 with a Bearer challenge", async () => {
  const r = await fetch(`${reg.url}/v2/test/busybox/manifests/v1`);
  expect(r.status).toBe(401);
  expect(r.headers.get("www-authenticate")).toContain(`Bearer realm="${tokens.realm}"`);
});

test("basic credentials go to the token server; the token pulls manifest and layer", async () => {
  tokens.requests.length = 0;
  const client = new RegistryClient(cfg({ [reg.host]: { auth: USER } }));
  const image = await client.resolve(`${reg.host}/test/busybox:v1`);
  expect(image.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
  let n = 0;
  for await (const c of client.fetchBlob(image, image.layers[0]!)) n += c.byteLength;
  expect(n).toBe(imgs.layer.size);
  expect(tokens.requests.length).toBeGreaterThanOrEqual(1);
  expect(tokens.requests[0]).toEqual({ method: "GET", scope: "repository:test/busybox:pull", user: USER.username });
  // One token serves the whole pull (index, manifest, blob): it is cached per scope.
  expect(tokens.requests.length).toBe(1);
});

test("an identity token is exchanged with the refresh_token grant", async () => {
  tokens.requests.length = 0;
  const client = new RegistryClient(cfg({ [reg.host]: { auth: { identityToken: REFRESH } } }));
  const image = await client.resolve(`${reg.host}/test/busybox:v1`);
  expect(image.manifestDescriptor.digest).toBe(imgs.amd64.manifest.digest);
  expect(tokens.requests).toEqual([{ method: "POST", scope: "repository:test/busybox:pull", refreshToken: REFRESH }]);
});

test("without credentials the token server refuses: 401 naming the registry and the token server", async () => {
  let err: RegistryError | undefined;
  try {
    await new RegistryClient(cfg()).resolve(`${reg.host}/test/busybox:v1`);
  } catch (e) {
    err = e as RegistryError;
  }
  expect(err).toBeDefined();
  expect(err!.status).toBe(401);
  expect(err!.message).toContain(reg.host);
  expect(err!.message).toContain("token server");
  expect(err!.message).toContain("bad credentials");
});
