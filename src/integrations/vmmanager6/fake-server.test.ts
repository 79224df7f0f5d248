import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN, type FakeVmmanager, parseWhere, startFakeVmmanager } from './fake-server.js';

/**
 * The fake VMmanager 6 on the wire, without the client: what the product documents (token 201,
 * x-xsrf-token / ses6, error envelope, list envelope, reduced single-object read) and the
 * fake's own controls (task timing, tick, faults, call log).
 */

let fake: FakeVmmanager;
beforeEach(async () => {
  fake = await startFakeVmmanager();
});
afterEach(() => fake.close());

async function api(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(fake.url + path, {
    method,
    headers: {
      ...(opts.token ? { 'x-xsrf-token': opts.token } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    // biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers loosely
    json: text ? (JSON.parse(text) as Record<string, any>) : null,
  };
}

async function token(email = DEFAULT_ADMIN.email, password = DEFAULT_ADMIN.password): Promise<string> {
  const { status, json } = await api('POST', '/auth/v4/public/token', { body: { email, password } });
  expect(status).toBe(201);
  return json!.token as string;
}

describe('fake VMmanager 6', () => {
  it('issues a token (201) and takes it from x-xsrf-token, the ses6 cookie or a ses6 header', async () => {
    const login = await api('POST', '/api/auth/v4/public/token', { body: DEFAULT_ADMIN });
    expect(login.status).toBe(201);
    expect(login.json).toMatchObject({ id: '1', confirmed: true });
    expect(typeof login.json!.expires_at).toBe('string');
    const t = login.json!.token as string;
    for (const headers of [{ 'x-xsrf-token': t }, { cookie: `a=b; ses6=${t}` }, { ses6: t }] as Record<
      string,
      string
    >[])
      expect((await api('GET', '/vm/v3/cluster', { headers })).status).toBe(200);
    const none = await api('GET', '/vm/v3/cluster');
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ error: { code: 1000, msg: expect.any(String), value: {} } });
    const wrong = await api('POST', '/auth/v4/public/token', { body: { ...DEFAULT_ADMIN, password: 'x' } });
    expect(wrong.status).toBe(400);
    expect(wrong.json!.error.code).toBe(3004);
  });

  it('lists with {list, size, last_notify}, where, orderby and limit', async () => {
    const t = await token();
    for (const email of ['b@example.com', 'a@example.com', 'c@example.org'])
      expect(
        (
          await api('POST', '/vm/v3/account', {
            token: t,
            body: { email, password: 'p4ss-word', role: '@user' },
          })
        ).status,
      ).toBe(200);
    const q = (s: string) => api('GET', `/vm/v3/account?${s}`, { token: t });
    const all = await q('orderby=email+asc&limit=1,2');
    expect(all.json!.size).toBe(4);
    expect(all.json!.list.map((a: { email: string }) => a.email)).toEqual([
      'admin@example.com',
      'b@example.com',
    ]);
    expect(typeof all.json!.last_notify).toBe('number');
    const cp = await q(`where=${encodeURIComponent("((email CP '%.org') OR (email EQ 'a@example.com'))")}`);
    expect(cp.json!.list.map((a: { email: string }) => a.email)).toEqual(['a@example.com', 'c@example.org']);
    const not = await q("where=NOT+(roles+CP+'%@user%')");
    expect(not.json!.list.map((a: { id: number }) => a.id)).toEqual([1]);
    const unknown = await q("where=(password+EQ+'x')");
    expect(unknown.status).toBe(400);
    expect((await q("where=(email+EQ+'x'")).status).toBe(400);
  });

  it('parses the where grammar: numbers bare or quoted, dotted paths, IS [NOT] null, GT/LT', () => {
    const fields = new Set(['id', 'account', 'domain']);
    const row = { id: 7, account: { id: 3 }, domain: null };
    expect(parseWhere("(id EQ '7')", fields)(row)).toBe(true);
    expect(parseWhere('id EQ 7 AND account.id EQ 3', fields)(row)).toBe(true);
    expect(parseWhere('(domain IS null) AND NOT (id GT 7) AND (id LT 8)', fields)(row)).toBe(true);
    expect(parseWhere('domain IS NOT null OR id NE 7', fields)(row)).toBe(false);
  });

  it('a host: create → task → full list row with IPs; GET by id is the reduced object', async () => {
    await fake.close();
    fake = await startFakeVmmanager({ taskDelayMs: 60_000 });
    const t = await token();
    const account = (
      await api('POST', '/vm/v3/account', {
        token: t,
        body: { email: 'u@example.com', password: 'p4ss-word' },
      })
    ).json!.id;
    const body = {
      name: 'vm1',
      cluster: 1,
      os: 2,
      password: 'r00t-pass',
      preset: 2,
      ipv4_number: 1,
      account,
    };
    const created = await api('POST', '/vm/v3/host', { token: t, body });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ id: 101, task: 5001, recipe_task_list: [] });
    const task = () =>
      api('GET', `/vm/v3/task?where=((consul_id+EQ+'5001')+AND+(name+EQ+'host_create'))`, { token: t });
    expect((await task()).json!.list[0]).toMatchObject({
      consul_id: 5001,
      name: 'host_create',
      status: 'running',
    });
    const row = async () => (await api('GET', "/vm/v3/host?where=(id+EQ+'101')", { token: t })).json!.list[0];
    expect(await row()).toMatchObject({ state: 'creating', ip4: [], cpu_number: 2, ram_mib: 4096 });
    fake.clock.advance(60_000);
    expect((await task()).json!.list[0].status).toBe('complete');
    expect(await row()).toMatchObject({
      state: 'active',
      ip4: [{ ip: '192.0.2.10', interface: 'public' }],
      cluster: { id: 1 },
      account: { id: account, email: 'u@example.com' },
      os: { id: 2 },
      disk: { disk_mib: 40960 },
    });
    const single = await api('GET', '/vm/v3/host/101', { token: t });
    expect(single.json).not.toHaveProperty('ip4');
    expect(single.json).toMatchObject({ id: 101, state: 'active' });
    // The call log keeps no password.
    expect(fake.state.callsOf('POST', '/vm/v3/host')[0]!.body).toMatchObject({ password: '***' });
    expect(JSON.stringify(fake.state.calls)).not.toContain('r00t-pass');
    expect(JSON.stringify(fake.state.calls)).not.toContain(DEFAULT_ADMIN.password);
  });

  it('refuses what the product refuses: admin owner, OS not on the cluster, bad body, other methods', async () => {
    const t = await token();
    const base = {
      name: 'vm1',
      cluster: 2,
      os: 2,
      password: 'r00t-pass',
      cpu_number: 1,
      ram_mib: 512,
      hdd_mib: 5120,
      account: 1,
    };
    const r1 = await api('POST', '/vm/v3/host', { token: t, body: base });
    expect(r1.status).toBe(400);
    expect(r1.json!.error).toMatchObject({ code: 3003, value: { field: 'os' } });
    const r2 = await api('POST', '/vm/v3/host', { token: t, body: { ...base, os: 1 } });
    expect(r2.json!.error.msg).toContain('administrator');
    const r3 = await fetch(`${fake.url}/vm/v3/host`, {
      method: 'POST',
      headers: { 'x-xsrf-token': t },
      body: '[1]',
    });
    expect(r3.status).toBe(400);
    expect((await api('PUT', '/vm/v3/host', { token: t })).status).toBe(405);
    expect((await api('GET', '/vm/v3/nothing', { token: t })).status).toBe(404);
    expect((await api('DELETE', '/vm/v3/host/5', { token: t })).status).toBe(404);
  });

  it('tick() finishes tasks when they do not finish on their own; failTask fails the next of a name', async () => {
    await fake.close();
    fake = await startFakeVmmanager({ taskDelayMs: null });
    const t = await token();
    const account = (
      await api('POST', '/vm/v3/account', {
        token: t,
        body: { email: 'u@example.com', password: 'p4ss-word' },
      })
    ).json!.id;
    const body = {
      name: 'vm1',
      cluster: 1,
      os: 1,
      password: 'r00t-pass',
      cpu_number: 1,
      ram_mib: 512,
      hdd_mib: 5120,
      account,
    };
    fake.faults.failTask('host_create', 'no space on node');
    await api('POST', '/vm/v3/host', { token: t, body });
    await api('POST', '/vm/v3/host', { token: t, body: { ...body, name: 'vm2' } });
    fake.clock.advance(3_600_000 - 1);
    expect(fake.state.tasks.map((x) => x.status)).toEqual(['running', 'running']);
    expect(fake.tick()).toBe(2);
    expect(fake.state.tasks.map((x) => [x.status, x.output])).toEqual([
      ['fail', 'no space on node'],
      ['complete', ''],
    ]);
    expect(fake.state.hosts.get(101)!.state).toBe('create_failed');
    expect(fake.state.hosts.get(102)!.ip4).toEqual(['192.0.2.11']);
    expect(fake.state.clusters.get(1)!.freeIps[0]).toBe('192.0.2.10');
    expect(fake.tick()).toBe(0);
  });

  it('faults: 503 bursts, forced statuses, expired tokens, no free IP, no node', async () => {
    const t = await token();
    fake.faults.unavailable = 2;
    expect((await api('GET', '/vm/v3/cluster', { token: t })).status).toBe(503);
    expect((await api('GET', '/vm/v3/cluster', { token: t })).json).toBeNull();
    expect((await api('GET', '/vm/v3/cluster', { token: t })).status).toBe(200);
    fake.faults.http.push({ path: /^\/vm\/v3\/os/, status: 500, code: 1, msg: 'db down', times: 2 });
    expect((await api('GET', '/vm/v3/os', { token: t })).json).toEqual({
      error: { code: 1, msg: 'db down', value: {} },
    });
    expect((await api('GET', '/vm/v3/os', { token: t })).status).toBe(500);
    expect((await api('GET', '/vm/v3/os', { token: t })).status).toBe(200);
    fake.faults.expireTokens();
    expect((await api('GET', '/vm/v3/os', { token: t })).status).toBe(401);
    const t2 = await token();
    const account = (
      await api('POST', '/vm/v3/account', {
        token: t2,
        body: { email: 'u@example.com', password: 'p4ss-word' },
      })
    ).json!.id;
    const body = {
      name: 'vm1',
      cluster: 1,
      os: 1,
      password: 'r00t-pass',
      cpu_number: 1,
      ram_mib: 512,
      hdd_mib: 5120,
      account,
    };
    fake.faults.noFreeIp = true;
    expect((await api('POST', '/vm/v3/host', { token: t2, body })).json!.error.msg).toMatch(/free IPv4/);
    fake.faults.noFreeIp = false;
    fake.faults.noFreeNode = true;
    expect((await api('POST', '/vm/v3/host', { token: t2, body })).json!.error.msg).toMatch(/node/);
    expect(fake.state.hosts.size).toBe(0);
    expect(fake.state.clusters.get(1)!.freeIps).toHaveLength(8);
  });

  it('a non-admin token gets 403 / 3001 on the admin API', async () => {
    const t = await token();
    await api('POST', '/vm/v3/account', {
      token: t,
      body: { email: 'u@example.com', password: 'p4ss-word' },
    });
    const user = await token('u@example.com', 'p4ss-word');
    const r = await api('GET', '/vm/v3/host', { token: user });
    expect(r.status).toBe(403);
    expect(r.json!.error).toMatchObject({ code: 3001, msg: 'Unauthorized' });
  });
});
