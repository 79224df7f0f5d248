import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_SCHEMA_FILE, generateApiSchema } from '../../scripts/api-schema.js';

/**
 * The web app's typed API client is generated from the server's OpenAPI document and checked
 * in: a route whose schema changes without `npm run gen:api` fails here, so the client cannot
 * drift from the API it calls.
 */
describe('web/src/api/schema.d.ts', () => {
  it('is what `npm run gen:api` generates from the current routes', async () => {
    const fresh = await generateApiSchema();
    const checkedIn = readFileSync(API_SCHEMA_FILE, 'utf8');
    expect(checkedIn === fresh, 'web/src/api/schema.d.ts is out of date: run `npm run gen:api`').toBe(true);
  });
});
