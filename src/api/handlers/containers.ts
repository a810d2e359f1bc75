// machine.MachineService's container calls (Talos's Containers, Stats,
// Restart, and which log a Logs request names), answered from the backend's
// ContainerBackend. The request names containerd's namespace as a string and a
// driver (common.ContainerDriver), checked here as Talos checks them: an empty
// or unknown namespace, or the CRI driver outside "k8s.io", is INVALID_ARGUMENT
// (Talos answers the last with an untyped error).
import type { ContainerBackend, ContainerNamespace, MachineBackend } from "../../init/backend/contract.ts";
import { FailedPreconditionError, InvalidArgumentError } from "../../lib/errors.ts";
import type { common, machine } from "../gen/types.ts";
import { meta, type ServiceImpl } from "../handler.ts";

const NAMESPACES: readonly ContainerNamespace[] = ["system", "k8s.io"];
const DRIVERS: readonly common.ContainerDriver[] = ["CONTAINERD", "CRI"];

function checkDriver(driver: common.ContainerDriver): void {
  // The server refuses numbers the schema does not name (enums.ts); this guards a direct call.
  if (!DRIVERS.includes(driver)) throw new InvalidArgumentError(`driver ${JSON.stringify(driver)}: use CONTAINERD or CRI`);
}

/** The containerd namespace a Containers/Stats/Restart request names, checked against its driver. */
export function containerNamespace(namespace: string, driver: common.ContainerDriver): ContainerNamespace {
  checkDriver(driver);
  if (namespace === "") throw new InvalidArgumentError("namespace can't be empty: use system or k8s.io");
  if (!(NAMESPACES as readonly string[]).includes(namespace)) throw new InvalidArgumentError(`containerd namespace "${namespace}": use system or k8s.io`);
  if (driver === "CRI" && namespace !== "k8s.io") throw new InvalidArgumentError(`the CRI driver serves namespace k8s.io only, not "${namespace}"`);
  return namespace as ContainerNamespace;
}

/**
 * Which log a Logs request names. As in Talos: namespace "system" (and, for
 * minos's clients that name none, "") is a service's log — a container
 * service's is its container's output — and so is "kubelet" in any
 * namespace; "k8s.io" is a Kubernetes container's CRI log file.
 */
export function logSource(req: Pick<machine.LogsRequest, "namespace" | "id" | "driver">): "service" | "cri" {
  checkDriver(req.driver);
  if (req.id === "kubelet") return "service";
  if (req.namespace === "" || req.namespace === "system") {
    if (req.driver === "CRI") throw new InvalidArgumentError(`the CRI driver serves namespace k8s.io only, not "${req.namespace || "system"}"`);
    return "service";
  }
  if (req.namespace === "k8s.io") return "cri";
  throw new InvalidArgumentError(`containerd namespace "${req.namespace}": use system or k8s.io`);
}

export function containersOf(backend: MachineBackend): ContainerBackend {
  if (!backend.containers) throw new FailedPreconditionError("no containerd on this node");
  return backend.containers;
}

export function containerHandlers(backend: MachineBackend): Pick<ServiceImpl<"machine.MachineService">, "Containers" | "Stats" | "Restart"> {
  return {
    async Containers(req, ctx) {
      const namespace = containerNamespace(req.namespace, req.driver);
      const list = await containersOf(backend).list(namespace);
      return {
        messages: [
          {
            metadata: meta(ctx),
            containers: list.map((c) => ({
              namespace: c.namespace,
              id: c.id,
              internal_id: c.internalId,
              uid: c.uid,
              image: c.image,
              pid: c.pid,
              status: c.status,
              pod_id: c.podId,
              name: c.name,
              network_namespace: c.networkNamespace,
            })),
          },
        ],
      };
    },

    async Stats(req, ctx) {
      const namespace = containerNamespace(req.namespace, req.driver);
      const stats = await containersOf(backend).stats(namespace);
      return {
        messages: [
          {
            metadata: meta(ctx),
            stats: stats.map((s) => ({ namespace: s.namespace, id: s.id, pod_id: s.podId, name: s.name, memory_usage: s.memoryUsage, cpu_usage: s.cpuUsage })),
          },
        ],
      };
    },

    async Restart(req, ctx) {
      const namespace = containerNamespace(req.namespace, req.driver);
      if (!req.id) throw new InvalidArgumentError("Restart: id is empty");
      await containersOf(backend).restart(namespace, req.id);
      return { messages: [{ metadata: meta(ctx) }] };
    },
  };
}
