import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type VmmanagerClientOptions, VmmanagerError, whereEq } from './client.js';
import { DEFAULT_ADMIN, type FakeVmmanager, startFakeVmmanager } from './fake-server.js';

/**
 * The VMmanager 6 client against the stateful fake panel: every function, a VM's life from
 * create to delete, sessions, task waits, and every fault knob → the VmmanagerError it becomes.
 */

const ROOT_PASSWORD = 'R00t:vm-root-pass';
const LOGIN = '/auth/v4/public/token';

let fake: FakeVmmanager;
beforeEach(async () => {
  fake = await startFakeVmmanager();
});
afterEach(() => fake.close());

const client = (o: Partial<VmmanagerClientOptions> = {}) =>
  createClient({
    url: fake.url,
    email: DEFAULT_ADMIN.email,
    password: DEFAULT_ADMIN.password,
    taskPollMs: 1,
    taskTimeoutMs: 50,
    sleep: async () => {},
    ...o,
  });

const visible = (e: VmmanagerError) =>
  [e.message, e.upstreamMessage, e.stack, String(e), JSON.stringify(e), String(e.cause)].join('\n');

/** The VmmanagerError `p` rejects with; it must show no password in any form. */
async function refusal(p: Promise<unknown>): Promise<VmmanagerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VmmanagerError);
    const e = err as VmmanagerError;
    for (const secret of [DEFAULT_ADMIN.password, ROOT_PASSWORD, 'vm-secret-pass', 'vm-root-pass'])
      expect(visible(e)).not.toContain(secret);
    return e;
  }
  return expect.fail('expected a VmmanagerError');
}

const flags = (e: VmmanagerError) => ({ code: e.code, retryable: e.retryable, ambiguous: e.ambiguous });
const logins = () => fake.state.callsOf('POST', LOGIN).length;

async function newAccount(c: ReturnType<typeof client>, email = 'client1@example.com') {
  return (await c.createAccount({ email, password: 'Cl1ent:pass-word' })).id;
}

const HOST = (accountId: number) => ({
  name: 'vps-1042',
  clusterId: 1,
  osId: 1,
  password: ROOT_PASSWORD,
  cpu: 2,
  ramMib: 2048,
  hddMib: 20480,
  ipv4Number: 1,
  accountId,
});

describe('VMmanager 6 client', () => {
  describe('connection and sessions', () => {
    it('checkConnection logs in and lists clusters; later calls reuse that one token', async () => {
      const c = client();
      const { clusters } = await c.checkConnection();
      expect(clusters).toEqual([
        { id: 1, name: 'Main KVM', virtualizationType: 'kvm' },
        { id: 2, name: 'LXD', virtualizationType: 'lxd' },
      ]);
      await c.listOsTemplates(1);
      await c.listPresets();
      await c.findAccount('nobody@example.com');
      expect(logins()).toBe(1);
      expect(fake.state.calls.map((x) => `${x.method} ${x.path}`)).toEqual([
        `POST ${LOGIN}`,
        'GET /vm/v3/cluster',
        'GET /vm/v3/os',
        'GET /vm/v3/preset',
        'GET /vm/v3/account',
      ]);
      expect(fake.state.calls[0]!.body).toEqual({ email: DEFAULT_ADMIN.email, password: '***' });
    });

    it('concurrent first calls share one login in flight', async () => {
      const c = client();
      await Promise.all([
        c.listClusters(),
        c.listPresets(),
        c.listOsTemplates(1),
        c.findAccount('x@example.com'),
      ]);
      expect(logins()).toBe(1);
    });

    it.each([
      ['', '/vm/v3/cluster'],
      ['/', '/vm/v3/cluster'],
      ['/api', '/vm/v3/cluster'],
      ['/api/vm/v3', '/vm/v3/cluster'],
      ['/vm/v3/', '/vm/v3/cluster'],
    ])('the configured URL %s reaches the same API', async (suffix) => {
      const c = client({ url: fake.url + suffix });
      expect((await c.listClusters()).map((x) => x.id)).toEqual([1, 2]);
    });

    it('refuses a URL with credentials in it or of another scheme', () => {
      expect(() => client({ url: 'http://a:b@127.0.0.1/' })).toThrow(VmmanagerError);
      expect(() => client({ url: 'ftp://127.0.0.1/' })).toThrow(VmmanagerError);
    });

    it('a token the panel forgot (401) logs in again once and repeats the call', async () => {
      const c = client();
      await c.listClusters();
      fake.faults.expireTokens();
      expect(await c.listClusters()).toHaveLength(2);
      expect(logins()).toBe(2);
      expect(fake.state.callsOf('GET', '/vm/v3/cluster')).toHaveLength(3);
    });

    it('a token idle past the panel’s lifetime is replaced on the next call', async () => {
      const c = client();
      await c.listClusters();
      fake.clock.advance(61 * 60_000);
      expect(await c.listPresets()).toHaveLength(2);
      expect(logins()).toBe(2);
    });

    it('a 401 right after a fresh login is vmmanager_auth, not a loop', async () => {
      const c = client();
      await c.listClusters();
      fake.faults.http.push({ path: '/vm/v3/cluster', status: 401, code: 1000, msg: 'expired', times: 5 });
      const e = await refusal(c.listClusters());
      expect(flags(e)).toEqual({ code: 'vmmanager_auth', retryable: false, ambiguous: false });
      expect(logins()).toBe(2);
    });

    it('wrong credentials are vmmanager_auth and the message shows no password', async () => {
      const e = await refusal(client({ password: `${DEFAULT_ADMIN.password}x` }).listClusters());
      expect(flags(e)).toEqual({ code: 'vmmanager_auth', retryable: false, ambiguous: false });
      expect(e.status).toBe(400);
    });

    it('a non-admin account is refused the admin API (3001) as vmmanager_auth', async () => {
      await newAccount(client(), 'user@example.com');
      const e = await refusal(
        client({ email: 'user@example.com', password: 'Cl1ent:pass-word' }).listClusters(),
      );
      expect(flags(e)).toEqual({ code: 'vmmanager_auth', retryable: false, ambiguous: false });
      expect(e.upstreamCode).toBe(3001);
    });
  });

  describe('inventory and accounts', () => {
    it('lists the OS templates of one cluster and the presets', async () => {
      const c = client();
      expect(await c.listOsTemplates(1)).toEqual([
        { id: 1, name: 'Ubuntu 22.04', group: 'ubuntu', state: 'active' },
        { id: 2, name: 'AlmaLinux 9', group: 'almalinux', state: 'active' },
      ]);
      expect((await c.listOsTemplates(2)).map((o) => o.id)).toEqual([1, 3]);
      expect(await c.listOsTemplates(99)).toEqual([]);
      expect((await c.listPresets())[0]).toEqual({
        id: 1,
        name: 'Small',
        cpu: 1,
        ramMib: 1024,
        hddMib: 10240,
      });
    });

    it('finds no account, creates one as @user, then finds it; a second create is refused', async () => {
      const c = client();
      expect(await c.findAccount('client1@example.com')).toBeNull();
      const id = await newAccount(c);
      expect(await c.findAccount('client1@example.com')).toEqual({
        id,
        email: 'client1@example.com',
        roles: ['@user'],
        state: 'active',
      });
      expect(fake.state.callsOf('POST', '/vm/v3/account')[0]!.body).toEqual({
        email: 'client1@example.com',
        password: '***',
        role: '@user',
      });
      expect(fake.state.callsOf('GET', '/vm/v3/account')[0]!.query.where).toBe(
        "(email EQ 'client1@example.com')",
      );
      const e = await refusal(newAccount(c));
      expect(flags(e)).toEqual({ code: 'vmmanager_refused', retryable: false, ambiguous: false });
    });

    it('does not build a where from a value it cannot quote', async () => {
      await expect(client().findAccount("o'brien@example.com")).rejects.toThrow(RangeError);
      expect(
        whereEq([
          ['consul_id', 5],
          ['name', 'host_create'],
        ]),
      ).toBe("((consul_id EQ '5') AND (name EQ 'host_create'))");
    });
  });

  describe('a VM’s life', () => {
    it('create, wait, read with IPs, power, resize, grow, add IP, reinstall, password, delete', async () => {
      const c = client();
      const accountId = await newAccount(c);
      const { hostId, taskId } = await c.createHost({ ...HOST(accountId), presetId: 1 });
      expect(fake.state.callsOf('POST', '/vm/v3/host')[0]!.body).toEqual({
        name: 'vps-1042',
        cluster: 1,
        os: 1,
        password: '***',
        cpu_number: 2,
        ram_mib: 2048,
        hdd_mib: 20480,
        ipv4_number: 1,
        account: accountId,
        preset: 1,
      });
      await c.waitTask(taskId, 'host_create');
      expect(fake.state.callsOf('GET', '/vm/v3/task').at(-1)!.query.where).toBe(
        `((consul_id EQ '${taskId}') AND (name EQ 'host_create'))`,
      );
      const host = await c.getHost(hostId);
      expect(fake.state.callsOf('GET', '/vm/v3/host').at(-1)!.query.where).toBe(`(id EQ '${hostId}')`);
      expect(host).toMatchObject({
        id: hostId,
        name: 'vps-1042',
        state: 'active',
        ipv4: ['192.0.2.10'],
        ipv6: [],
        clusterId: 1,
        accountId,
        osId: 1,
        cpu: 2,
        ramMib: 2048,
        diskMib: 20480,
      });
      expect(fake.state.hosts.get(hostId)!.password).toBe(ROOT_PASSWORD);
      expect(await c.findHostsByName('vps-1042')).toEqual([host]);
      expect(await c.findHostsByName('vps-other')).toEqual([]);

      await c.stopHost(hostId);
      expect((await c.getHost(hostId)).state).toBe('stopped');
      await c.changeResources(hostId, { cpu: 4, ramMib: 4096 });
      await c.growDisk(host.diskId!, 40960);
      await c.addIpv4(hostId, 1);
      await c.startHost(hostId);
      expect(await c.getHost(hostId)).toMatchObject({
        state: 'active',
        cpu: 4,
        ramMib: 4096,
        diskMib: 40960,
        ipv4: ['192.0.2.10', '192.0.2.11'],
      });
      const shrink = await refusal(c.growDisk(host.diskId!, 1024));
      expect(flags(shrink)).toEqual({ code: 'vmmanager_refused', retryable: false, ambiguous: false });

      await c.reinstall(hostId, { osId: 2, password: `${ROOT_PASSWORD}2` });
      expect((await c.getHost(hostId)).osId).toBe(2);
      expect(fake.state.hosts.get(hostId)!.password).toBe(`${ROOT_PASSWORD}2`);
      await c.setPassword(hostId, `${ROOT_PASSWORD}3`);
      expect(fake.state.hosts.get(hostId)!.password).toBe(`${ROOT_PASSWORD}3`);

      const free = fake.state.clusters.get(1)!.freeIps.length;
      await c.deleteHost(hostId);
      expect(fake.state.clusters.get(1)!.freeIps.length).toBe(free + 2);
      expect(flags(await refusal(c.getHost(hostId)))).toEqual({
        code: 'vmmanager_not_found',
        retryable: false,
        ambiguous: false,
      });
      await c.deleteHost(hostId); // already gone
      expect(logins()).toBe(1);
    });

    it('actions on a host that does not exist are vmmanager_not_found', async () => {
      const c = client();
      for (const p of [c.stopHost(999), c.startHost(999), c.addIpv4(999, 1), c.growDisk(999, 1)])
        expect(flags(await refusal(p))).toEqual({
          code: 'vmmanager_not_found',
          retryable: false,
          ambiguous: false,
        });
    });

    it('refuses to add a non-positive number of addresses without asking', async () => {
      await expect(client().addIpv4(1, 0)).rejects.toThrow(RangeError);
      expect(fake.state.calls).toEqual([]);
    });
  });

  describe('tasks', () => {
    it('a failed create task is vmmanager_task_failed with its message; the row stays, its IPs return', async () => {
      const c = client();
      const accountId = await newAccount(c);
      fake.faults.failTask('host_create', `Image upload failed (password ${ROOT_PASSWORD})`);
      const { hostId, taskId } = await c.createHost(HOST(accountId));
      const e = await refusal(c.waitTask(taskId, 'host_create'));
      expect(flags(e)).toEqual({ code: 'vmmanager_task_failed', retryable: false, ambiguous: false });
      expect(e.upstreamMessage).toBe('Image upload failed (password ***)');
      expect(e.taskId).toBe(taskId);
      expect(e.taskName).toBe('host_create');
      expect((await c.getHost(hostId)).state).toBe('create_failed');
      expect(fake.state.clusters.get(1)!.freeIps[0]).toBe('192.0.2.10');
      await c.deleteHost(hostId);
      expect(await c.findHostsByName('vps-1042')).toEqual([]);
    });

    it('a failing reinstall scrubs the root password sent in that call', async () => {
      const c = client();
      const { hostId, taskId } = await c.createHost(HOST(await newAccount(c)));
      await c.waitTask(taskId, 'host_create');
      fake.faults.failTask('host_reinstall', `cannot set ${ROOT_PASSWORD}`);
      const e = await refusal(c.reinstall(hostId, { osId: 2, password: ROOT_PASSWORD }));
      expect(e.code).toBe('vmmanager_task_failed');
      expect(e.message).toContain('cannot set ***');
    });

    it('waiting is bounded: vmmanager_task_timeout after taskTimeoutMs / taskPollMs polls', async () => {
      await fake.close();
      fake = await startFakeVmmanager({ taskDelayMs: null });
      const c = client({ taskPollMs: 10, taskTimeoutMs: 50 });
      const { taskId } = await c.createHost(HOST(await newAccount(c)));
      const e = await refusal(c.waitTask(taskId, 'host_create'));
      expect(flags(e)).toEqual({ code: 'vmmanager_task_timeout', retryable: true, ambiguous: true });
      expect(fake.state.callsOf('GET', '/vm/v3/task')).toHaveLength(5);
      expect(fake.tick()).toBe(1);
      await c.waitTask(taskId, 'host_create');
    });

    it('a 503 while polling counts as a poll, not a failure', async () => {
      const c = client();
      const { taskId } = await c.createHost(HOST(await newAccount(c)));
      fake.faults.unavailable = 2;
      await c.waitTask(taskId, 'host_create');
      expect(fake.state.callsOf('GET', '/vm/v3/task')).toHaveLength(3);
    });

    it('a task the panel does not list is waited for, then timed out', async () => {
      const e = await refusal(client().waitTask(424242, 'host_create'));
      expect(e.code).toBe('vmmanager_task_timeout');
      expect(e.message).toContain('not listed');
    });
  });

  describe('faults', () => {
    it('503 (waking up) is vmmanager_unavailable, retryable, not ambiguous — at login and on a POST', async () => {
      const c = client();
      fake.faults.unavailable = 1;
      expect(flags(await refusal(c.listClusters()))).toEqual({
        code: 'vmmanager_unavailable',
        retryable: true,
        ambiguous: false,
      });
      const accountId = await newAccount(c);
      fake.faults.unavailable = 1;
      expect(flags(await refusal(c.createHost(HOST(accountId))))).toEqual({
        code: 'vmmanager_unavailable',
        retryable: true,
        ambiguous: false,
      });
      expect(fake.state.hosts.size).toBe(0);
      // The caller's retry succeeds.
      expect((await c.createHost(HOST(accountId))).hostId).toBeGreaterThan(0);
    });

    it('no free IP in the cluster is vmmanager_no_free_ip (knob and a pool run dry)', async () => {
      const c = client();
      const accountId = await newAccount(c);
      fake.faults.noFreeIp = true;
      expect(flags(await refusal(c.createHost(HOST(accountId))))).toEqual({
        code: 'vmmanager_no_free_ip',
        retryable: false,
        ambiguous: false,
      });
      fake.faults.noFreeIp = false;
      const lxd = { ...HOST(accountId), clusterId: 2, osId: 3, ipv4Number: 2 };
      const { hostId, taskId } = await c.createHost(lxd);
      await c.waitTask(taskId, 'host_create');
      expect((await c.getHost(hostId)).ipv4).toEqual(['198.51.100.10', '198.51.100.11']);
      expect((await refusal(c.createHost({ ...lxd, name: 'vps-2', ipv4Number: 1 }))).code).toBe(
        'vmmanager_no_free_ip',
      );
      expect((await refusal(c.addIpv4(hostId, 1))).code).toBe('vmmanager_no_free_ip');
    });

    it('no node for the VM is vmmanager_no_free_server', async () => {
      const c = client();
      const accountId = await newAccount(c);
      fake.faults.noFreeNode = true;
      expect(flags(await refusal(c.createHost(HOST(accountId))))).toEqual({
        code: 'vmmanager_no_free_server',
        retryable: false,
        ambiguous: false,
      });
    });

    it('a 5xx is retryable; ambiguous after a POST, not after a GET', async () => {
      const c = client();
      const accountId = await newAccount(c);
      fake.faults.http.push({ method: 'POST', path: '/vm/v3/host', status: 500, code: 1, msg: 'boom' });
      const post = await refusal(c.createHost(HOST(accountId)));
      expect(flags(post)).toEqual({ code: 'vmmanager_http_5xx', retryable: true, ambiguous: true });
      expect(post.upstreamMessage).toBe('boom');
      fake.faults.http.push({ path: '/vm/v3/host', status: 502 });
      expect(flags(await refusal(c.findHostsByName('x')))).toEqual({
        code: 'vmmanager_http_5xx',
        retryable: true,
        ambiguous: false,
      });
    });

    it('a create that timed out is ambiguous, and the host is found by name afterwards', async () => {
      const c = client({ timeoutMs: 150 });
      const accountId = await newAccount(c);
      fake.faults.slow.push({ method: 'POST', path: '/vm/v3/host', ms: 1000 });
      const e = await refusal(c.createHost(HOST(accountId)));
      expect(flags(e)).toEqual({ code: 'vmmanager_timeout', retryable: true, ambiguous: true });
      const [found] = await c.findHostsByName('vps-1042');
      expect(found?.state).toBe('active');
    });

    it('an answer that is not JSON is vmmanager_invalid_answer (ambiguous after a POST)', async () => {
      const c = client();
      fake.faults.http.push({ path: '/vm/v3/cluster', status: 200 });
      expect(flags(await refusal(c.listClusters()))).toEqual({
        code: 'vmmanager_invalid_answer',
        retryable: false,
        ambiguous: false,
      });
      const accountId = await newAccount(c);
      fake.faults.http.push({ method: 'POST', path: '/vm/v3/host', status: 200 });
      expect(flags(await refusal(c.createHost(HOST(accountId))))).toEqual({
        code: 'vmmanager_invalid_answer',
        retryable: false,
        ambiguous: true,
      });
    });

    it('panel text echoing the admin password is scrubbed', async () => {
      const c = client();
      fake.faults.http.push({
        path: '/vm/v3/cluster',
        status: 400,
        code: 7,
        msg: `bad ${DEFAULT_ADMIN.password}`,
      });
      const e = await refusal(c.listClusters());
      expect(e.upstreamMessage).toBe('bad ***');
    });

    it('a panel that is not there is vmmanager_unreachable, not ambiguous', async () => {
      const url = fake.url;
      await fake.close();
      const e = await refusal(client({ url }).listClusters());
      expect(flags(e)).toEqual({ code: 'vmmanager_unreachable', retryable: true, ambiguous: false });
      fake = await startFakeVmmanager();
    });
  });
});
