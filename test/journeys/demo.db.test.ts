import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';

/**
 * `billfold serve --demo` from an empty data directory, as a newcomer runs it, then through
 * the public HTTP API alone: the demo client signs in, orders a VPS with "ISPmanager 6 Pro",
 * pays from the balance, and watches the service become active with its IP and its license.
 *
 * The spawned server keeps its data in SQLite (its own and the selling Billfold's) whichever
 * engine the suite runs on: the PostgreSQL run would repeat the same test, so it is skipped there.
 */

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

describe.skipIf(TEST_ENGINE === 'postgres')('serve --demo', () => {
  let dataDir: string;
  let server: Running;
  let url: string;
  let email: string;
  let password: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-demo-'));
    server = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', '0'], {
      BILLFOLD_DATA_DIR: dataDir,
    });
    // The demo banner is printed once everything runs: the server's address is in it.
    const [, demoEmail, demoPassword] = await waitForOutput(server, (out) =>
      /Sign in as the demo client.*\n\s+email:\s+(\S+)\n\s+password:\s+(\S+)/.exec(out),
    );
    email = demoEmail!;
    password = demoPassword!;
    url = /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output().stdout)![1]!;
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The demo client's session: cookie and CSRF token, as a browser holds them. */
  let session: { cookie: string; csrf: string };
  async function api(method: 'GET' | 'POST', path: string, body?: unknown) {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        cookie: session.cookie,
        ...(method === 'POST' ? { 'x-csrf-token': session.csrf } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  let serviceId: number;

  it('the demo client signs in and orders a VPS with "ISPmanager 6 Pro", paid from the balance', async () => {
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('bf_session='));
    expect(cookie).toBeDefined();
    session = { cookie: cookie!, csrf: ((await login.json()) as { csrfToken: string }).csrfToken };

    const balance = async () => (await api('GET', '/api/v1/me')).body.account.balance;
    expect(await balance()).toBe('500.00');

    const catalog = await api('GET', '/api/v1/catalog');
    expect(catalog.status).toBe(200);
    const vps = catalog.body.tariffs.find((t: { productType: string }) => t.productType === 'vds');
    expect(vps).toBeDefined();
    const panel = vps.addons.find((a: { kind: string }) => a.kind === 'control_panel');
    const pro = panel.values.find((v: { name: string }) => v.name === 'ISPmanager 6 Pro');
    expect(pro).toMatchObject({ internalName: '55228' });

    const order = await api('POST', '/api/v1/orders', {
      items: [
        {
          tariffId: vps.id,
          period: 1,
          addonValues: { [String(panel.id)]: pro.id },
          params: { hostname: 'demo.example.com', os_template: 'Ubuntu 22.04' },
        },
      ],
      payNow: true,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(order.body).toMatchObject({ status: 'paid', total: '23.00' });
    serviceId = order.body.items[0].serviceId;
    expect(await balance()).toBe('477.00');
  });

  let service: { status: string; params: Record<string, string> };

  it('the service becomes active and shows its IP', async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await api('GET', `/api/v1/services/${serviceId}`);
      expect(r.status).toBe(200);
      service = r.body;
      if (service.status === 'active' || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(service.status, JSON.stringify(service)).toBe('active');
    expect(service.params.ip).toMatch(IPV4);
    expect(service.params.os).toBe('Ubuntu 22.04');
  });

  it('the active service shows its ISPmanager 6 Pro license from the license server', () => {
    // Set by the VMmanager module's license step (its license server's answer): key, upstream
    // id, expiry and the upstream tariff the panel value names.
    expect(service.params).toMatchObject({
      licensePricelist: '55228',
      licenseKey: expect.stringMatching(/\S/),
      licenseId: expect.stringMatching(/^\d+$/),
      licenseExpiresOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    });
  });

  it('stops on SIGTERM; a second --demo on the same data directory refuses and changes nothing', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const again = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', '0'], {
      BILLFOLD_DATA_DIR: dataDir,
    });
    const exit = await again.exited;
    expect(exit.code).toBe(1);
    expect(again.output().stderr).toMatch(/^error: demo_needs_empty_database: /m);
    expect(again.output().stdout).not.toContain('Billfold is running');
  });
});

describe.skipIf(TEST_ENGINE === 'postgres')('serve --demo on a busy port', () => {
  it('fails before seeding anything: the same data directory then starts on a free port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'billfold-demo-busy-'));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const first = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', String(port)], {
        BILLFOLD_DATA_DIR: dataDir,
      });
      expect((await first.exited).code).toBe(1);
      expect(first.output().stderr).toContain('is already in use');
      const second = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', '0'], {
        BILLFOLD_DATA_DIR: dataDir,
      });
      await waitForOutput(second, (out) => /Sign in as the demo client/.exec(out));
      second.child.kill('SIGTERM');
      expect(await second.exited).toEqual({ code: 0, signal: null });
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
