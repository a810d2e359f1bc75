// The node's context: what the boot phases, the services, the power sequences
// and the machine API backend share. Built once per PID 1 by init's main; the
// values a boot phase provides (config, cgroups, services, API) are Slots that
// name their provider when read too early.
import type { MachineApi } from "../api/server.ts";
import { ConfigValidator } from "../config/offthread.ts";
import type { PowerAction } from "../node/power.ts";
import type { WipeableLabel } from "../node/storage.ts";
import { Slot } from "../lib/slot.ts";
import type { LoadedConfig } from "./config/store.ts";
import { EventBus } from "./events.ts";
import type { Faults } from "./faults.ts";
import type { CgroupTree } from "./mechanisms/cgroups.ts";
import type { NetworkRuntime } from "./mechanisms/network-runtime.ts";
import { ramStatus, type StorageStatus } from "./mechanisms/system-disk.ts";
import type { FallbackDhcp } from "./mechanisms/dhcp-fallback.ts";
import { readCmdline, type Cmdline } from "./mechanisms/cmdline.ts";
import { errText, NodeLog } from "./mechanisms/log.ts";
import { Power } from "./power.ts";
import { Sequencer } from "./sequences/sequencer.ts";
import type { ServiceRegistry } from "./supervisor/registry.ts";
import type { EtcdMember } from "../etcd/member.ts";
import type { Clock, TimeSync } from "../time/index.ts";
import { Reaper } from "./supervisor/reaper.ts";

export interface ContextOptions {
  /** Started as `container=minos` by the sandbox launcher: skip what a container cannot do. */
  sandbox: boolean;
  /** init's environment: the sandbox's stand-in kernel cmdline (MINOS_CMDLINE) lives there. */
  env: Readonly<Record<string, string | undefined>>;
  faults: Faults;
  /** Runs the sequence of a power action to the node's end (init's main). */
  runPowerAction(action: PowerAction, actorId?: string): Promise<void>;
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
  /** A control-plane node's etcd membership (absent on workers). */
  readonly etcd = new Slot<EtcdMember>("etcd", "boot phase etcd");
  readonly time = new Slot<{ sync: TimeSync; servers: string[]; clock: Clock }>("time sync", "boot phase time");
  /** DHCP clients, resolvers, hostname, the network status the API reports. */
  readonly network = new Slot<NetworkRuntime>("the network runtime", "boot phase network");
  /** Where /system/state and /var live (boot phase state; an install changes it). */
  storage: StorageStatus = ramStatus("the system disk was not looked for yet");
  /** Why the node is in maintenance mode (no config yet), while it is; undefined otherwise. */
  maintenance: string | undefined;
  /** minos.config=http(s)://…: fetched in phase "maintenance" once the network is up (no stored config). */
  configUrl: string | undefined;
  /** Partitions a Reset asked to wipe: the teardown wipes them once they are unmounted. */
  pendingWipe: WipeableLabel[] = [];
  /**
   * Set by a Reset: whether the node leaves the etcd cluster first (graceful, Talos's default, even when it then
   * reboots) or keeps its membership (graceful=false). Undefined otherwise: a power-off or halt leaves, a reboot does not.
   */
  resetLeavesEtcd: boolean | undefined;
  /** Set when maintenance mode configured the network from ip=: the network phase leaves it be. */
  networkFromCmdline = false;
  /** The DHCP client started when nothing configures the network (maintenance mode or phase "network"). */
  dhcp: FallbackDhcp | undefined;
  /** Set once "all services healthy" was logged. */
  healthyAtMs: number | undefined;
  /** init's environment (the sandbox's stand-ins: MINOS_CMDLINE). */
  readonly env: Readonly<Record<string, string | undefined>>;
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
