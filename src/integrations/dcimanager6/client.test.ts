import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type DcimanagerClientOptions, DcimanagerError } from './client.js';
import { ADMIN, CONFIG_A, CONFIG_B, type FakeDcimanager, startFakeDcimanager } from './fake-server.js';

/**
 * The DCImanager 6 client against the stateful fake: every function, read back from the fake's
 * state; sessions; operations waited for; every fault knob → the DcimanagerError it becomes.
 */

const ROOT_PASSWORD = 'R00t:server-secret';

let fake: FakeDcimanager;
beforeEach(async () => {
  fake = await startFakeDcimanager();
});
afterEach(() => fake.close());

/** A client whose sleep moves the fake's operations on (one tick per poll). */
const client = (o: Partial<DcimanagerClientOptions> = {}) =>
  createClient({
    url: `${fake.url}/api`,
    email: ADMIN.email,
    password: ADMIN.password,
    taskPollMs: 1,
    taskTimeoutMs: 10,
    sleep: async () => {
      fake.tick();
    },
    ...o,
  });

const visible = (e: DcimanagerError) =>
  [e.message, e.upstreamMessage, e.stack, String(e), JSON.stringify(e), String(e.cause)].join('\n');

async function refusal(p: Promise<unknown>): Promise<DcimanagerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DcimanagerError);
    const e = err as DcimanagerError;
    for (const secret of [ADMIN.password, ROOT_PASSWORD, 'secret-pass', 'server-secret'])
      expect(visible(e)).not.toContain(secret);
    return e;
  }
  return expect.fail('expected a DcimanagerError');
}

const flags = (e: DcimanagerError) => ({ code: e.code, retryable: e.retryable, ambiguous: e.ambiguous });
const logins = () => fake.state.callsTo('POST', '/auth/v4/public/token').length;

describe('sessions and transport', () => {
  it('checkConnection logs in and lists locations; later calls reuse the one token', async () => {
    const c = client();
    expect(await c.checkConnection()).toEqual({
      locations: [
        { id: 1, name: 'Frankfurt' },
        { id: 2, name: 'Amsterdam' },
      ],
    });
    await c.listOsTemplates();
    await c.getServer(1);
    await c.findAccount('nobody@example.com');
    expect(logins()).toBe(1);
    expect(fake.state.calls).toHaveLength(5);
    // The call log never holds a password.
    expect(JSON.stringify(fake.state.calls)).not.toContain('secret-pass');
  });

  it('concurrent first calls share one login', async () => {
    const c = client();
    await Promise.all([c.listLocations(), c.listOsTemplates(), c.getServer(2), c.listConfigurations()]);
    expect(logins()).toBe(1);
  });

  it.each([
    ['the root', ''],
    ['/api', '/api'],
    ['/api/dci/v3', '/api/dci/v3'],
    ['/dci/v3/', '/dci/v3/'],
  ])('accepts the panel URL as %s', async (_, suffix) => {
    const c = client({ url: `${fake.url}${suffix}` });
    expect((await c.getServer(3)).locationId).toBe(2);
  });

  it('an expired token: logs in again once and repeats the call', async () => {
    const c = client();
    await c.listLocations();
    fake.faults.expireTokens();
    expect(await c.listLocations()).toHaveLength(2);
    expect(logins()).toBe(2);
  });

  it('a token refused again after the re-login is dcimanager_auth (no loop)', async () => {
    // A proxy that drops the session headers: every authenticated call is a 401.
    const stripping: typeof fetch = (input, init) => {
      const headers = { ...(init?.headers as Record<string, string>) };
      delete headers['x-xsrf-token'];
      delete headers.cookie;
      return fetch(input, { ...init, headers });
    };
    const e = await refusal(client({ fetch: stripping }).listLocations());
    expect(flags(e)).toEqual({ code: 'dcimanager_auth', retryable: false, ambiguous: false });
    expect(e.status).toBe(401);
    expect(logins()).toBe(2);
  });

  it('a wrong password is dcimanager_auth, without the password', async () => {
    const e = await refusal(client({ password: 'wrong-secret-pass' }).checkConnection());
    expect(flags(e)).toEqual({ code: 'dcimanager_auth', retryable: false, ambiguous: false });
    expect(visible(e)).not.toContain('wrong-secret-pass');
  });

  it('503 (waking up) is retryable and not ambiguous; the caller retries and it works', async () => {
    const c = client();
    fake.faults.unavailable = 2;
    const e = await refusal(c.listLocations());
    expect(flags(e)).toEqual({ code: 'dcimanager_unavailable', retryable: true, ambiguous: false });
    expect(e.status).toBe(503);
    await refusal(c.listLocations());
    expect(await c.listLocations()).toHaveLength(2);
  });

  it('a 500 after a POST is ambiguous; after a GET it is not', async () => {
    const c = client();
    await c.listLocations();
    fake.faults.serverErrors = 1;
    expect(flags(await refusal(c.setOwner(1, 100)))).toEqual({
      code: 'dcimanager_http_5xx',
      retryable: true,
      ambiguous: true,
    });
    fake.faults.serverErrors = 1;
    expect(flags(await refusal(c.getServer(1)))).toEqual({
      code: 'dcimanager_http_5xx',
      retryable: true,
      ambiguous: false,
    });
  });

  it('no answer in time: dcimanager_timeout, ambiguous for a POST', async () => {
    const c = client({ timeoutMs: 50 });
    await c.listLocations();
    fake.faults.latencyMs = 300;
    const e = await refusal(c.portDown(1));
    expect(flags(e)).toEqual({ code: 'dcimanager_timeout', retryable: true, ambiguous: true });
    const r = await refusal(c.getServer(1));
    expect(flags(r)).toEqual({ code: 'dcimanager_timeout', retryable: true, ambiguous: false });
  });

  it('nothing listening: dcimanager_unreachable, not ambiguous', async () => {
    const url = fake.url;
    await fake.close();
    const e = await refusal(client({ url }).checkConnection());
    expect(flags(e)).toEqual({ code: 'dcimanager_unreachable', retryable: true, ambiguous: false });
    fake = await startFakeDcimanager();
  });

  it('a panel echoing a password back has it scrubbed from the error', async () => {
    const echoing: typeof fetch = async (_input, init) =>
      new Response(JSON.stringify({ error: { code: 2001, msg: `bad body ${String(init?.body)}` } }), {
        status: 400,
      });
    const c = client({ fetch: echoing });
    const e = await refusal(c.checkConnection());
    expect(e.code).toBe('dcimanager_auth');
    expect(e.message).toContain('***');
  });

  it('an answer that is not JSON is dcimanager_invalid_answer', async () => {
    const html: typeof fetch = async () => new Response('<html>hello</html>', { status: 200 });
    const e = await refusal(client({ fetch: html }).checkConnection());
    expect(flags(e)).toEqual({ code: 'dcimanager_invalid_answer', retryable: false, ambiguous: false });
  });
});

describe('inventory', () => {
  it('lists OS templates and free servers per configuration', async () => {
    const c = client();
    expect(await c.listOsTemplates()).toEqual([
      { id: 11, name: 'Debian 12', tags: ['linux'] },
      { id: 12, name: 'Ubuntu 24.04', tags: ['linux'] },
    ]);
    expect(await c.listConfigurations()).toEqual([
      { configuration: CONFIG_A, freeServers: 3 },
      { configuration: CONFIG_B, freeServers: 1 },
    ]);
  });

  it('findFreeServers: no owner, diagnosed, last operation ok, not in maintenance, that configuration and location', async () => {
    const s = fake.state;
    const owner = s.addUser({ email: 'c@example.com', password: 'pass-word' });
    s.servers.get(1)!.ownerId = owner.id;
    s.addServer({ id: 5, configuration: CONFIG_A, locationId: 1, isNew: true });
    s.addServer({ id: 6, configuration: CONFIG_A, locationId: 1, maintenance: true });
    s.addServer({
      id: 7,
      configuration: CONFIG_A,
      locationId: 1,
      operation: { id: 1, kind: 'os_install', status: 'failed', statusInfo: 'disk' },
    });
    s.addServer({
      id: 8,
      configuration: CONFIG_A,
      locationId: 1,
      operation: { id: 2, kind: 'os_install', status: 'canceled', statusInfo: null },
    });
    s.addServer({
      id: 9,
      configuration: CONFIG_A,
      locationId: 1,
      operation: { id: 3, kind: 'power_on', status: 'running', statusInfo: null },
    });
    const free = await client().findFreeServers({ configuration: CONFIG_A, locationId: 1 });
    expect(free.map((x) => x.id)).toEqual([2, 8]);
    // The filter went to the panel as `where`.
    const where = fake.state.callsTo('GET', '/dci/v3/server').at(-1)!.query.where;
    expect(where).toContain('owner_email IS null');
    expect(where).toContain(`configuration EQ '${CONFIG_A}'`);
  });

  it('claimFreeServer takes the first free one; none left → dcimanager_no_free_server', async () => {
    const c = client();
    const { id: owner } = await c.createAccount({ email: 'staff@example.com', password: 'pass-word' });
    const got = await c.claimFreeServer({ configuration: CONFIG_B, locationId: 1, ownerId: owner });
    expect(got.id).toBe(4);
    expect(got.owner).toEqual({ id: owner, email: 'staff@example.com' });
    const e = await refusal(c.claimFreeServer({ configuration: CONFIG_B, locationId: 1, ownerId: owner }));
    expect(flags(e)).toEqual({ code: 'dcimanager_no_free_server', retryable: true, ambiguous: false });
  });

  it('the no-free-server fault empties a configuration', async () => {
    fake.faults.noFreeServer(CONFIG_A);
    const c = client();
    expect(await c.findFreeServers({ configuration: CONFIG_A, locationId: 1 })).toEqual([]);
    expect((await c.findFreeServers({ configuration: CONFIG_B, locationId: 1 })).map((s) => s.id)).toEqual([
      4,
    ]);
  });

  it('getServer of an unknown id is dcimanager_not_found', async () => {
    expect(flags(await refusal(client().getServer(999)))).toEqual({
      code: 'dcimanager_not_found',
      retryable: false,
      ambiguous: false,
    });
  });
});

describe('accounts and owner', () => {
  it('findAccount / createAccount; a second create of the e-mail is refused', async () => {
    const c = client();
    expect(await c.findAccount('client@example.com')).toBeNull();
    const { id } = await c.createAccount({ email: 'client@example.com', password: 'Cl1ent-pass' });
    expect(await c.findAccount('client@example.com')).toEqual({
      id,
      email: 'client@example.com',
      roles: ['@user'],
    });
    expect(fake.state.users.get(id)).toMatchObject({ password: 'Cl1ent-pass', roles: ['@user'] });
    expect(JSON.stringify(fake.state.calls)).not.toContain('Cl1ent-pass');
    const e = await refusal(c.createAccount({ email: 'client@example.com', password: 'Cl1ent-pass' }));
    expect(flags(e)).toEqual({ code: 'dcimanager_refused', retryable: false, ambiguous: false });
    expect(e.upstreamCode).toBe(2002);
    expect(visible(e)).not.toContain('Cl1ent-pass');
  });

  it('setOwner sets and clears the owner', async () => {
    const c = client();
    const { id } = await c.createAccount({ email: 'o@example.com', password: 'pass-word' });
    await c.setOwner(2, id);
    expect(fake.state.servers.get(2)!.ownerId).toBe(id);
    expect((await c.getServer(2)).owner).toEqual({ id, email: 'o@example.com' });
    await c.setOwner(2, null);
    expect((await c.getServer(2)).owner).toBeNull();
    expect(fake.state.servers.get(2)!.ownerId).toBeNull();
  });
});

describe('OS install and operations', () => {
  it('installOs → task; waitTask returns the installed server with its IPv4', async () => {
    const c = client();
    const task = await c.installOs(1, { osId: 12, password: ROOT_PASSWORD });
    expect(task).toMatchObject({ serverId: 1, kind: 'os_install' });
    expect(fake.state.servers.get(1)!.operation).toMatchObject({ id: task.id, status: 'running' });
    expect(JSON.stringify(fake.state.calls)).not.toContain(ROOT_PASSWORD);
    const s = await c.waitTask(task);
    expect(s.operation).toEqual({ id: task.id, status: 'ok', info: null });
    expect(s.osTemplate).toEqual({ id: 12, name: 'Ubuntu 24.04' });
    expect(s.ipv4).toEqual(['198.51.100.10']);
  });

  it('operations also finish on the fake’s own clock (taskDelayMs)', async () => {
    await fake.close();
    fake = await startFakeDcimanager({ taskDelayMs: 20 });
    const c = client({
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      taskPollMs: 10,
      taskTimeoutMs: 2000,
    });
    await c.powerOff(3);
    expect((await c.getServer(3)).power).toBe('off');
    await c.powerOn(3);
    expect(fake.state.servers.get(3)!.power).toBe('on');
  });

  it('a failed install is dcimanager_task_failed with the operation’s message; its address goes back', async () => {
    fake.faults.failTask('os_install', 'Disk /dev/sda not found');
    const c = client();
    const task = await c.installOs(2, { osId: 11, password: ROOT_PASSWORD });
    const e = await refusal(c.waitTask(task));
    expect(flags(e)).toEqual({ code: 'dcimanager_task_failed', retryable: false, ambiguous: false });
    expect(e.upstreamMessage).toBe('Disk /dev/sda not found');
    expect(e.message).toContain('Disk /dev/sda not found');
    expect(fake.state.servers.get(2)!.ips).toEqual([]);
    expect(fake.state.ipPool[0]).toBe('198.51.100.10');
    // A server whose last operation failed is not free.
    expect((await c.findFreeServers({ configuration: CONFIG_A, locationId: 1 })).map((s) => s.id)).toEqual([
      1,
    ]);
  });

  it('an empty allocation pool is dcimanager_no_free_ip', async () => {
    fake.state.ipPool.length = 0;
    const e = await refusal(client().installOs(1, { osId: 11, password: ROOT_PASSWORD }));
    expect(flags(e)).toEqual({ code: 'dcimanager_no_free_ip', retryable: false, ambiguous: false });
  });

  it('waiting is bounded: dcimanager_task_timeout after taskTimeoutMs / taskPollMs polls', async () => {
    let sleeps = 0;
    const c = client({
      taskPollMs: 1000,
      taskTimeoutMs: 5000,
      sleep: async () => {
        sleeps++;
      },
    });
    const task = await c.installOs(1, { osId: 11, password: ROOT_PASSWORD });
    const e = await refusal(c.waitTask(task));
    expect(flags(e)).toEqual({ code: 'dcimanager_task_timeout', retryable: true, ambiguous: true });
    expect(sleeps).toBe(4);
    expect(fake.state.callsTo('GET', '/dci/v3/server')).toHaveLength(5);
    // Waiting again later finds it done.
    fake.tick();
    expect((await c.waitTask(task)).operation?.status).toBe('ok');
  });

  it('a 503 while polling is waited out', async () => {
    const c = client();
    const task = await c.installOs(1, { osId: 11, password: ROOT_PASSWORD });
    fake.faults.unavailable = 2;
    expect((await c.waitTask(task)).ipv4).toHaveLength(1);
  });

  it('a second operation on a busy server is refused', async () => {
    const c = client();
    await c.installOs(1, { osId: 11, password: ROOT_PASSWORD });
    const e = await refusal(c.installOs(1, { osId: 11, password: ROOT_PASSWORD }));
    expect(flags(e)).toEqual({ code: 'dcimanager_refused', retryable: false, ambiguous: false });
  });

  it('a failed power operation is dcimanager_task_failed', async () => {
    fake.faults.failTask('power_off', 'BMC does not answer');
    const e = await refusal(client().powerOff(1));
    expect(e.code).toBe('dcimanager_task_failed');
    expect(e.upstreamMessage).toBe('BMC does not answer');
    expect(fake.state.servers.get(1)!.power).toBe('on');
  });
});

describe('suspend, resume and release', () => {
  it('portDown / portUp switch the non-IPMI ports and leave the power alone', async () => {
    const c = client();
    await c.portDown(1);
    let s = await c.getServer(1);
    expect(s.ports.map((p) => [p.ipmi, p.adminStatus])).toEqual([
      [false, 'down'],
      [true, 'up'],
    ]);
    expect(s.power).toBe('on');
    await c.portUp(1);
    s = await c.getServer(1);
    expect(s.ports.every((p) => p.adminStatus === 'up')).toBe(true);
  });

  it('release: power off, owner cleared, extra IPs freed → the server is free again', async () => {
    const c = client();
    const { id } = await c.createAccount({ email: 'r@example.com', password: 'pass-word' });
    const claimed = await c.claimFreeServer({ configuration: CONFIG_B, locationId: 1, ownerId: id });
    const installed = await c.waitTask(await c.installOs(claimed.id, { osId: 11, password: ROOT_PASSWORD }));
    fake.state.addIp(claimed.id);
    fake.state.addIp(claimed.id);
    expect((await c.getServer(claimed.id)).ipv4).toHaveLength(3);

    await c.powerOff(claimed.id);
    await c.setOwner(claimed.id, null);
    expect(await c.freeExtraIps(claimed.id)).toEqual(['198.51.100.11', '198.51.100.12']);
    const s = await c.getServer(claimed.id);
    expect(s.ipv4).toEqual(installed.ipv4);
    expect(s.power).toBe('off');
    expect(fake.state.ipPool).toEqual(['198.51.100.13', '198.51.100.11', '198.51.100.12']);
    expect((await c.findFreeServers({ configuration: CONFIG_B, locationId: 1 })).map((x) => x.id)).toEqual([
      4,
    ]);
    // Repeating the release is harmless.
    expect(await c.freeExtraIps(claimed.id)).toEqual([]);
  });
});

describe('the route table', () => {
  it('client and fake follow another table when both are given it', async () => {
    await fake.close();
    const routes = {
      installOs: { method: 'POST' as const, path: '/dci/v3/server/{server}/operation/install' },
      portDown: { method: 'POST' as const, path: '/dci/v3/server/{server}/disable' },
    };
    fake = await startFakeDcimanager({ routes });
    const c = client({ routes });
    await c.portDown(2);
    await c.waitTask(await c.installOs(2, { osId: 11, password: ROOT_PASSWORD }));
    expect(fake.state.callsTo('POST', '/dci/v3/server/2/operation/install')).toHaveLength(1);
    expect(fake.state.callsTo('POST', '/dci/v3/server/2/disable')).toHaveLength(1);
    // The default path is not there any more.
    const other = client();
    expect((await refusal(other.installOs(1, { osId: 11, password: ROOT_PASSWORD }))).code).toBe(
      'dcimanager_not_found',
    );
  });
});
