// init's console dashboard (tty2) runs on JSC's interpreter alone. It redraws
// every 1.5 s, so compiled code buys it nothing, while the JIT's code and
// compiler memory were a quarter of its RSS (README "Benchmarks", row 8: 67.5
// → 53.0 MiB on a pty against a node, the same CPU per refresh). The option
// cannot go into the service's environment: wrapperd, which starts the
// dashboard, is a Bun program too and needs the JIT ("bun:ffi requires the
// JIT"). So the console dashboard re-executes itself once with it set.
export const NO_JIT_ENV = { BUN_JSC_useJIT: "0" } as const;

export interface Exec {
  path: string;
  argv: string[];
  env: string[];
}

/** The execve that restarts this dashboard without the JIT, or undefined when it needs none (not --console, or the option already decided). */
export function noJitExec(
  console: boolean,
  env: Readonly<Record<string, string | undefined>>,
  execPath: string,
  argv0: string,
  args: readonly string[],
): Exec | undefined {
  if (!console || env.BUN_JSC_useJIT !== undefined) return undefined;
  const vars = Object.entries({ ...env, ...NO_JIT_ENV }).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  return { path: execPath, argv: [argv0, ...args], env: vars };
}

/** Replaces this process (same pid, same tty) with the JIT-less dashboard. */
export async function reexec(x: Exec): Promise<never> {
  const { execve } = await import("../../sys/process.ts");
  return execve(x.path, x.argv, x.env);
}
