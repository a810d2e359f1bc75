// Row 8: the dashboard's RSS. On a node init runs `dashboard --console` on
// tty2, a second Bun process beside PID 1; here the same applet runs on a
// pseudo-terminal against the sandbox node's socket, and its RSS is read once
// it has drawn its first screens (several refreshes, so the API client, the
// renderer and their JIT code are all in). It runs with --console, as init runs
// it (it then re-executes itself without the JIT, src/applets/dashboard/nojit.ts);
// `env` BUN_JSC_useJIT=1 keeps the JIT, to show what that buys.
import { rssKiB } from "./node.ts";

export async function dashboardRss(binary: string, socketPath: string, settleMs = 3500, env: Record<string, string> = {}): Promise<number> {
  let bytes = 0;
  let screen = "";
  const p = Bun.spawn([binary, "dashboard", "--console", "-e", `unix:${socketPath}`, "--interval", "1000"], {
    env: { TERM: "xterm-256color", PATH: "/usr/bin:/bin", ...env },
    terminal: {
      cols: 120,
      rows: 40,
      data(_t, d) {
        bytes += d.length;
        if (screen.length < 20_000) screen += new TextDecoder().decode(d);
      },
    },
  });
  try {
    const deadline = performance.now() + 15_000;
    // Rendered once: the Summary screen names the node's services.
    while (!screen.includes("containerd")) {
      if (performance.now() > deadline || p.exitCode !== null)
        throw new Error(`bench: the dashboard drew nothing useful (${bytes} bytes): ${screen.slice(-400)}`);
      await Bun.sleep(50);
    }
    await Bun.sleep(settleMs);
    return rssKiB(p.pid);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
    p.terminal?.close();
  }
}
