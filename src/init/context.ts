// The node's state, shared by the boot phases, the services, the shutdown
// sequence and the machine API backend. One instance per PID 1.
import type { MachineApi } from "../api/server.ts";
import type { CgroupTree } from "./mechanisms/cgroups.ts";
import { readCmdline, type Cmdline } from "./mechanisms/cmdline.ts";
import type { LoadedConfig } from "./config/store.ts";
import { EventBus } from "./events.ts";
import type { Faults } from "./faults.ts";
import { errText, NodeLog } from "./mechanisms/log.ts";
import { Power } from "./power.ts";
import { Reaper } from "./supervisor/reaper.ts";
import { Sequencer } from "./sequences/sequencer.ts";
import type { ServiceRegistry } from "./supervisor/registry.ts";

export const API_SOCKET = "/system/run/machined/machine.sock";
export const API_TCP_PORT = 50000;

export class Node {
  readonly log: NodeLog;
  readonly events = new EventBus();
  readonly reaper: Reaper;
  readonly sequencer: Sequencer;
  readonly power: Power;
  config: LoadedConfig | undefined;
  cgroups: CgroupTree | undefined;
  services: ServiceRegistry | undefined;
  api: MachineApi | undefined;
  /** Mounts the boot made, in order (the shutdown reads /proc/self/mountinfo, this is for the log). */
  /** Set once "all services healthy" was logged. */
  healthyAtMs: number | undefined;
  private cmdlineRead: Cmdline | undefined;

  constructor(
    /** Started as `container=minos` by the sandbox launcher: skip what a container cannot do. */
    readonly sandbox: boolean,
    /** init's environment: the sandbox's stand-in kernel cmdline (MINOS_CMDLINE) lives there. */
    private readonly env: Readonly<Record<string, string | undefined>>,
    readonly faults: Faults,
  ) {
    // A kernel boot holds its first lines until /dev/kmsg is attached (see log.ts).
    this.log = new NodeLog({ holdForKmsg: !sandbox });
    this.reaper = new Reaper((e) => this.log.error(`reaper: ${errText(e)}`));
    this.sequencer = new Sequencer(this.log, this.events);
    this.power = new Power(this);
  }

  /**
   * Reads the kernel cmdline, once /proc is mounted (the config phase's first
   * task): read any earlier and a kernel boot would see no /proc/cmdline.
   */
  loadCmdline(): Cmdline {
    this.cmdlineRead = readCmdline(this.sandbox, this.env);
    return this.cmdlineRead;
  }

  /** The kernel cmdline as loaded; before that (a boot that failed early), read now without keeping it. */
  get cmdline(): Cmdline {
    return this.cmdlineRead ?? readCmdline(this.sandbox, this.env);
  }

  /** machine.env: given to every service. */
  nodeEnv(): Record<string, string> {
    return this.config?.config.machine.env ?? {};
  }
}
