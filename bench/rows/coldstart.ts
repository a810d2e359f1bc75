// Row 1: applet cold start — exec to exit of `poweroff --help`, beside busybox,
// a static C program (the OS floor) and a Bun "hello" compiled like minos (the
// runtime's floor): minos minus hello is our own start-up cost.
import { interleaved, type Summary } from "../stats.ts";
import { bunHello, cProgram, type Peers } from "../tools.ts";

function timeExec(argv: string[]): () => number {
  return () => {
    const t0 = performance.now();
    const r = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", env: {} });
    const dt = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`bench: ${argv.join(" ")} exited ${r.exitCode}`);
    return dt;
  };
}

export async function coldStart(p: Peers, rounds = 40): Promise<Record<"minos" | "busybox" | "c" | "bunHello", Summary>> {
  const c = cProgram("usage");
  const hello = await bunHello();
  const run = {
    minos: timeExec(["dist/rootfs/sbin/poweroff", "--help"]),
    busybox: timeExec([p.busybox, "poweroff", "--help"]),
    c: timeExec([c]),
    bunHello: timeExec([hello]),
  };
  for (const f of Object.values(run)) f(); // warm the page cache
  return interleaved(rounds, run);
}
