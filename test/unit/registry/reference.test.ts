import { describe, expect, test } from "bun:test";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";
import { InvalidReferenceError, manifestReference, parseReference } from "../../../src/registry/reference.ts";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference normalises like Docker/containerd", () => {
  const cases: [string, { domain: string; path: string; tag?: string; digest?: string; canonical: string }][] = [
    ["busybox", { domain: "docker.io", path: "library/busybox", tag: "latest", canonical: "docker.io/library/busybox:latest" }],
    ["busybox:1.36", { domain: "docker.io", path: "library/busybox", tag: "1.36", canonical: "docker.io/library/busybox:1.36" }],
    ["library/busybox", { domain: "docker.io", path: "library/busybox", tag: "latest", canonical: "docker.io/library/busybox:latest" }],
    ["bitnami/etcd:3.5", { domain: "docker.io", path: "bitnami/etcd", tag: "3.5", canonical: "docker.io/bitnami/etcd:3.5" }],
    ["docker.io/busybox", { domain: "docker.io", path: "library/busybox", tag: "latest", canonical: "docker.io/library/busybox:latest" }],
    ["index.docker.io/library/busybox", { domain: "docker.io", path: "library/busybox", tag: "latest", canonical: "docker.io/library/busybox:latest" }],
    ["ghcr.io/siderolabs/kubelet:v1.31.0", { domain: "ghcr.io", path: "siderolabs/kubelet", tag: "v1.31.0", canonical: "ghcr.io/siderolabs/kubelet:v1.31.0" }],
    ["host:5000/a/b:tag", { domain: "host:5000", path: "a/b", tag: "tag", canonical: "host:5000/a/b:tag" }],
    ["host:5000/a/b", { domain: "host:5000", path: "a/b", tag: "latest", canonical: "host:5000/a/b:latest" }],
    ["localhost/x", { domain: "localhost", path: "x", tag: "latest", canonical: "localhost/x:latest" }],
    ["127.0.0.1:5001/a_b/c-d.e__f", { domain: "127.0.0.1:5001", path: "a_b/c-d.e__f", tag: "latest", canonical: "127.0.0.1:5001/a_b/c-d.e__f:latest" }],
    ["[::1]:5000/img", { domain: "[::1]:5000", path: "img", tag: "latest", canonical: "[::1]:5000/img:latest" }],
    [`busybox@${D}`, { domain: "docker.io", path: "library/busybox", digest: D, canonical: `docker.io/library/busybox@${D}` }],
    [`registry.k8s.io/pause:3.10@${D}`, { domain: "registry.k8s.io", path: "pause", tag: "3.10", digest: D, canonical: `registry.k8s.io/pause:3.10@${D}` }],
    ["Host.Example:443/x:Tag_1", { domain: "Host.Example:443", path: "x", tag: "Tag_1", canonical: "Host.Example:443/x:Tag_1" }],
  ];
  for (const [ref, want] of cases) {
    test(ref, () => {
      const got = parseReference(ref);
      expect({ ...got }).toEqual(want);
    });
  }

  test("a digest wins over a tag for what is fetched", () => {
    expect(manifestReference(parseReference(`a/b:t@${D}`))).toBe(D);
    expect(manifestReference(parseReference("a/b:t"))).toBe("t");
    expect(manifestReference(parseReference("a/b"))).toBe("latest");
  });
});

describe("invalid references name the reference and what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    [" busybox", /whitespace/],
    ["BusyBox", /must be lowercase/],
    ["docker.io/Library/busybox", /must be lowercase/],
    ["busybox:", /tag "" is not valid/],
    ["busybox:-x", /tag "-x" is not valid/],
    [`busybox:${"t".repeat(129)}`, /tag .* is not valid/],
    ["busybox@sha256:abc", /digest "sha256:abc" is not of the form/],
    [`busybox@sha256:${"A".repeat(64)}`, /64 lowercase hex/],
    [`busybox@md5:${"a".repeat(32)}`, /algorithm "md5" is not supported/],
    ["a//b", /empty path component/],
    ["a/b/", /empty path component/],
    ["host:5000/", /no repository name/],
    ["host:99999/x", /port "99999"/],
    ["-bad.host:5000/x", /not a valid host name/],
    ["a/b_/c", /path component "b_"/],
    ["a/-b", /path component "-b"/],
    [":tag", /no repository name/],
    [`x/${"a".repeat(260)}`, /at most 255/],
  ];
  for (const [ref, why] of bad) {
    test(JSON.stringify(ref), () => {
      let err: unknown;
      try {
        parseReference(ref);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidReferenceError);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      const e = err as InvalidReferenceError;
      expect(e.message.startsWith(`invalid image reference "${ref}": `)).toBe(true);
      expect(e.message).toMatch(why);
      expect(e.reference).toBe(ref);
    });
  }
});
