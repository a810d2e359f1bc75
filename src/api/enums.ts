// Enum values from the wire are checked before any handler sees them. Proto3
// enums are open: a client may send any number, and the decoder hands over the
// number itself where the schema has no name for it (decoded enums are names,
// schema.ts). A handler that maps names to actions would see `undefined` (issue
// 18: ScheduleShutdown with action 99 ran a "sequence undefined" that ended in
// reboot(0)), so every enum field of every request, nested and repeated ones
// included, must carry a name the schema knows, or the call is refused with
// INVALID_ARGUMENT naming the field.
import { InvalidArgumentError } from "../lib/errors.ts";
import type { MessageDesc } from "./codec.ts";
import { messageDesc } from "./schema.ts";

/** The first enum field (dotted path) whose value the schema has no name for, with that value. */
export function unknownEnum(typeName: string, value: unknown): { field: string; value: unknown; enumName: string } | undefined {
  return walk(messageDesc(typeName), value, "");
}

function walk(type: MessageDesc, value: unknown, prefix: string): { field: string; value: unknown; enumName: string } | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const obj = value as Record<string, unknown>;
  for (const field of type.fields) {
    const v = obj[field.name];
    if (v === undefined || v === null) continue;
    const path = prefix + field.name;
    if (!field.enumType && !field.isMessage) continue; // a scalar
    // The machine API has no map fields (scripts/gen-proto.ts refuses them).
    const items: [string, unknown][] = field.repeated && Array.isArray(v) ? v.map((x, i) => [`${path}[${i}]`, x]) : [[path, v]];
    for (const [at, x] of items) {
      if (field.enumType) {
        if (typeof x !== "string" || !Object.hasOwn(field.enumType.values, x)) return { field: at, value: x, enumName: field.enumType.name };
      } else {
        const inner = walk(messageDesc(field.typeName), x, `${at}.`);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

/** Throws InvalidArgumentError when a request carries an enum number its schema does not name. */
export function assertKnownEnums(typeName: string, value: unknown): void {
  const bad = unknownEnum(typeName, value);
  if (bad) throw new InvalidArgumentError(`${bad.field}: ${JSON.stringify(bad.value)} is not a ${bad.enumName} value`);
}
