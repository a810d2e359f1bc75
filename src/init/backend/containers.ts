// The container side of the machine API (Talos's Containers, Stats, Restart
// and `logs -k`): the node's containerd, asked through minos's own client in
// the namespace the call names — "system" for minos's container services,
// "k8s.io" for what the CRI plugin runs. Talos's CRI driver asks the CRI gRPC
// API; minos answers it from containerd's own API in "k8s.io" (the same
// containers, with the CRI's io.kubernetes labels): one containerd serves both
// (docs/containers.md).
//
// As in Talos: a container without a task is not listed; a Kubernetes one is
// shown as "<pod namespace>/<pod>:<container>" (its pod's sandbox as
// "<pod namespace>/<pod>"); Restart sends SIGTERM to the task and leaves the
// restart to whoever runs it. A minos service's container comes back through
// its supervisor; a service whose restart policy would not bring it back
// (never, on-failure after a clean exit) is restarted through the supervisor
// instead, so `restart` always restarts.
import { ApiError, ContainerdClient, unpackJson, type containerd } from "../../containerd/index.ts";
import { Code, StatusError, type StatusCode } from "../../api/status.ts";
import { FailedPreconditionError, NotFoundError } from "../../lib/errors.ts";
import { cgroupOfPid, cgroupUsage } from "../mechanisms/cgroup-usage.ts";
import { fileLines } from "../mechanisms/file-lines.ts";
import { CONTAINERD_SOCKET } from "../supervisor/builtin.ts";
import type { NodeContext } from "../context.ts";
import type { ContainerBackend, ContainerInfo, ContainerLogOptions, ContainerNamespace, ContainerStat } from "./contract.ts";

type Container = containerd.services.containers.v1.Container;
type Task = containerd.v1.types.Process;

/** The parts of an OCI runtime spec read here. */
interface OciSpec {
  annotations?: Record<string, string>;
  linux?: { namespaces?: { type: string; path?: string }[] };
}

/** The label the container runner puts on a service's container (container-runner.ts). */
const SERVICE_LABEL = "minos.service";
/** The CRI plugin's record of a container: JSON whose Metadata.LogPath is the file it writes the container's output to. */
const CRI_METADATA_EXTENSION = "io.cri-containerd.container.metadata";
const SIGTERM = 15;

/** One container with its task, as listed. */
interface Listed {
  info: ContainerInfo;
  container: Container;
  spec: OciSpec | undefined;
  /** A pod's sandbox (pause) container. */
  sandbox: boolean;
}

/** How Talos names a container: its id, or the pod's "namespace/name" and ":container" for Kubernetes ones. */
export function displayOf(c: Pick<Container, "id" | "labels">): { id: string; podId: string; name: string } {
  const pod = c.labels["io.kubernetes.pod.name"];
  const podNs = c.labels["io.kubernetes.pod.namespace"];
  const podId = pod !== undefined && podNs !== undefined ? `${podNs}/${pod}` : c.id;
  const name = c.labels["io.kubernetes.container.name"];
  return name === undefined ? { id: podId, podId, name: c.id } : { id: `${podId}:${name}`, podId, name };
}

/**
 * The CRI's log file of a Kubernetes container: the path the CRI plugin
 * recorded (its metadata extension's LogPath), else Talos's reconstruction:
 * the pod sandbox's log directory, the container's name, its restart count.
 * Undefined when neither is known (a sandbox has no log file).
 */
export function criLogPath(
  c: Pick<Container, "id" | "labels" | "extensions">,
  spec: OciSpec | undefined,
  sandboxLogDir: string | undefined,
): string | undefined {
  try {
    const meta = unpackJson<{ Metadata?: { LogPath?: string } }>(c.extensions[CRI_METADATA_EXTENSION]);
    if (meta?.Metadata?.LogPath) return meta.Metadata.LogPath;
  } catch {}
  const name = c.labels["io.kubernetes.container.name"];
  if (!sandboxLogDir || name === undefined) return undefined;
  return `${sandboxLogDir.replace(/\/$/, "")}/${name}/${spec?.annotations?.["io.kubernetes.container.restartCount"] ?? "0"}.log`;
}

function specOf(c: Container): OciSpec | undefined {
  try {
    return unpackJson<OciSpec>(c.spec);
  } catch {
    return undefined;
  }
}

export interface NodeContainersOptions {
  socket?: string;
  /** The supervisor's restart of a service (stop, then start): for a service its policy would leave stopped. */
  restartService(id: string): Promise<string>;
  /** Where the cgroup v2 hierarchy is mounted (tests). */
  cgroupMount?: string;
}

export function nodeContainers(ctx: NodeContext, opts: NodeContainersOptions): ContainerBackend {
  let client: ContainerdClient | undefined;
  const ctd = () => (client ??= ContainerdClient.connect(opts.socket ?? CONTAINERD_SOCKET, { timeoutMs: 10_000 }));
  /** containerd's answers keep their code (a task that already exited: FAILED_PRECONDITION), with containerd named. */
  const mapped = (e: unknown): unknown => {
    if (!(e instanceof ApiError)) return e;
    if (e.code === Code.NOT_FOUND) return new NotFoundError(e.message);
    return new StatusError(e.code as StatusCode, `containerd: ${e.message}`);
  };

  async function list(namespace: ContainerNamespace): Promise<Listed[]> {
    const ns = ctd().withNamespace(namespace);
    const [containers, tasks] = await Promise.all([ns.containers.list(), ns.tasks.list()]);
    const byId = new Map<string, Task>(tasks.map((t) => [t.id || t.container_id, t]));
    const out: Listed[] = [];
    for (const c of containers) {
      const task = byId.get(c.id);
      if (!task) continue; // no task: not running, not listed (Talos)
      const spec = specOf(c);
      const shown = displayOf(c);
      const netns = spec?.linux?.namespaces?.find((n) => n.type === "network");
      out.push({
        container: c,
        spec,
        sandbox: spec?.annotations?.["io.kubernetes.cri.container-type"] === "sandbox" || c.labels["io.cri-containerd.kind"] === "sandbox",
        info: {
          namespace,
          ...shown,
          internalId: c.id,
          image: c.image,
          pid: task.pid,
          status: String(task.status),
          uid: c.labels["io.kubernetes.pod.uid"] ?? "",
          networkNamespace: netns?.path ?? "",
        },
      });
    }
    return out.sort((a, b) => (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0));
  }

  async function find(namespace: ContainerNamespace, id: string): Promise<{ found: Listed; all: Listed[] }> {
    const all = await list(namespace);
    const found = all.find((l) => l.info.id === id) ?? all.find((l) => l.info.internalId === id);
    if (!found) throw new NotFoundError(`container "${id}" not found in namespace ${namespace}`);
    return { found, all };
  }

  const guarded =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (e) {
        throw mapped(e);
      }
    };

  return {
    list: guarded(async (namespace) => (await list(namespace)).map((l) => l.info)),

    stats: guarded(async (namespace): Promise<ContainerStat[]> => {
      const out: ContainerStat[] = [];
      for (const { info } of await list(namespace)) {
        if (info.status !== "RUNNING") continue; // Talos: metrics of running tasks only
        const cg = cgroupOfPid(info.pid);
        const usage = cg === undefined ? undefined : cgroupUsage(cg, opts.cgroupMount ? { mountpoint: opts.cgroupMount } : {});
        if (!usage) continue; // exited between the list and the read
        out.push({ namespace, id: info.id, podId: info.podId, name: info.name, memoryUsage: usage.memoryBytes, cpuUsage: usage.cpuNanos });
      }
      return out;
    }),

    restart: guarded(async (namespace, id) => {
      const { found } = await find(namespace, id);
      const service = namespace === "system" ? found.container.labels[SERVICE_LABEL] : undefined;
      const svc = service === undefined ? undefined : ctx.services.peek()?.find(service);
      if (svc && svc.spec.restart !== "always") {
        ctx.log.info(`container ${found.info.internalId}: restart through service ${svc.id} (restart policy ${svc.spec.restart})`);
        await opts.restartService(svc.id);
        return;
      }
      if (found.info.status === "STOPPED") throw new FailedPreconditionError(`container "${id}" is not running (its task is STOPPED)`);
      ctx.log.info(`container ${found.info.internalId}: restart requested: SIGTERM to its task (pid ${found.info.pid})`);
      await ctd().withNamespace(namespace).tasks.kill(found.info.internalId, SIGTERM, { all: found.sandbox });
    }),

    criLogs(id: string, o: ContainerLogOptions): AsyncIterable<string> {
      return (async function* () {
        let path: string | undefined;
        try {
          const { found, all } = await find("k8s.io", id);
          const sandboxId = found.spec?.annotations?.["io.kubernetes.cri.sandbox-id"];
          const sandbox = all.find((l) => l.sandbox && (l.info.internalId === sandboxId || l.info.podId === found.info.podId));
          path = criLogPath(found.container, found.spec, sandbox?.spec?.annotations?.["io.kubernetes.cri.sandbox-log-directory"]);
          if (!path) throw new NotFoundError(`container "${id}" has no log file${found.sandbox ? " (a pod's sandbox writes none)" : ""}`);
        } catch (e) {
          throw mapped(e);
        }
        try {
          yield* fileLines(path, { tailLines: o.tailLines, follow: o.follow, signal: o.signal });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`container "${id}": its log file ${path} does not exist`);
          throw e;
        }
      })();
    },
  };
}
