// Fault injection for the sandbox tests, and only there: MINOS_FAULT lets a test
// prove that an exception thrown inside a service callback (an output-line
// handler, here) is logged by PID 1 and never ends it. Ignored outside the sandbox.
//   MINOS_FAULT=throw-on-line:<text>   a service line containing <text> throws
//                                      (synchronously, and as an unhandled rejection)
export interface Faults {
  /** Called for every service output line; throws when a fault matches. */
  onServiceLine(id: string, line: string): void;
}

export const NO_FAULTS: Faults = { onServiceLine: () => {} };

export function faultsFrom(sandbox: boolean, env: Readonly<Record<string, string | undefined>>): Faults {
  const spec = env.MINOS_FAULT;
  if (!sandbox || !spec) return NO_FAULTS;
  const m = /^throw-on-line:(.+)$/.exec(spec);
  if (!m) return NO_FAULTS;
  const needle = m[1]!;
  return {
    onServiceLine(id, line) {
      if (!line.includes(needle)) return;
      void Promise.reject(new Error(`injected fault (rejection) in service ${id}'s line callback`));
      throw new Error(`injected fault (exception) in service ${id}'s line callback`);
    },
  };
}
