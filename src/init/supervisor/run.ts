// One run of a service, whichever way it was started: a process through
// wrapperd (launch.ts) or a containerd task (container-runner.ts).
import type { ExitStatus } from "./reaper.ts";
import type { ServiceSpec } from "./spec.ts";

export interface Run {
  pid: number;
  exited: Promise<ExitStatus>;
}

export interface ContainerLauncher {
  /** Starts one run of a service with a `container`; `status` reports the steps before it runs (pulling, ...). Throws ContainerStartError. */
  start(spec: ServiceSpec, onLine: (line: string) => void, status: (msg: string) => void): Promise<Run>;
}
