import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/app/http.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/**
 * `/` serves the web app's build; its client routes (`/services/12`) get the app's index.html so
 * a reload or a typed URL works, while the APIs' unknown paths keep their JSON 404 and a missing
 * asset is a 404. Without a build, `/` says how to make one.
 */
describe('the web app at /', () => {
  let ctx: TestContext;
  let dist: string;
  let app: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    ctx = await createTestContext();
    dist = mkdtempSync(join(tmpdir(), 'billfold-web-dist-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>app</title><div id="root"></div>');
    writeFileSync(join(dist, 'assets', 'index-abc.js'), 'console.log(1)');
    app = await buildHttpApp(ctx, { webDist: dist });
    unbuilt = await buildHttpApp(ctx, { webDist: join(dist, 'nothing-here') });
  });

  afterAll(async () => {
    await app?.close();
    await unbuilt?.close();
    await ctx?.testDb.destroy();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  it('serves the app at / and for its client routes, without a session', async () => {
    for (const url of ['/', '/services', '/services/12?tab=history', '/sign-in']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.body, url).toContain('<div id="root">');
      expect(res.headers['cache-control'], url).toBe('no-cache');
    }
  });

  it('serves hashed assets as immutable, and a missing asset is a 404', async () => {
    const js = await app.inject({ url: '/assets/index-abc.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toContain('immutable');
    const missing = await app.inject({ url: '/assets/gone.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'route_not_found' } });
  });

  it('never answers the APIs’ paths with the app', async () => {
    for (const url of ['/api/v1/nothing', '/api', '/billmgr/nothing', '/manager/nothing']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: { code: 'route_not_found' } });
    }
    // An API path that fails to match (a path parameter over its limit) keeps its own refusal.
    const long = await app.inject({ url: `/api/v1/accounts/${'1'.repeat(150)}` });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ error: { code: 'uri_too_long' } });
    // A state change on a client route is not the app either.
    const post = await app.inject({ method: 'POST', url: '/services' });
    expect(post.statusCode).toBe(404);
    // The API itself is unchanged: closed without a session.
    expect((await app.inject({ url: '/api/v1/me' })).statusCode).toBe(401);
  });

  it('without a build, / says to run npm run build:web and client routes are 404', async () => {
    const res = await unbuilt.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('npm run build:web');
    expect(res.body).toContain('/api/docs');
    expect((await unbuilt.inject({ url: '/services/12' })).statusCode).toBe(404);
  });

  it('keeps the app out of the OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p === '/' || p.includes('*'))).toEqual([]);
  });
});
