// npm start: build, boot dist/rootfs in the sandbox, and show the node. With a
// terminal the dashboard is attached to the node's API socket (the node's console
// goes to dist/console.log meanwhile); without one, or with --logs, or when the
// dashboard cannot start, the node's console streams here. Leaving — q in the
// dashboard, Ctrl-C otherwise — powers the node off cleanly: SIGTERM to its
// init, the shutdown sequence, and init ends by SIGINT (reboot(2) POWER_OFF in
// a PID namespace).
//   bun scripts/start.ts [--logs] [--no-build]
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { resolve } from "node:path";
import { bootSandbox, type Sandbox } from "./sandbox.ts";

const root = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);

if (!args.includes("--no-build")) {
  const b = spawnSync("bun", ["run", "build"], { cwd: root, stdio: "inherit" });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const wantDashboard = Boolean(process.stdout.isTTY) && !args.includes("--logs");
const consoleLog = resolve(root, "dist/console.log");
const file = wantDashboard ? createWriteStream(consoleLog) : undefined;
let streaming = !wantDashboard;
const backlog: string[] = [];

const sb = await bootSandbox({
  privateCopy: false, // the host reaches the API at dist/rootfs/system/run/machined/machine.sock
  echo: (line) => {
    file?.write(line + "\n");
    if (streaming) process.stdout.write(line + "\n");
    else backlog.push(line);
  },
});
console.error(`start: node booting (sandbox pid ${sb.pid}); API socket ${sb.socketPath}`);

let stopping = false;
async function powerOff(why: string): Promise<never> {
  if (stopping) {
    console.error("start: second interrupt: killing the node");
    await sb.cleanup();
    process.exit(1);
  }
  stopping = true;
  streaming = true;
  console.error(`start: ${why}: powering the node off (SIGTERM to its init)`);
  const exit = await sb.stop("SIGTERM", 60_000);
  const clean = exit.initSignal === "SIGINT";
  console.error(
    `start: node ${clean ? "powered off cleanly (init ended by SIGINT, as reboot(2) POWER_OFF does in a PID namespace)" : `ended: ${JSON.stringify(exit)}`}`,
  );
  await sb.cleanup();
  process.exit(clean ? 0 : 1);
}

process.on("SIGINT", () => void powerOff("Ctrl-C"));
process.on("SIGTERM", () => void powerOff("SIGTERM"));
void sb.exited.then((e) => {
  if (stopping) return;
  console.error(`start: the node ended on its own: ${JSON.stringify(e)}`);
  void sb.cleanup().then(() => process.exit(e.initSignal === "SIGINT" ? 0 : 1));
});

if (wantDashboard) await attachDashboard(sb);

/** Runs the dashboard applet against the node; falls back to streaming the console when it cannot run. */
async function attachDashboard(node: Sandbox): Promise<void> {
  await node.waitForLine(/phase api: done/, 30_000).catch(() => {});
  if (!existsSync(node.socketPath)) return fallBack("the API socket did not appear");
  const started = Date.now();
  const dash = spawn(resolve(root, "dist/minos"), ["dashboard", "--endpoint", `unix:${node.socketPath}`], { stdio: "inherit" });
  const code = await new Promise<number | null>((r) => dash.on("exit", (c) => r(c)));
  if (code !== 0 && Date.now() - started < 3000) return fallBack(`the dashboard exited with ${code}`);
  await powerOff("dashboard closed");
}

function fallBack(why: string): void {
  console.error(`start: ${why}; streaming the node's console instead (Ctrl-C powers off; also in ${consoleLog})`);
  streaming = true;
  for (const l of backlog.splice(0)) process.stdout.write(l + "\n");
}
