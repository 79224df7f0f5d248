// `npm run gen:api`: regenerates web/src/api/schema.d.ts from the app's routes (no server needed).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { API_SCHEMA_FILE, generateApiSchema } from './api-schema.js';

writeFileSync(API_SCHEMA_FILE, await generateApiSchema());
process.stdout.write(`Wrote ${fileURLToPath(API_SCHEMA_FILE)}\n`);
