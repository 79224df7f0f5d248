import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_MODULE_TYPES } from '../integrations/index.js';
import { createPluginRegistry } from '../modules/provisioning/registry.js';
import { systemClock } from '../platform/clock.js';
import { loadConfig } from '../platform/config.js';
import { createSecretBox } from '../platform/crypto.js';
import { openDb } from '../platform/db/index.js';
import { silentLogger } from '../platform/logger.js';
import { appHooks } from './hooks.js';
import { buildHttpApp } from './http.js';

/**
 * The OpenAPI document `/api/openapi.json` serves, built in-process without a server or a data
 * directory: the routes' schemas are the document, so an empty in-memory database suffices
 * (building the app reads nothing from it). The web app's typed client is generated from it.
 */
export async function buildOpenApiDocument(): Promise<unknown> {
  const db = openDb({ kind: 'sqlite', file: ':memory:' });
  const app = await buildHttpApp({
    config: loadConfig({ BILLFOLD_DATA_DIR: join(tmpdir(), 'billfold-openapi-no-data-dir') }),
    db,
    clock: systemClock,
    logger: silentLogger(),
    secrets: createSecretBox(randomBytes(32)),
    plugins: createPluginRegistry(BUILTIN_MODULE_TYPES),
    hooks: appHooks,
  });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
    await db.close();
  }
}
