// The sandbox launcher (scripts/sandbox.ts): a node never outlives the process
// that launched it. A test runner or bench killed with SIGKILL runs no cleanup;
// the node's PID 1, its services and unshare must still all end.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { removeCgroup } from "../../scripts/sandbox.ts";

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

test("a launcher killed with SIGKILL takes its node with it: PID 1, the services, unshare", async () => {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "../fixtures/sandbox/launcher-child.ts")], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the launcher ended before reporting its node (exit ${await child.exited})`);
    text += new TextDecoder().decode(value);
  }
  const node = JSON.parse(text.split("\n")[0]!) as { init: number; unshare: number; cgroupDir: string; rootfs: string };
  try {
    // Every process of the node's cgroup tree (unshare, PID 1, the services).
    const inNode = () =>
      Bun.spawnSync(["sh", "-c", `cat $(find "${node.cgroupDir}" -name cgroup.procs)`])
        .stdout.toString()
        .split("\n")
        .filter(Boolean);
    // The node is up: unshare, PID 1 in its own cgroup, and its services.
    expect(alive(node.init)).toBe(true);
    expect(readFileSync(join(node.cgroupDir, "init/cgroup.procs"), "utf8").split("\n")).toContain(String(node.init));
    expect(inNode().length).toBeGreaterThanOrEqual(3);
    child.kill("SIGKILL");
    await child.exited;
    // The kernel ends the PID namespace's other processes after its init: give them time to exit.
    const deadline = Date.now() + 10_000;
    while ((alive(node.init) || alive(node.unshare) || inNode().length > 0) && Date.now() < deadline) await Bun.sleep(50);
    expect({ init: alive(node.init), unshare: alive(node.unshare), left: inNode() }).toEqual({ init: false, unshare: false, left: [] });
  } finally {
    await removeCgroup(node.cgroupDir);
    rmSync(dirname(node.rootfs), { recursive: true, force: true });
  }
}, 90_000);
