// Issue 18 item 3: every enum a request carries is checked on arrival. For
// every method the server serves, every enum field of its request (nested and
// repeated ones too) is sent as the number 99, raw protobuf bytes over the
// node socket: each call is refused with INVALID_ARGUMENT naming the field,
// and nothing reaches the backend (no power action, no schedule, config kept).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs/light.js";
import { unknownEnum } from "../../../src/api/enums.ts";
import { decode, messageType, serviceMethods, type MethodInfo } from "../../../src/api/schema.ts";
import { SERVED_SERVICES } from "../../../src/api/server.ts";
import { startFixture, type ApiFixture } from "../../helpers/fake-backend.ts";

const OUT_OF_RANGE = 99;

/** One request per enum field reachable in `type`: [field path as the server names it, the request object]. */
function enumProbes(type: protobuf.Type, depth = 0): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  if (depth > 3) return out;
  for (const f of type.fieldsArray) {
    f.resolve();
    const t = f.resolvedType;
    if (t instanceof protobuf.Enum) {
      out.push(f.repeated ? [`${f.name}[0]`, { [f.name]: [OUT_OF_RANGE] }] : [f.name, { [f.name]: OUT_OF_RANGE }]);
    } else if (t instanceof protobuf.Type && !f.map) {
      for (const [path, inner] of enumProbes(t, depth + 1))
        out.push(f.repeated ? [`${f.name}[0].${path}`, { [f.name]: [inner] }] : [`${f.name}.${path}`, { [f.name]: inner }]);
    }
  }
  return out;
}

let f: ApiFixture;
let client: grpc.Client;

beforeAll(async () => {
  f = await startFixture();
  client = new grpc.Client(`unix:${f.socketPath}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await f.close();
});

const raw = (b: Buffer) => b;

/** Calls `m` with raw request bytes; resolves with the status code and details. */
function callRaw(m: MethodInfo, bytes: Buffer): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    if (!m.serverStream) {
      client.makeUnaryRequest(m.path, raw, raw, bytes, (e) => resolve({ code: e?.code ?? 0, details: e?.details ?? "" }));
      return;
    }
    const s = m.clientStream ? client.makeBidiStreamRequest(m.path, raw, raw) : client.makeServerStreamRequest(m.path, raw, raw, bytes);
    if (m.clientStream) {
      (s as grpc.ClientDuplexStream<Buffer, Buffer>).write(bytes);
      (s as grpc.ClientDuplexStream<Buffer, Buffer>).end();
    }
    s.on("data", () => {});
    s.on("status", (st: grpc.StatusObject) => resolve({ code: st.code, details: st.details }));
    s.on("error", () => {});
  });
}

const probes = SERVED_SERVICES.flatMap((svc) =>
  serviceMethods(svc).flatMap((m) => enumProbes(messageType(m.requestType)).map(([field, req]) => ({ m, field, req }))),
);

describe("out-of-range enums from the wire", () => {
  test("the probe covers the enums the issue names (Reboot mode, ApplyConfiguration mode, List types, Logs driver, ScheduleShutdown action)", () => {
    const names = probes.map((p) => `${p.m.name}.${p.field}`);
    for (const n of ["Reboot.mode", "ApplyConfiguration.mode", "List.types[0]", "Logs.driver", "ScheduleShutdown.action"]) expect(names).toContain(n);
  });

  test("the decoder keeps an unknown number as a number, and unknownEnum finds it (nested too)", () => {
    const bytes = messageType("machine.ListRequest")
      .encode({ types: [0, 7] })
      .finish();
    expect(unknownEnum("machine.ListRequest", decode("machine.ListRequest", bytes))).toEqual({
      field: "types[1]",
      value: 7,
      enumName: "machine.ListRequest.Type",
    });
    expect(
      unknownEnum(
        "machine.ListRequest",
        decode(
          "machine.ListRequest",
          messageType("machine.ListRequest")
            .encode({ types: [0, 1] })
            .finish(),
        ),
      ),
    ).toBeUndefined();
  });

  for (const { m, field, req } of probes) {
    test(`${m.path} with ${field} = ${OUT_OF_RANGE}: INVALID_ARGUMENT naming ${field}`, async () => {
      const configBefore = f.backend.config;
      f.backend.powerActions.length = 0;
      const bytes = Buffer.from(messageType(m.requestType).encode(messageType(m.requestType).fromObject(req)).finish());
      const r = await callRaw(m, bytes);
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toStartWith(`${field}: ${OUT_OF_RANGE} is not a`);
      expect(f.backend.powerActions).toEqual([]);
      expect(f.backend.scheduled).toBeUndefined();
      expect(f.backend.config).toBe(configBefore);
    });
  }
});
