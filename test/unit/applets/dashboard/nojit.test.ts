// init's console dashboard re-executes itself without the JIT
// (src/applets/dashboard/nojit.ts), and why that is not the service's
// environment: wrapperd, which starts it, needs the JIT for bun:ffi.
import { expect, test } from "bun:test";
import { noJitExec } from "../../../../src/applets/dashboard/nojit.ts";
import { defaultConfig } from "../../../../src/init/config/machine.ts";
import { builtinServices } from "../../../../src/init/supervisor/builtin.ts";

test("the console dashboard re-executes itself once with BUN_JSC_useJIT=0, same argv and environment", () => {
  const x = noJitExec(true, { TERM: "linux", PATH: "/sbin:/bin", GONE: undefined }, "/sbin/dashboard", "/sbin/dashboard", ["--console"]);
  expect(x).toEqual({ path: "/sbin/dashboard", argv: ["/sbin/dashboard", "--console"], env: ["TERM=linux", "PATH=/sbin:/bin", "BUN_JSC_useJIT=0"] });
  // Already decided (the re-executed process, or someone who wants the JIT): no loop.
  expect(noJitExec(true, { BUN_JSC_useJIT: "0" }, "/sbin/dashboard", "dashboard", [])).toBeUndefined();
  expect(noJitExec(true, { BUN_JSC_useJIT: "1" }, "/sbin/dashboard", "dashboard", [])).toBeUndefined();
  // A person's dashboard keeps the JIT.
  expect(noJitExec(false, {}, "/sbin/dashboard", "dashboard", [])).toBeUndefined();
});

test("the dashboard service's environment leaves the JIT alone (wrapperd runs in it)", () => {
  const dash = builtinServices(defaultConfig(), false).find((s) => s.id === "dashboard");
  expect(dash?.env).toEqual({ TERM: "linux" });
});

const run = (code: string, env: Record<string, string>) => Bun.spawnSync([process.execPath, "-e", code], { env: { ...process.env, ...env }, stderr: "pipe" });

test("BUN_JSC_useJIT=0 reaches the runtime: a hot loop runs far slower without the JIT", () => {
  const loop = "const t=performance.now();let s=0;for(let i=0;i<2e7;i++)s+=i%7;console.log(performance.now()-t)";
  const jit = Number(run(loop, {}).stdout.toString());
  const interp = Number(run(loop, { BUN_JSC_useJIT: "0" }).stdout.toString());
  expect(interp).toBeGreaterThan(jit * 3);
});

test("bun:ffi refuses to work without the JIT (so wrapperd must keep it)", () => {
  const ffi = 'import("bun:ffi").then(({dlopen})=>{dlopen("libc.so.6",{getpid:{args:[],returns:"i32"}});console.log("ok")})';
  expect(run(ffi, {}).stdout.toString().trim()).toBe("ok");
  const r = run(ffi, { BUN_JSC_useJIT: "0" });
  expect(r.stdout.toString()).not.toContain("ok");
  expect(r.stderr.toString()).toContain("requires the JIT");
});
