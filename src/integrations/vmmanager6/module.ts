import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  defineModuleType,
  type ItemCall,
  type ModuleInstance,
  type OperationCall,
  OperationError,
  type OperationOutcome,
  type RemoteItem,
  type ServiceSnapshot,
} from '../../modules/provisioning/index.js';
import { LicensePeriods, withBundledLicense } from '../billmanager/bundled.js';
import { createClient, type VmHost, type VmmanagerClient, VmmanagerError } from './client.js';

/**
 * The `vmmanager6` module type: virtual servers (product type `vds`) on an ISPsystem
 * VMmanager 6 panel, with the panel administrator's account (INTEGRATIONS.md, D18).
 *
 * - Each Billfold account gets one VMmanager account of role `@user`, found or created by a
 *   stable address `billfold-<accountId>@<accountEmailDomain>`: it does not change when the
 *   client's users or e-mail change, and cannot collide with a person's own panel user.
 * - A VM is named `billfold-<serviceId>`; that name is how an attempt that may have created
 *   it (a lost answer, a dead worker) finds it before creating again.
 * - The root password is generated here and kept only sealed (`rootPasswordSealed`).
 */

const Config = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .meta({ description: 'The VMmanager 6 panel address, e.g. https://vm.example.com (or …/api)' }),
  email: z.string().trim().min(3).max(200).meta({ description: "The panel administrator's e-mail" }),
  password: z.string().min(1).max(500),
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(300_000)
    .optional()
    .meta({ description: 'Per request; default 30 s' }),
  taskPollMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .optional()
    .meta({ description: 'Between polls of a running task; default 3 s' }),
  taskTimeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .optional()
    .meta({ description: 'How long one attempt waits for a task; default 15 min' }),
  accountEmailDomain: z
    .string()
    .trim()
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, 'a domain name')
    .max(200)
    .optional()
    .meta({
      description:
        'Domain of the panel accounts Billfold creates for its clients (billfold-<accountId>@domain); default billfold.invalid',
    }),
  licensePeriods: LicensePeriods,
});
export type VmmanagerConfig = z.infer<typeof Config>;

const PanelId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const Count = (what: string) => z.number().int().min(1).max(1_000_000_000).meta({ description: what });

/** Per tariff: where and how its VMs are made. */
const TariffSettings = z
  .strictObject({
    clusterId: PanelId.meta({ description: 'The VMmanager cluster VMs are created in' }),
    osIds: z.array(PanelId).min(1).max(100).meta({
      description:
        'OS templates offered (ids); the first is the default, the service parameter os_template (or os) may choose another of them by id or name',
    }),
    presetId: PanelId.optional().meta({
      description: 'A VMmanager preset giving the resources not set explicitly here',
    }),
    cpu: Count('CPU cores').optional(),
    ramMib: Count('RAM in MiB').optional(),
    hddMib: Count('Main disk in MiB').optional(),
    ipv4Number: z.number().int().min(0).max(64).optional().meta({ description: 'IPv4 addresses; default 1' }),
    ramAddonUnitMib: Count(
      "MiB per unit of an addon of kind ram; default: from the addon's unit (MiB 1, GB 1024, TB 1048576; none: MiB)",
    ).optional(),
    diskAddonUnitMib: Count(
      "MiB per unit of an addon of kind disk; default: from the addon's unit (MiB 1, GB 1024, TB 1048576; none: MiB)",
    ).optional(),
  })
  .meta({
    description:
      'Resources: the preset, overridden by cpu/ramMib/hddMib/ipv4Number, overridden by the service addons of kind cpu, ram, disk (sized by their unit, or the *AddonUnitMib settings) and ipv4',
  });
type TariffSettings = z.infer<typeof TariffSettings>;

// One client (one panel session) per module and configuration, shared by the process's operations.
const clients = new Map<string, VmmanagerClient>();
const CLIENT_CACHE = 64;

export function clientOf(module: ModuleInstance<VmmanagerConfig>): VmmanagerClient {
  const c = module.config;
  const key = JSON.stringify([
    module.id,
    c.url,
    c.email,
    c.password,
    c.timeoutMs,
    c.taskPollMs,
    c.taskTimeoutMs,
  ]);
  let client = clients.get(key);
  if (!client) {
    if (clients.size >= CLIENT_CACHE) clients.delete(clients.keys().next().value!);
    client = createClient({
      url: c.url,
      email: c.email,
      password: c.password,
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
      ...(c.taskPollMs ? { taskPollMs: c.taskPollMs } : {}),
      ...(c.taskTimeoutMs ? { taskTimeoutMs: c.taskTimeoutMs } : {}),
    });
    clients.set(key, client);
  }
  return client;
}

/** A client failure as the engine understands it: the client's code and `retryable` kept. */
export function operationErrorOf(err: unknown): OperationError {
  if (err instanceof OperationError) return err;
  if (err instanceof VmmanagerError) return new OperationError(err.code, err.message, err.retryable);
  throw err;
}

async function panel<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw operationErrorOf(err);
  }
}

function settingsOf(call: { tariffSettings: Readonly<Record<string, unknown>> }): TariffSettings {
  const parsed = TariffSettings.safeParse(call.tariffSettings);
  if (!parsed.success)
    throw new OperationError(
      'tariff_settings_missing',
      'The tariff has no VMmanager settings (cluster, OS templates) for this module; link it with its settings.',
      false,
    );
  return parsed.data;
}

export const hostNameOf = (service: { id: number }) => `billfold-${service.id}`;
export const accountEmailOf = (config: VmmanagerConfig, accountId: number) =>
  `billfold-${accountId}@${config.accountEmailDomain ?? 'billfold.invalid'}`;

/** A password of 24 characters from 18 random bytes, with the classes panels tend to demand. */
const newPassword = () => `${randomBytes(18).toString('base64url')}aA1`;

/** The addon of a kind the client chose a number for (the last one wins), with its unit; or null. */
function addonOf(service: ServiceSnapshot, kind: string): { value: number; unit: string | null } | null {
  let out: { value: number; unit: string | null } | null = null;
  for (const a of service.addons)
    if (a.kind === kind && a.valueType === 'integer' && typeof a.value === 'number')
      out = { value: a.value, unit: a.unit };
  return out;
}

const MIB_PER: Readonly<Record<string, number>> = {
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
};

/**
 * MiB in one unit of a RAM or disk addon: the tariff setting when staff gave one, else read
 * from the addon's own unit (`GB` → 1024); an addon without a unit counts MiB. A unit that
 * names no size fails for staff rather than make a VM of the wrong size.
 */
export function mibPerUnit(
  addon: { unit: string | null },
  explicit: number | undefined,
  setting: string,
): number {
  if (explicit !== undefined) return explicit;
  const unit = addon.unit?.trim().toLowerCase() ?? '';
  if (unit === '') return 1;
  const mib = MIB_PER[unit];
  if (mib === undefined)
    throw new OperationError(
      'addon_unit_unknown',
      `The addon's unit "${addon.unit}" is not a size VMmanager understands (MiB, GB, TB); set ${setting} in the tariff's settings.`,
      false,
    );
  return mib;
}

interface Resources {
  cpu: number;
  ramMib: number;
  hddMib: number;
  ipv4Number: number;
}

/** The preset, overridden by the tariff's explicit values, overridden by the service's addons. */
async function resourcesOf(
  client: VmmanagerClient,
  settings: TariffSettings,
  service: ServiceSnapshot,
): Promise<Resources> {
  let preset: { cpu: number | null; ramMib: number | null; hddMib: number | null } | null = null;
  if (settings.presetId !== undefined) {
    preset = (await panel(() => client.listPresets())).find((p) => p.id === settings.presetId) ?? null;
    if (!preset)
      throw new OperationError(
        'vmmanager_preset_gone',
        `VMmanager has no preset ${settings.presetId}; correct the tariff's settings.`,
        false,
      );
  }
  const pick = (explicit: number | undefined, fromPreset: number | null | undefined, what: string) => {
    const v = explicit ?? fromPreset ?? null;
    if (v === null)
      throw new OperationError(
        'tariff_settings_missing',
        `The tariff's VMmanager settings give no ${what} (set it, or a preset).`,
        false,
      );
    return v;
  };
  const ram = addonOf(service, 'ram');
  const disk = addonOf(service, 'disk');
  return {
    cpu: addonOf(service, 'cpu')?.value ?? pick(settings.cpu, preset?.cpu, 'CPU count'),
    ramMib: ram
      ? ram.value * mibPerUnit(ram, settings.ramAddonUnitMib, 'ramAddonUnitMib')
      : pick(settings.ramMib, preset?.ramMib, 'RAM'),
    hddMib: disk
      ? disk.value * mibPerUnit(disk, settings.diskAddonUnitMib, 'diskAddonUnitMib')
      : pick(settings.hddMib, preset?.hddMib, 'disk'),
    ipv4Number: addonOf(service, 'ipv4')?.value ?? settings.ipv4Number ?? 1,
  };
}

/** The OS the service asked for (`os_template` or `os`: an id or a name among those offered), else the first. */
async function osOf(
  client: VmmanagerClient,
  settings: TariffSettings,
  params: Readonly<Record<string, string>>,
): Promise<{ id: number; name: string }> {
  const templates = await panel(() => client.listOsTemplates(settings.clusterId));
  const offered = settings.osIds.flatMap((id) => templates.filter((t) => t.id === id));
  const asked = (params.os_template ?? params.os ?? '').trim();
  const chosen =
    asked === ''
      ? offered.find((t) => t.id === settings.osIds[0])
      : offered.find(
          (t) =>
            (/^\d+$/.test(asked) && t.id === Number(asked)) ||
            t.name.toLowerCase() === asked.toLowerCase() ||
            (t.group !== null && t.group.toLowerCase() === asked.toLowerCase()),
        );
  if (!chosen) {
    if (asked !== '' && offered.length > 0)
      throw new OperationError(
        'os_not_offered',
        `The OS "${asked}" is not among this tariff's OS templates (${offered.map((t) => t.name).join(', ')}).`,
        false,
      );
    throw new OperationError(
      'vmmanager_os_gone',
      `VMmanager cluster ${settings.clusterId} has no OS template ${settings.osIds[0]}; correct the tariff's settings.`,
      false,
    );
  }
  return { id: chosen.id, name: chosen.name };
}

interface HostIntent extends Resources {
  name: string;
  clusterId: number;
  osId: number;
  osName: string;
  presetId: number | null;
  /** The root password, sealed with the installation's key. */
  passwordSealed: string;
}

/** The client's panel account: found by its stable address, else created (looked up again after an ambiguous failure). */
async function accountOf(call: OperationCall<VmmanagerConfig>, client: VmmanagerClient): Promise<number> {
  const email = accountEmailOf(call.module.config, call.service.accountId);
  const found = await panel(() => client.findAccount(email));
  if (found) return found.id;
  try {
    // Clients do not sign in to the panel (yet): the password is not kept.
    return (await client.createAccount({ email, password: newPassword() })).id;
  } catch (err) {
    if (err instanceof VmmanagerError && err.ambiguous) {
      const after = await panel(() => client.findAccount(email));
      if (after) return after.id;
    }
    throw operationErrorOf(err);
  }
}

/** A host an earlier attempt made under this name (one that failed to be created is not it). */
async function madeEarlier(client: VmmanagerClient, name: string): Promise<VmHost | null> {
  const hosts = await panel(() => client.findHostsByName(name));
  return hosts.find((h) => h.state !== 'create_failed') ?? null;
}

/**
 * Creates the VM, exactly once: the intent (resources, OS, sealed root password) is saved
 * before anything is sent; an attempt that finds the intent already saved, or whose create
 * failed ambiguously, looks the VM up by name before creating again. The host id is saved
 * before its task is waited for. Active only once `host_create` completed and an IPv4 is known.
 */
async function open(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const client = clientOf(call.module);
  const tried = call.hasStep('intent-host');
  const intent = await call.step<HostIntent>('intent-host', async () => {
    const resources = await resourcesOf(client, settings, call.service);
    const os = await osOf(client, settings, call.service.params);
    return {
      name: hostNameOf(call.service),
      clusterId: settings.clusterId,
      osId: os.id,
      osName: os.name,
      presetId: settings.presetId ?? null,
      ...resources,
      passwordSealed: call.ctx.secrets.seal(newPassword()),
    };
  });
  const accountId = await call.step('account', () => accountOf(call, client));
  // Each create whose task failed is recorded (`failed-<n>`, its VM deleted); a staff retry
  // then creates anew under the next step name instead of waiting on the failed task again.
  let failures = 0;
  while (call.hasStep(`failed-${failures + 1}`)) failures++;
  const hostStep = failures === 0 ? 'host' : `host-${failures + 1}`;
  const created = await call.step<{ hostId: number; taskId: number | null }>(hostStep, async () => {
    if (tried) {
      const found = await madeEarlier(client, intent.name);
      if (found) return { hostId: found.id, taskId: null };
    }
    try {
      return await client.createHost({
        name: intent.name,
        clusterId: intent.clusterId,
        osId: intent.osId,
        password: call.ctx.secrets.open(intent.passwordSealed),
        cpu: intent.cpu,
        ramMib: intent.ramMib,
        hddMib: intent.hddMib,
        ipv4Number: intent.ipv4Number,
        accountId,
        ...(intent.presetId !== null ? { presetId: intent.presetId } : {}),
      });
    } catch (err) {
      if (err instanceof VmmanagerError && err.ambiguous) {
        const found = await madeEarlier(client, intent.name);
        if (found) return { hostId: found.id, taskId: null };
      }
      throw operationErrorOf(err);
    }
  });
  const failed = async (message: string): Promise<never> => {
    // What the failed create took (its addresses, the host row) is given back.
    await call.step(`failed-${failures + 1}`, async () => {
      await panel(() => client.deleteHost(created.hostId));
      return message;
    });
    throw new OperationError('vmmanager_task_failed', message, false);
  };
  if (created.taskId !== null) {
    try {
      await client.waitTask(created.taskId, 'host_create');
    } catch (err) {
      if (err instanceof VmmanagerError && err.code === 'vmmanager_task_failed')
        await failed(err.upstreamMessage ?? err.message);
      throw operationErrorOf(err);
    }
  }
  const host = await panel(() => client.getHost(created.hostId));
  if (host.state === 'create_failed') await failed(`VMmanager could not create VM ${host.id}.`);
  if (host.state === 'creating' || host.ipv4.length === 0)
    throw new OperationError(
      'vmmanager_host_not_ready',
      `VMmanager VM ${host.id} is ${host.state || 'not ready'}${host.ipv4.length === 0 ? ' and has no IPv4 address yet' : ''}.`,
      true,
    );
  return {
    externalId: String(host.id),
    serviceParams: {
      ip: host.ipv4[0]!,
      ips: host.ipv4.join(','),
      os: intent.osName,
      osId: String(intent.osId),
      rootPasswordSealed: intent.passwordSealed,
    },
  };
}

function hostIdOf(service: ServiceSnapshot): number | null {
  if (service.externalId === null || !/^\d{1,15}$/.test(service.externalId)) return null;
  return Number(service.externalId);
}

/** The host a lifecycle operation acts on; a suspend or resume of a VM that is not there fails for staff. */
async function existingHost(client: VmmanagerClient, service: ServiceSnapshot): Promise<VmHost> {
  const id = hostIdOf(service);
  if (id === null) throw new OperationError('not_created', 'The VM was never created in VMmanager.', false);
  return panel(() => client.getHost(id));
}

/** Stops the VM (skipped when it is stopped already). */
async function suspend(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const client = clientOf(call.module);
  const host = await existingHost(client, call.service);
  if (host.state !== 'stopped') await panel(() => client.stopHost(host.id));
  return {};
}

/** Starts the VM (skipped when it runs already). */
async function resume(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const client = clientOf(call.module);
  const host = await existingHost(client, call.service);
  if (host.state !== 'active') await panel(() => client.startHost(host.id));
  return {};
}

/**
 * Deletes the VM and waits for `host_delete`; a VM already gone is done. A service whose open
 * never recorded a host still has its name looked up: an attempt may have made one.
 */
async function close(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const client = clientOf(call.module);
  const id = hostIdOf(call.service);
  const ids =
    id !== null
      ? [id]
      : (await panel(() => client.findHostsByName(hostNameOf(call.service)))).map((h) => h.id);
  for (const hostId of ids) await panel(() => client.deleteHost(hostId));
  return {};
}

/** Waits for a task the operation started; a task that failed is the panel's refusal (permanent). */
async function waitFor(client: VmmanagerClient, taskId: number, name?: string): Promise<void> {
  try {
    await client.waitTask(taskId, name);
  } catch (err) {
    if (err instanceof VmmanagerError && err.code === 'vmmanager_task_failed')
      throw new OperationError(err.code, err.upstreamMessage ?? err.message, false);
    throw operationErrorOf(err);
  }
}

/**
 * Reinstalls the VM with the OS asked for (an id or a name among the tariff's templates, as
 * `open` chooses) and a new root password, exactly once: the intent (OS, sealed password, the
 * host's last `host_reinstall` task) is saved before the call; an attempt that finds it saved, or
 * whose call failed ambiguously, looks for a newer `host_reinstall` task before starting one.
 */
async function reinstall(call: OperationCall<VmmanagerConfig>, asked: string): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const client = clientOf(call.module);
  const host = await existingHost(client, call.service);
  const tried = call.hasStep('intent-reinstall');
  const intent = await call.step('intent-reinstall', async () => {
    const os = await osOf(client, settings, { os: asked });
    const before = await panel(() => client.hostTasks(host.id, 'host_reinstall'));
    return {
      osId: os.id,
      osName: os.name,
      passwordSealed: call.ctx.secrets.seal(newPassword()),
      taskBefore: before.at(-1)?.consulId ?? 0,
    };
  });
  const started = async () =>
    (await panel(() => client.hostTasks(host.id, 'host_reinstall'))).find(
      (t) => t.consulId > intent.taskBefore,
    )?.consulId ?? null;
  const taskId = await call.step('reinstall', async () => {
    if (tried) {
      const found = await started();
      if (found !== null) return found;
    }
    try {
      return (
        await client.startReinstall(host.id, {
          osId: intent.osId,
          password: call.ctx.secrets.open(intent.passwordSealed),
        })
      ).taskId;
    } catch (err) {
      if (err instanceof VmmanagerError && err.ambiguous) {
        const found = await started();
        if (found !== null) return found;
      }
      throw operationErrorOf(err);
    }
  });
  await waitFor(client, taskId, 'host_reinstall');
  return {
    serviceParams: {
      os: intent.osName,
      osId: String(intent.osId),
      rootPasswordSealed: intent.passwordSealed,
    },
  };
}

/**
 * A new root password: generated once (the intent, sealed) and set on the VM. Setting the same
 * password again changes nothing, so a repeat after a lost answer is harmless.
 */
async function resetPassword(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const client = clientOf(call.module);
  const host = await existingHost(client, call.service);
  // Saved under a `…Sealed` name: presenters never show such a value, at any depth.
  const { passwordSealed } = await call.step('intent-password', async () => ({
    passwordSealed: call.ctx.secrets.seal(newPassword()),
  }));
  await panel(() => client.setPassword(host.id, call.ctx.secrets.open(passwordSealed)));
  return { serviceParams: { rootPasswordSealed: passwordSealed } };
}

/**
 * After a tariff change (or an addon change): the VM gets the resources the service's tariff
 * settings and addons now give (resourcesOf, as at open). Checked before anything changes:
 * VMmanager cannot move a VM to another cluster, shrink its disk or take addresses back, so
 * these fail for staff. Then CPU/RAM (`host_change_params`), the disk grown (`disk_resize`),
 * addresses added (`ip_change`, a delta: the count and the last such task are saved first; after
 * a lost answer a newer task is waited for and the addresses counted again). Each part is compared with the VM first, so a repeat does only what is left.
 */
async function changeTariff(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const client = clientOf(call.module);
  const host = await existingHost(client, call.service);
  const want = await resourcesOf(client, settings, call.service);
  const staff = (code: string, message: string) => new OperationError(code, message, false);
  if (host.clusterId !== null && host.clusterId !== settings.clusterId)
    throw staff(
      'vmmanager_cluster_change',
      `VM ${host.id} is in cluster ${host.clusterId}; the new tariff creates VMs in cluster ${settings.clusterId}. VMmanager cannot move it: migrate it by hand and retry this operation, or cancel it.`,
    );
  if (host.diskMib !== null && want.hddMib < host.diskMib)
    throw staff(
      'vmmanager_disk_shrink',
      `VM ${host.id} has a ${host.diskMib} MiB disk; the new tariff gives ${want.hddMib} MiB. VMmanager only grows disks: shrink it by hand and retry this operation, or cancel it to keep the larger disk.`,
    );
  const ipIntent = await call.step('intent-ipv4', async () => ({
    count: host.ipv4.length,
    taskBefore: (await panel(() => client.hostTasks(host.id, 'ip_change'))).at(-1)?.consulId ?? 0,
  }));
  const ipsBefore = ipIntent.count;
  if (want.ipv4Number < ipsBefore)
    throw staff(
      'vmmanager_ipv4_decrease',
      `VM ${host.id} has ${ipsBefore} IPv4 address(es); the new tariff gives ${want.ipv4Number}. Remove the extra ones in VMmanager by hand and retry this operation, or cancel it to keep them.`,
    );
  if (host.cpu !== want.cpu || host.ramMib !== want.ramMib)
    await panel(() => client.changeResources(host.id, { cpu: want.cpu, ramMib: want.ramMib }));
  if (host.diskId !== null && host.diskMib !== null && want.hddMib > host.diskMib)
    await panel(() => client.growDisk(host.diskId!, want.hddMib));
  const more = want.ipv4Number - ipsBefore;
  if (more > 0) {
    await call.step('ipv4', async () => {
      // An earlier attempt's addition may have gone through (its task still running, its
      // addresses not shown yet): wait for it, then add only what is still missing.
      const earlier = await panel(() => client.hostTasks(host.id, 'ip_change'));
      for (const t of earlier)
        if (t.consulId > ipIntent.taskBefore && t.status !== 'complete' && t.status !== 'fail')
          await waitFor(client, t.consulId, 'ip_change');
      const now = (await panel(() => client.getHost(host.id))).ipv4.length;
      const missing = want.ipv4Number - now;
      if (missing > 0) await panel(() => client.addIpv4(host.id, missing));
      return want.ipv4Number;
    });
  }
  const after = await panel(() => client.getHost(host.id));
  return {
    serviceParams: {
      ...(after.ipv4[0] ? { ip: after.ipv4[0] } : {}),
      ips: after.ipv4.join(','),
    },
  };
}

/**
 * The changes the core asks of a VM (`set_param`, SetParamPayload): after a tariff or addon
 * change `{tariffId}`; `{param: 'os', value}` a reinstall; `{param: 'password'}` a new root
 * password. Anything else is refused for good.
 */
async function setParam(call: OperationCall<VmmanagerConfig>): Promise<OperationOutcome> {
  const p = call.operation.payload;
  if (typeof p.tariffId === 'number') return changeTariff(call);
  if (p.param === 'os' && typeof p.value === 'string') return reinstall(call, p.value);
  if (p.param === 'password') return resetPassword(call);
  throw new OperationError(
    'param_unsupported',
    `The VMmanager module cannot change "${String(p.param ?? Object.keys(p).join(','))}".`,
    false,
  );
}

const STATUS_OF: Record<string, RemoteItem['status']> = {
  creating: 'processing',
  reinstalling: 'processing',
  active: 'active',
  stopped: 'suspended',
};

/** The VM as the panel has it: running or stopped, its addresses, OS and resources; null when gone. */
async function syncItem(call: ItemCall<VmmanagerConfig>): Promise<RemoteItem | null> {
  const id = hostIdOf(call.service);
  if (id === null) return null;
  let host: VmHost;
  try {
    host = await clientOf(call.module).getHost(id);
  } catch (err) {
    if (err instanceof VmmanagerError && err.code === 'vmmanager_not_found') return null;
    throw operationErrorOf(err);
  }
  const num = (k: string, v: number | null) => (v === null ? {} : { [k]: String(v) });
  return {
    externalId: String(host.id),
    remoteId: null,
    name: host.name,
    status: STATUS_OF[host.state] ?? 'unknown',
    expiresOn: null,
    params: {
      ...(host.ipv4[0] ? { ip: host.ipv4[0] } : {}),
      ips: host.ipv4.join(','),
      ...(host.osName ? { os: host.osName } : {}),
      ...num('osId', host.osId),
      ...num('cpu', host.cpu),
      ...num('ramMib', host.ramMib),
      ...num('hddMib', host.diskMib),
      state: host.state,
    },
  };
}

export const vmmanager6ModuleType = defineModuleType<VmmanagerConfig>({
  type: 'vmmanager6',
  title: 'VMmanager 6 (virtual servers)',
  productTypes: ['vds'],
  configSchema: Config as unknown as z.ZodType<VmmanagerConfig>,
  secretFields: ['password'],
  tariffSettingsSchema: TariffSettings as unknown as z.ZodType<Record<string, unknown>>,
  usesLicenseServer: true,
  features: ['checkConnection', 'open', 'suspend', 'resume', 'close', 'setParam', 'syncItem', 'prolong'],
  serverParams: ['os', 'password', 'ip'],
  async checkConnection(module) {
    const { clusters } = await panel(() => clientOf(module).checkConnection());
    return {
      message: `Signed in to ${module.config.url} as ${module.config.email}; clusters: ${
        clusters.map((c) => `${c.id} ${c.name}`).join(', ') || 'none'
      }.`,
    };
  },
  ...withBundledLicense<VmmanagerConfig>({ open, suspend, resume, close, setParam }),
  syncItem,
});
