// Regenerates the reference docs (config, errors, signals) from the code's tables.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { referenceDocs } from "../packages/server/src/app/reference-docs.js";

const root = fileURLToPath(new URL("..", import.meta.url));
for (const [file, render] of Object.entries(referenceDocs)) {
  writeFileSync(join(root, file), render());
  console.log(`wrote ${file}`);
}
