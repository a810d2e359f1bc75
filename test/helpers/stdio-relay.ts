// Joins its stdin and stdout to a TCP port on 127.0.0.1: what QEMU's
// `guestfwd=…-cmd:` runs per guest connection, so a guest reaches a test's
// server on the host's loopback (bun test/helpers/stdio-relay.ts PORT).
import { connect } from "node:net";

const port = Number(process.argv[2]);
const sock = connect(port, "127.0.0.1");
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on("close", () => process.exit(0));
sock.on("error", () => process.exit(1));
process.stdin.on("end", () => sock.end());
