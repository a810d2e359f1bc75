// Bench-only: the machine API of one source tree (its src/api/server.ts) over
// the test FakeBackend on a unix socket, so two trees' servers (say main's and
// a branch's) can be measured side by side by bench/server-cpu.ts.
//   bun bench/peers/api-server.ts ROOT SOCKET
export {};
const [root, socket] = process.argv.slice(2) as [string, string];
const { startMachineApi } = await import(`${root}/src/api/server.ts`);
const { FakeBackend } = await import(`${root}/test/helpers/fake-backend.ts`);
await startMachineApi(new FakeBackend(), { socketPath: socket });
process.stdout.write("ready\n");
// Served until killed.
setInterval(() => {}, 1 << 30);
