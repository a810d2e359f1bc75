// Our containerd .proto files must put every field where containerd 1.6/1.7
// expects it: the bytes protobufjs makes from them are compared with bytes
// built by hand from the public field numbers, and the committed gen/ must
// be what scripts/gen-proto.ts makes from proto/.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTAINERD_PROTO_DIR, generate } from "../../../scripts/gen-proto.ts";
import { decode, encode, methodInfo, packJson, unpackJson, OCI_SPEC_TYPE_URL } from "../../../src/containerd/schema.ts";

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const num = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const bytes = (field: number, b: Uint8Array | string | number[]) => {
  const raw = typeof b === "string" ? [...Buffer.from(b)] : [...b];
  return [...tag(field, 2), ...varint(raw.length), ...raw];
};
const hex = (a: Uint8Array | number[]) => Buffer.from(a).toString("hex");

describe("containerd wire format", () => {
  test("the committed gen/ is exactly what gen-proto makes from proto/", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-ctd-gen-"));
    try {
      for (const f of generate(dir, CONTAINERD_PROTO_DIR, { reflection: false })) {
        expect(readFileSync(f, "utf8")).toBe(readFileSync(join("src/containerd/gen", f.slice(dir.length + 1)), "utf8"));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("content WriteContentRequest: action 1, ref 2, total 3, expected 4, offset 5, data 6, labels 7", () => {
    const digest = "sha256:" + "ab".repeat(32);
    const got = encode("containerd.services.content.v1.WriteContentRequest", {
      action: "COMMIT",
      ref: "r",
      total: 300,
      expected: digest,
      offset: 7,
      data: new Uint8Array([1, 2]),
      labels: { k: "v" },
    });
    const want = [
      ...num(1, 2),
      ...bytes(2, "r"),
      ...num(3, 300),
      ...bytes(4, digest),
      ...num(5, 7),
      ...bytes(6, [1, 2]),
      ...bytes(7, [...bytes(1, "k"), ...bytes(2, "v")]),
    ];
    expect(hex(got)).toBe(hex(want));
  });

  test("containers Container: id 1, runtime 4 (name 1), spec 5 (Any), snapshotter 6, snapshot_key 7", () => {
    const spec = packJson(OCI_SPEC_TYPE_URL, { ociVersion: "1.0.2" });
    const got = encode("containerd.services.containers.v1.Container", {
      id: "c",
      runtime: { name: "io.containerd.runc.v2" },
      spec,
      snapshotter: "overlayfs",
      snapshot_key: "k",
    });
    const any = [...bytes(1, OCI_SPEC_TYPE_URL), ...bytes(2, spec.value)];
    const want = [...bytes(1, "c"), ...bytes(4, bytes(1, "io.containerd.runc.v2")), ...bytes(5, any), ...bytes(6, "overlayfs"), ...bytes(7, "k")];
    expect(hex(got)).toBe(hex(want));
    expect(unpackJson(spec)).toEqual({ ociVersion: "1.0.2" });
  });

  test("tasks CreateTaskRequest: container_id 1, rootfs 3 (Mount type 1 source 2 options 4), stdin 4, stdout 5, stderr 6, terminal 7", () => {
    const got = encode("containerd.services.tasks.v1.CreateTaskRequest", {
      container_id: "c",
      rootfs: [{ type: "overlay", source: "overlay", options: ["ro"] }],
      stdin: "i",
      stdout: "o",
      stderr: "e",
      terminal: true,
    });
    const mount = [...bytes(1, "overlay"), ...bytes(2, "overlay"), ...bytes(4, "ro")];
    const want = [...bytes(1, "c"), ...bytes(3, mount), ...bytes(4, "i"), ...bytes(5, "o"), ...bytes(6, "e"), ...num(7, 1)];
    expect(hex(got)).toBe(hex(want));
    expect(hex(encode("containerd.services.tasks.v1.KillRequest", { container_id: "c", exec_id: "x", signal: 9, all: true }))).toBe(
      hex([...bytes(1, "c"), ...bytes(2, "x"), ...num(3, 9), ...num(4, 1)]),
    );
  });

  test("diff ApplyRequest (diff 1 Descriptor: media_type 1, digest 2, size 3, annotations 5; mounts 2) and snapshots CommitSnapshotRequest", () => {
    const got = encode("containerd.services.diff.v1.ApplyRequest", {
      diff: { media_type: "m", digest: "d", size: 5, annotations: { a: "b" } },
      mounts: [{ type: "bind" }],
    });
    const desc = [...bytes(1, "m"), ...bytes(2, "d"), ...num(3, 5), ...bytes(5, [...bytes(1, "a"), ...bytes(2, "b")])];
    expect(hex(got)).toBe(hex([...bytes(1, desc), ...bytes(2, bytes(1, "bind"))]));
    expect(hex(encode("containerd.services.snapshots.v1.CommitSnapshotRequest", { snapshotter: "s", name: "n", key: "k" }))).toBe(
      hex([...bytes(1, "s"), ...bytes(2, "n"), ...bytes(3, "k")]),
    );
  });

  test("images Image: name 1, target 3, created_at 7; leases AddResourceRequest: id 1, resource 2 (id 1, type 2)", () => {
    const got = encode("containerd.services.images.v1.Image", { name: "n", target: { digest: "d" }, created_at: { seconds: 1, nanos: 0 } });
    expect(hex(got)).toBe(hex([...bytes(1, "n"), ...bytes(3, bytes(2, "d")), ...bytes(7, num(1, 1))]));
    expect(hex(encode("containerd.services.leases.v1.AddResourceRequest", { id: "l", resource: { id: "x", type: "content" } }))).toBe(
      hex([...bytes(1, "l"), ...bytes(2, [...bytes(1, "x"), ...bytes(2, "content")])]),
    );
  });

  test("replies decode with defaults: WaitResponse exit_status 1, Process status 4 as a name, snapshot Info kind 3", () => {
    expect(decode("containerd.services.tasks.v1.WaitResponse", new Uint8Array(num(1, 137)))).toMatchObject({ exit_status: 137, exited_at: null });
    expect(decode("containerd.v1.types.Process", new Uint8Array([...bytes(1, "c"), ...num(3, 42), ...num(4, 2)]))).toMatchObject({
      container_id: "c",
      pid: 42,
      status: "RUNNING",
      stdout: "",
    });
    expect(decode("containerd.services.snapshots.v1.Info", new Uint8Array([...bytes(1, "n"), ...num(3, 3)]))).toMatchObject({
      name: "n",
      kind: "COMMITTED",
      labels: {},
    });
  });

  test("method paths carry containerd's package and service names", () => {
    expect(methodInfo("containerd.services.content.v1.Content", "Write").path).toBe("/containerd.services.content.v1.Content/Write");
    expect(methodInfo("containerd.services.version.v1.Version", "Version")).toEqual({
      path: "/containerd.services.version.v1.Version/Version",
      requestType: "google.protobuf.Empty",
      responseType: "containerd.services.version.v1.VersionResponse",
    });
    expect(methodInfo("containerd.services.tasks.v1.Tasks", "Wait").responseType).toBe("containerd.services.tasks.v1.WaitResponse");
    expect(methodInfo("containerd.services.events.v1.Events", "Subscribe").responseType).toBe("containerd.services.events.v1.Envelope");
  });
});
