// Row 1: applet cold start — exec to exit of `poweroff --help`.
import { interleaved, type Summary } from "../stats.ts";
import { cProgram, type Peers } from "../tools.ts";

function timeExec(argv: string[]): () => number {
  return () => {
    const t0 = performance.now();
    const r = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", env: {} });
    const dt = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`bench: ${argv.join(" ")} exited ${r.exitCode}`);
    return dt;
  };
}

export function coldStart(p: Peers, rounds = 40): Record<"minos" | "busybox" | "c", Summary> {
  const c = cProgram("usage");
  const run = {
    minos: timeExec(["dist/rootfs/sbin/poweroff", "--help"]),
    busybox: timeExec([p.busybox, "poweroff", "--help"]),
    c: timeExec([c]),
  };
  for (const f of Object.values(run)) f(); // warm the page cache
  return interleaved(rounds, run);
}
