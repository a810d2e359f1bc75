// The node's context: what the boot phases, the services, the power sequences
// and the machine API backend share. Built once per PID 1 by init's main; the
// values a boot phase provides (config, cgroups, services, API) are Slots that
// name their provider when read too early.
import type { MachineApi } from "../api/server.ts";
import { ConfigValidator } from "../config/offthread.ts";
import type { PowerAction } from "../node/power.ts";
import { Slot } from "../lib/slot.ts";
import type { LoadedConfig } from "./config/store.ts";
import { EventBus } from "./events.ts";
import type { Faults } from "./faults.ts";
import type { CgroupTree } from "./mechanisms/cgroups.ts";
import { readCmdline, type Cmdline } from "./mechanisms/cmdline.ts";
import { errText, NodeLog } from "./mechanisms/log.ts";
import { Power } from "./power.ts";
import { Sequencer } from "./sequences/sequencer.ts";
import type { ServiceRegistry } from "./supervisor/registry.ts";
import type { Clock, TimeSync } from "../time/index.ts";
import { Reaper } from "./supervisor/reaper.ts";

export interface ContextOptions {
  /** Started as `container=minos` by the sandbox launcher: skip what a container cannot do. */
  sandbox: boolean;
  /** init's environment: the sandbox's stand-in kernel cmdline (MINOS_CMDLINE) lives there. */
  env: Readonly<Record<string, string | undefined>>;
  faults: Faults;
  /** Runs the sequence of a power action to the node's end (init's main). */
  runPowerAction(action: PowerAction): Promise<void>;
}

export class NodeContext {
  readonly sandbox: boolean;
  readonly faults: Faults;
  readonly log: NodeLog;
  readonly events = new EventBus();
  readonly reaper: Reaper;
  readonly sequencer: Sequencer;
  readonly power: Power;
  readonly config = new Slot<LoadedConfig>("the machine config", "boot phase config");
  /** Validates configs off the event loop (boot load, ApplyConfiguration); its worker runs only while it has work. */
  readonly configValidator = new ConfigValidator();
  readonly cgroups = new Slot<CgroupTree>("the cgroup tree", "boot phase cgroups");
  readonly services = new Slot<ServiceRegistry>("the service registry", "boot phase services");
  readonly api = new Slot<MachineApi>("the machine API server", "boot phase api");
  readonly time = new Slot<{ sync: TimeSync; servers: string[]; clock: Clock }>("time sync", "boot phase time");
  /** Set once "all services healthy" was logged. */
  healthyAtMs: number | undefined;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private cmdlineRead: Cmdline | undefined;

  constructor(opts: ContextOptions) {
    this.sandbox = opts.sandbox;
    this.env = opts.env;
    this.faults = opts.faults;
    // A kernel boot holds its first lines until /dev/kmsg is attached (see mechanisms/log.ts).
    this.log = new NodeLog({ holdForKmsg: !opts.sandbox });
    this.reaper = new Reaper((e) => this.log.error(`reaper: ${errText(e)}`));
    this.sequencer = new Sequencer(this.log, this.events);
    this.power = new Power({ sequencer: this.sequencer, events: this.events, log: this.log, run: opts.runPowerAction });
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
    return this.config.peek()?.config.machine.env ?? {};
  }
}
