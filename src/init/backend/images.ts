// The image side of the machine API (Talos's ImageList / ImagePull): minos's
// own pull (src/images) into the node's containerd, with the machine config's
// registries; progress goes to init's log as the pull makes it.
import { ContainerdClient, ApiError } from "../../containerd/index.ts";
import { Code } from "../../api/status.ts";
import { listImages, pullImage } from "../../images/pull.ts";
import { importArchive } from "../../images/import.ts";
import { RegistryClient } from "../../registry/client.ts";
import { DigestMismatchError, ManifestError, RegistryError } from "../../registry/errors.ts";
import { InvalidArgumentError, UnavailableError } from "../../lib/errors.ts";
import { registriesConfig } from "../config/machine.ts";
import { CONTAINERD_ROOT, CONTAINERD_SOCKET } from "../supervisor/builtin.ts";
import { persistPull } from "../supervisor/container-runner.ts";
import { syncfsOffThread } from "../../sys/syncfs.ts";
import type { NodeContext } from "../context.ts";
import type { ImageBackend } from "./contract.ts";

export function nodeImages(ctx: NodeContext, socket = CONTAINERD_SOCKET): ImageBackend {
  let client: ContainerdClient | undefined;
  const ctd = () => (client ??= ContainerdClient.connect(socket, { timeoutMs: 60_000 }));
  /** containerd's and the registry's failures as the API's statuses, with their own words. */
  const mapped = (e: unknown): unknown => {
    if (e instanceof ApiError && e.code === Code.UNAVAILABLE) return new UnavailableError(`containerd: ${e.message}`);
    if (e instanceof ApiError && e.code === Code.INVALID_ARGUMENT) return new InvalidArgumentError(e.message);
    if (e instanceof RegistryError || e instanceof DigestMismatchError) return new UnavailableError(e.message);
    if (e instanceof ManifestError) return new InvalidArgumentError(e.message);
    return e;
  };
  return {
    list: async (namespace) => {
      try {
        return await listImages(ctd(), namespace);
      } catch (e) {
        throw mapped(e);
      }
    },
    pull: async (namespace, ref) => {
      const registry = new RegistryClient(registriesConfig(ctx.config.get().config.machine.registries));
      try {
        const p = await pullImage(ctd(), registry, ref, {
          namespace,
          log: (l) => ctx.log.info(l),
          onProgressStep: (p) => ctx.events.emit({ kind: "image-pull", ...p }),
        });
        if (!p.existed)
          await persistPull(
            p.name,
            () => syncfsOffThread(CONTAINERD_ROOT),
            (l) => ctx.log.info(l),
          );
        return { name: p.name, digest: p.target.digest };
      } catch (e) {
        throw mapped(e);
      }
    },
    import: async (namespace, tar, name) => {
      try {
        const images = await importArchive(ctd(), tar, { namespace, ...(name ? { name } : {}), log: (l) => ctx.log.info(l) });
        if (images.length)
          await persistPull(
            images.map((i) => i.name).join(", "),
            () => syncfsOffThread(CONTAINERD_ROOT),
            (l) => ctx.log.info(l),
          );
        return images.map((i) => i.name);
      } catch (e) {
        throw mapped(e);
      }
    },
  };
}
