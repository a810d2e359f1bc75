// The other document kinds Talos 1.7 reads from a multi-document config (each
// `apiVersion: v1alpha1` with a `kind:`), reference siderolabs/talos v1.7.7
// pkg/machinery/config/types/{runtime,network,siderolink}. minos type-checks and
// stores them all; ExtensionServiceConfig is applied (extension-service.ts),
// the others not yet. VolumeConfig, TrustedRootsConfig and the other kinds of
// later Talos releases do not exist in 1.7 and are refused.

import { goDuration, portRange, url } from "./checks.ts";
import { accepted, acceptedRequired, applied, appliedRequired, intOrString, list, obj, oneOf, str, type Infer, type Schema } from "./schema.ts";
import { configFileContent, environmentEntry, extensionName, mountPath, type ExtensionServiceConfig } from "./extension-service.ts";

const meta = { apiVersion: appliedRequired(oneOf(["v1alpha1"])) };

const extensionServiceConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["ExtensionServiceConfig"])),
  name: appliedRequired(str({ check: extensionName }), { note: "the minos.services entry (with an image) it configures" }),
  configFiles: applied(
    list(
      obj({
        content: appliedRequired(str({ check: configFileContent })),
        mountPath: appliedRequired(str({ check: mountPath, label: "absolute path" }), { note: "bind-mounted read-only in the container" }),
      }),
    ),
  ),
  environment: applied(list(str({ check: environmentEntry, label: "KEY=value" })), { note: "over the service's env and machine.env" }),
});

const kmsgLogConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["KmsgLogConfig"])),
  name: acceptedRequired(str()),
  url: acceptedRequired(
    str({ check: (v) => (/^(tcp|udp):\/\/[^/]+\/?$/.test(v) ? undefined : `"${v}" must be tcp://host:port or udp://host:port`), label: "URL" }),
  ),
});

const eventSinkConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["EventSinkConfig"])),
  endpoint: acceptedRequired(str({ label: "host:port" })),
});

const watchdogTimerConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["WatchdogTimerConfig"])),
  device: acceptedRequired(str()),
  timeout: accepted(str({ check: goDuration, label: "duration (Go syntax)" })),
});

const sideroLinkConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["SideroLinkConfig"])),
  apiUrl: acceptedRequired(str({ check: url, label: "URL" })),
});

const networkRuleConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["NetworkRuleConfig"])),
  name: acceptedRequired(str()),
  portSelector: acceptedRequired(
    obj({
      ports: acceptedRequired(list(intOrString(portRange, 'port (int) or range ("lo-hi")', { min: 0, max: 65535 }))),
      protocol: acceptedRequired(oneOf(["tcp", "udp", "icmp", "icmpv6"])),
    }),
  ),
  ingress: accepted(list(obj({ subnet: acceptedRequired(str({ label: "CIDR" })), except: accepted(str({ label: "CIDR" })) }))),
});

const networkDefaultActionConfig = obj({
  ...meta,
  kind: appliedRequired(oneOf(["NetworkDefaultActionConfig"])),
  ingress: acceptedRequired(oneOf(["accept", "block"])),
});

/** Kinds minos applies: no "accepted, not applied" warning for their documents. */
export const APPLIED_KINDS: ReadonlySet<string> = new Set(["ExtensionServiceConfig"]);

/** Every kind Talos 1.7 defines besides the v1alpha1 document, with its schema. */
export const KINDS = {
  ExtensionServiceConfig: extensionServiceConfig,
  KmsgLogConfig: kmsgLogConfig,
  EventSinkConfig: eventSinkConfig,
  WatchdogTimerConfig: watchdogTimerConfig,
  SideroLinkConfig: sideroLinkConfig,
  NetworkRuleConfig: networkRuleConfig,
  NetworkDefaultActionConfig: networkDefaultActionConfig,
} satisfies Record<string, Schema>;

export type KindName = keyof typeof KINDS;

/** One non-v1alpha1 document, typed by its kind. */
export type KindDocument = {
  [K in KindName]: { kind: K /** 0-based position among the YAML documents. */; index: number; value: Infer<(typeof KINDS)[K]> };
}[KindName];

export function isKindName(k: string): k is KindName {
  return Object.hasOwn(KINDS, k);
}

/** The ExtensionServiceConfig documents, in input order, with their position (for YAML paths). */
export function extensionServiceConfigs(docs: readonly KindDocument[]): { index: number; value: ExtensionServiceConfig }[] {
  const out: { index: number; value: ExtensionServiceConfig }[] = [];
  for (const d of docs)
    if (d.kind === "ExtensionServiceConfig")
      out.push({ index: d.index, value: { name: d.value.name, configFiles: d.value.configFiles ?? [], environment: d.value.environment ?? [] } });
  return out;
}

/** The name that makes two documents of one kind distinct (Talos refuses two with the same). */
export function documentName(doc: KindDocument): string {
  const v = doc.value as { name?: string };
  return v.name ?? "";
}
