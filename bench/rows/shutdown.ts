// Row 6b: shutdown time with 10 services that exit promptly on SIGTERM:
// minos (SIGTERM to init -> sandbox gone) vs busybox init (SIGUSR2, its
// poweroff, with 10 respawn entries, in the same kind of PID namespace; its
// reboot(2) there only ends the namespace).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { bootSandbox } from "../../scripts/sandbox.ts";

const SLEEPER = "trap 'exit 0' TERM; while :; do sleep 1; done";

export async function minosShutdown(busybox: string, services = 10): Promise<number> {
  const config = stringify({
    version: "v1alpha1",
    machine: {},
    minos: { services: Array.from({ length: services }, (_, i) => ({ id: `sleeper${i}`, command: ["/test/busybox", "sh", "-c", SLEEPER] })) },
  });
  const sb = await bootSandbox({ config, files: [{ path: "/test/busybox", from: busybox, mode: 0o755 }] });
  try {
    await sb.waitForLine(/all services healthy in/, 60_000);
    const t0 = performance.now();
    const exit = await sb.stop("SIGTERM", 60_000);
    const ms = performance.now() - t0;
    if (exit.initSignal !== "SIGINT") throw new Error(`bench: minos did not power off cleanly (${JSON.stringify(exit)})`);
    return ms;
  } finally {
    await sb.cleanup();
  }
}

export async function busyboxShutdown(busybox: string, services = 10): Promise<number> {
  const root = mkdtempSync("/tmp/minos-bench-bbdown-");
  try {
    for (const d of ["bin", "etc", "proc", "dev"]) Bun.spawnSync(["mkdir", "-p", `${root}/${d}`]);
    Bun.spawnSync(["cp", busybox, `${root}/bin/busybox`]);
    Bun.spawnSync(["ln", "-s", "busybox", `${root}/bin/sh`]);
    const lines = Array.from({ length: services }, () => `::respawn:/bin/sh -c "${SLEEPER.replace(/"/g, '\\"')}"`);
    writeFileSync(`${root}/etc/inittab`, lines.join("\n") + "\n");
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount", "chroot", root, "/bin/busybox", "init"], { stdio: ["ignore", "ignore", "ignore"] });
    let init = 0;
    for (let i = 0; i < 500 && !init; i++) {
      const k = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim();
      if (k) init = Number(k.split(/\s+/)[0]);
      else await Bun.sleep(10);
    }
    await Bun.sleep(500); // let the respawn entries start
    const t0 = performance.now();
    process.kill(init, "SIGUSR2");
    await proc.exited;
    return performance.now() - t0;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
