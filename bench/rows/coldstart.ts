// Row 1: applet cold start — exec to exit of `poweroff --help`, beside busybox,
// a static C program (the OS floor) and a Bun "hello" compiled like minos (the
// runtime's floor): minos minus hello is our own start-up cost.
import { dropFromRam, freshInRam, inRam } from "../ram.ts";
import { interleaved } from "../stats.ts";
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

export type ColdRound = Record<"minos" | "busybox" | "c" | "bunHello", number>;

/** `rounds` rounds of `perRound` interleaved execs of each; a round's value is its median. */
export async function coldStart(p: Peers, rounds = 5, perRound = 12, minos = "dist/rootfs/sbin/poweroff"): Promise<ColdRound[]> {
  // Every side runs from the RAM disk: how many pages one fault maps, and so how many faults an exec takes, depends on how a disk file came into the page cache (bench/ram.ts).
  const busybox = timeExec([inRam(p.busybox), "poweroff", "--help"]);
  const c = timeExec([inRam(cProgram("usage"))]);
  const hello = await bunHello();
  const out: ColdRound[] = [];
  for (let r = 0; r < rounds; r++) {
    // The two Bun binaries get fresh copies every round, in alternating order: of two copies made one
    // after the other, the one made first measured slower to exec (by 0.3–0.6 ms, whichever binary it
    // was), for reasons this bench does not know; alternating puts that on each side in turn.
    const order = r % 2 === 0 ? [minos, hello] : [hello, minos];
    const copies = new Map(order.map((path) => [path, freshInRam(path)]));
    try {
      const run = { minos: timeExec([copies.get(minos)!, "--help"]), busybox, c, bunHello: timeExec([copies.get(hello)!]) };
      for (const f of Object.values(run)) f(); // the first exec of a copy
      const s = interleaved(perRound, run);
      out.push({ minos: s.minos.median, busybox: s.busybox.median, c: s.c.median, bunHello: s.bunHello.median });
    } finally {
      for (const copy of copies.values()) dropFromRam(copy);
    }
  }
  return out;
}
