// Bench-only prototype (never part of minos): the machine API's Version call
// answered by a bare node:http2 gRPC responder — length-prefixed framing,
// content-type and a grpc-status trailer, nothing else (no deadlines,
// metadata, size limits, reflection, health). Compiled like minos and loading
// the same schema module, so beside the grpc-js responder (grpcjs-version.ts)
// and minos it shows what the server transport itself costs.
//   h2-version <socket>
import http2 from "node:http2";
import { rmSync } from "node:fs";
import { versionReply } from "./version-reply.ts";

const socket = process.argv[2]!;
rmSync(socket, { force: true });
const reply = versionReply();
const frame = new Uint8Array(5 + reply.length);
new DataView(frame.buffer).setUint32(1, reply.length);
frame.set(reply, 5);
const server = http2.createServer();
server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
  stream.on("data", () => {}); // the request (empty for Version) is read and dropped
  stream.on("end", () => {
    if (headers[":path"] !== "/machine.MachineService/Version") {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(frame);
  });
});
server.listen(socket, () => process.stdout.write("ready\n"));
