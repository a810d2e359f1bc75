// src/api/proto/time/time.proto is wire-compatible with Talos's time.TimeService:
// the package, service, methods, and every field's number and type.
import { expect, test } from "bun:test";
import { join } from "node:path";
import protobuf from "protobufjs";

test("time.proto parses and matches Talos's time.TimeService field for field", () => {
  const root = new protobuf.Root();
  const protoDir = join(import.meta.dir, "../../../src/api/proto");
  root.resolvePath = (_origin, target) => join(protoDir, target);
  root.loadSync("time/time.proto");
  root.resolveAll();

  const svc = root.lookupService("time.TimeService");
  expect(Object.fromEntries(Object.values(svc.methods).map((m) => [m.name, [m.requestType, m.responseType]]))).toEqual({
    Time: ["google.protobuf.Empty", "TimeResponse"],
    TimeCheck: ["TimeRequest", "TimeResponse"],
  });
  const fields = (name: string) => Object.fromEntries(Object.values(root.lookupType(name).fields).map((f) => [f.name, [f.id, f.type, f.repeated]]));
  expect(fields("time.TimeRequest")).toEqual({ server: [1, "string", false] });
  expect(fields("time.Time")).toEqual({
    metadata: [1, "common.Metadata", false],
    server: [2, "string", false],
    localtime: [3, "google.protobuf.Timestamp", false],
    remotetime: [4, "google.protobuf.Timestamp", false],
  });
  expect(fields("time.TimeResponse")).toEqual({ messages: [1, "Time", true] });
});
