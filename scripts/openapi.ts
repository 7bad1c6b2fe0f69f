// Writes docs/openapi.json from the handler's own zod schemas (npm run openapi).
import { writeFileSync } from "node:fs";
import { openApiDocument } from "@openchs-bridge/core";

const file = new URL("../docs/openapi.json", import.meta.url);
writeFileSync(file, `${JSON.stringify(openApiDocument("/api/"), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
