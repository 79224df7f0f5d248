import { defineConfig } from 'vitest/config';

/**
 * Two runs share one suite (scripts/test.mjs drives them):
 * - BILLFOLD_TEST_DB=sqlite (default): every test;
 * - BILLFOLD_TEST_DB=postgres: the database tests (`*.db.test.ts`) again on PostgreSQL.
 * Pure tests (`*.test.ts` without `.db`) do not touch a database and run once.
 */
const engine = process.env.BILLFOLD_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';

export default defineConfig({
  test: {
    include: engine === 'postgres' ? ['{src,test}/**/*.db.test.ts'] : ['{src,test}/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // Generous: a cold clone transforms the whole app on first import (over a minute on 2 busy
    // cores in CI). Speed targets live in benchmarks, never in timeouts.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
    env: { BILLFOLD_TEST_DB: engine },
  },
});
