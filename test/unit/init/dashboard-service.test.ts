// The dashboard on tty2 runs on JSC's interpreter alone (DASHBOARD_ENV in
// src/init/supervisor/builtin.ts): what bench row 8 measured, and what a
// compiled Bun program honours at start (BUN_JSC_* options).
import { expect, test } from "bun:test";
import { defaultConfig } from "../../../src/init/config/machine.ts";
import { builtinServices } from "../../../src/init/supervisor/builtin.ts";

test("the dashboard service is started with the JIT off and TERM=linux", () => {
  const dash = builtinServices(defaultConfig(), false).find((s) => s.id === "dashboard");
  expect(dash?.env).toEqual({ TERM: "linux", BUN_JSC_useJIT: "0" });
});

test("BUN_JSC_useJIT=0 reaches the runtime: a hot loop runs far slower without the JIT", () => {
  const code = "const t=performance.now();let s=0;for(let i=0;i<2e7;i++)s+=i%7;console.log(performance.now()-t)";
  const run = (env: Record<string, string>) => Number(Bun.spawnSync([process.execPath, "-e", code], { env: { ...process.env, ...env } }).stdout.toString());
  const jit = run({});
  const interp = run({ BUN_JSC_useJIT: "0" });
  expect(interp).toBeGreaterThan(jit * 3);
});
