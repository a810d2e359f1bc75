// Bench-only prototype (never part of minos): the same Version answer as
// h2-version.ts, served by grpc-js as minos's server does (channelz off), and
// nothing else: the transport's cost without minos's handlers and backend.
//   grpcjs-version <socket>
import * as grpc from "@grpc/grpc-js";
import { rmSync } from "node:fs";
import { versionReply } from "./version-reply.ts";

const socket = process.argv[2]!;
rmSync(socket, { force: true });
const reply = Buffer.from(versionReply());
const server = new grpc.Server({ "grpc.enable_channelz": 0 });
server.addService(
  {
    Version: {
      path: "/machine.MachineService/Version",
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  },
  { Version: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, reply) },
);
server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (e) => {
  if (e) throw e;
  process.stdout.write("ready\n");
});
