// Rewrites docs/config-keys.md from the config schemas (src/config/keys-table.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { countKeys, keysTableMarkdown } from "../src/config/keys-table.ts";

const target = join(import.meta.dir, "..", "docs", "config-keys.md");
writeFileSync(target, keysTableMarkdown());
const c = countKeys();
console.log(`wrote ${target}: ${c.applied} applied, ${c.accepted} accepted, ${c.mixed} sections`);
