// The VersionResponse both bench responders send, encoded once by minos's own
// schema module (so both load protobufjs and the schema, as minos does).
import { encode } from "../../src/api/schema.ts";

export function versionReply(): Uint8Array {
  return encode("machine.VersionResponse", {
    messages: [{ version: { tag: "v0.1.0", sha: "bench", built: "", go_version: "bun", os: "linux", arch: "amd64" } }],
  });
}
