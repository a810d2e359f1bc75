// The smallest Bun program, compiled like minos: the runtime's own floor.
//   hello          prints and exits: the cold-start bound of row 1
//   hello --stay   prints and stays: the RSS floor any Bun-compiled PID 1 starts from (row 3)
import { writeSync } from "node:fs";

writeSync(1, "hello\n");
if (process.argv.includes("--stay")) setInterval(() => {}, 1 << 30);
