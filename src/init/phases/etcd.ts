// Boot phase "etcd" (after the network: etcd advertises the node's
// addresses): on a control-plane node, issue etcd's certificates from
// cluster.etcd.ca and start the etcd service (a container of
// cluster.etcd.image), which waits in its prepare step for its image, then for
// a Bootstrap, a member to join through, or its own data. Workers skip.
import { osLib } from "../../lib/node-libs.ts";
import { ContainerdClient } from "../../containerd/index.ts";
import { EtcdMember } from "../../etcd/member.ts";
import { DEFAULT_ETCD_IMAGE, ETCD_USER_ID } from "../../etcd/service.ts";
import { pullImage, SYSTEM_NAMESPACE } from "../../images/pull.ts";
import { RegistryClient } from "../../registry/client.ts";
import { isControlPlane, registriesConfig } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";
import { EtcdImageError, etcdServiceSpec, type ImageFetch } from "../etcd/service.ts";
import { memberFinder } from "../etcd/peers.ts";
import { errText } from "../mechanisms/log.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";
import { CONTAINERD_SOCKET } from "../supervisor/builtin.ts";
import { retryable } from "../supervisor/container-runner.ts";

/** The node's IPv4 addresses, in interface order (the configured primary first). */
export function nodeAddresses(): string[] {
  return Object.values(osLib().networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === "IPv4" && !a.internal)
    .map((a) => a.address);
}

const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** Pulls into containerd's "system" namespace unless present, with the registry settings of the config in force now. */
function imageFetcher(ctx: NodeContext): ImageFetch {
  return async (image, status) => {
    const ctd = ContainerdClient.connect(CONTAINERD_SOCKET, { timeoutMs: 60_000 });
    try {
      await pullImage(ctd, new RegistryClient(registriesConfig(ctx.config.get().config.machine.registries)), image, {
        namespace: SYSTEM_NAMESPACE,
        skipIfPresent: true,
        log: (l) => {
          ctx.log.info(l);
          status(`pulling ${image}`);
        },
        onProgressStep: (p) => ctx.events.emit({ kind: "image-pull", ...p }),
      });
    } catch (e) {
      throw new EtcdImageError(errText(e), retryable(e));
    } finally {
      ctd.close();
    }
  };
}

export function etcdTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "etcd",
      run: () => {
        const cfg = ctx.config.get().config;
        if (!isControlPlane(cfg)) return skipped(`machine.type ${cfg.machine.type ?? "worker"}: etcd runs on control-plane nodes only`);
        const etcd = cfg.cluster?.etcd;
        if (!etcd?.ca?.key) return skipped("no cluster.etcd.ca with its key: a control-plane node issues etcd's certificates from it");
        const machineCa = cfg.machine.ca;
        const member = new EtcdMember(
          {
            hostname: cfg.machine.network.hostname,
            ca: { cert: b64(etcd.ca.crt), key: b64(etcd.ca.key) },
            image: etcd.image ?? DEFAULT_ETCD_IMAGE,
            extraArgs: etcd.extraArgs ?? {},
            advertisedSubnets: etcd.advertisedSubnets ?? [],
            listenSubnets: etcd.listenSubnets ?? [],
            owner: { uid: ETCD_USER_ID, gid: ETCD_USER_ID },
          },
          {
            addresses: nodeAddresses,
            findMembers: machineCa?.key
              ? memberFinder({
                  endpoint: cfg.cluster?.controlPlane?.endpoint,
                  machineCa: { cert: b64(machineCa.crt), key: b64(machineCa.key) },
                  ownAddresses: nodeAddresses,
                })
              : async () => ({ reason: "no machine.ca key: cannot authenticate to the other control-plane nodes" }),
            log: (m) => ctx.log.info(m),
          },
        );
        ctx.etcd.set(member);
        // DHCP (or an applied config) changed the node's addresses: the certificates' SANs follow them.
        ctx.events.subscribe((e) => {
          if (e.kind !== "address") return;
          try {
            member.refreshCerts();
          } catch (err) {
            ctx.log.warn(`etcd: reissuing the certificates for the new addresses: ${errText(err)}`);
          }
        });
        const image = etcd.image ?? DEFAULT_ETCD_IMAGE;
        const env = Object.entries(cfg.machine.env).map(([k, v]) => `${k}=${v}`);
        const svc = ctx.services.get().declare(etcdServiceSpec(member, { image, env, fetchImage: imageFetcher(ctx) }));
        svc.start();
        ctx.log.info(`  etcd service started (container of ${image}; data ${member.dataDir})`);
      },
    },
  ];
}
