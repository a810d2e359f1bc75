// The committed src/api/gen/* must be exactly what scripts/gen-proto.ts makes
// from src/api/proto, and the descriptor set must describe Talos's wire shape.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import descriptor from "protobufjs/ext/descriptor";
import { generate } from "../../../scripts/gen-proto.ts";
import { FILE_DESCRIPTOR_SET, REFLECTION } from "../../../src/api/gen/reflection.ts";

type Json = Record<string, any>;

describe("gen-proto", () => {
  test("regenerating gives the committed files byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-gen-"));
    try {
      for (const f of generate(dir)) {
        const name = f.slice(dir.length + 1);
        expect(readFileSync(f, "utf8")).toBe(readFileSync(join("src/api/gen", name), "utf8"));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const set = descriptor.FileDescriptorSet.toObject(descriptor.FileDescriptorSet.decode(Buffer.from(FILE_DESCRIPTOR_SET, "base64"))) as Json;
  const file = (name: string): Json => set.file.find((f: Json) => f.name === name);
  const message = (f: string, name: string): Json => file(f).messageType.find((m: Json) => m.name === name);
  const field = (m: Json, name: string): Json => m.field.find((x: Json) => x.name === name);

  test("files carry Talos's packages and their imports", () => {
    expect(file("machine/machine.proto").package).toBe("machine");
    expect(file("common/common.proto").package).toBe("common");
    expect(file("machine/machine.proto").dependency).toContain("common/common.proto");
    expect(file("machine/machine.proto").service[0].name).toBe("MachineService");
  });

  test("spot checks of Talos field numbers and types", () => {
    const apply = message("machine/machine.proto", "ApplyConfigurationRequest");
    expect(field(apply, "mode")).toMatchObject({ number: 4, type: 14, typeName: ".machine.ApplyConfigurationRequest.Mode" });
    expect(field(apply, "try_mode_timeout")).toMatchObject({ number: 6, typeName: ".google.protobuf.Duration" });
    const logs = message("machine/machine.proto", "LogsRequest");
    expect(field(logs, "tail_lines")).toMatchObject({ number: 5, type: 5 }); // int32
    const fi = message("machine/machine.proto", "FileInfo");
    expect(field(fi, "relative_name").number).toBe(9);
    expect(field(fi, "modified")).toMatchObject({ number: 5, type: 3 }); // int64
    const meta = message("common/common.proto", "Metadata");
    expect(field(meta, "status")).toMatchObject({ number: 3, typeName: ".google.rpc.Status" });
    const ev = message("machine/machine.proto", "Event");
    expect(field(ev, "data")).toMatchObject({ number: 2, typeName: ".google.protobuf.Any" });
    // minos additions keep clear of Talos's numbers (1001 up), so Talos clients skip them.
    expect(field(ev, "ts")).toMatchObject({ number: 1001, typeName: ".google.protobuf.Timestamp" });
    expect(field(message("machine/machine.proto", "VersionInfo"), "kernel")).toMatchObject({ number: 1001, type: 9 }); // string
    const mem = message("machine/machine.proto", "MemInfo");
    expect(field(mem, "directmap1g").number).toBe(48);
  });

  test("the reflection index resolves services and messages to files", () => {
    expect(REFLECTION.services).toContain("machine.MachineService");
    expect(REFLECTION.services).toContain("grpc.health.v1.Health");
    expect(REFLECTION.symbols["machine.MachineService.Logs"]).toBe("machine/machine.proto");
    expect(REFLECTION.symbols["machine.ApplyConfigurationRequest.Mode"]).toBe("machine/machine.proto");
    expect(REFLECTION.files["machine/machine.proto"]!.deps).toContain("google/protobuf/timestamp.proto");
  });
});
