import { randomInt } from 'node:crypto';
import { z } from 'zod';
import {
  defineModuleType,
  type ItemCall,
  type ModuleInstance,
  type OperationCall,
  OperationError,
  type OperationOutcome,
  type RemoteItem,
} from '../../modules/provisioning/index.js';
import { LicensePeriods, withBundledLicense } from '../billmanager/bundled.js';
import {
  createClient,
  type DcimanagerClient,
  DcimanagerError,
  type DciServer,
  type DciTask,
} from './client.js';

/**
 * The `dcimanager6` module type: dedicated servers (`dedic`) handed out from a DCImanager 6
 * panel's free pool (INTEGRATIONS.md "DCImanager 6 module"). `open` claims a free server of the
 * tariff's hardware configuration for the client's DCImanager account, installs the OS and
 * reads the IPv4; suspend/resume switch the ports down/up; close powers off, frees the extra
 * addresses and clears the owner, so the server goes back to the pool. Every remote change is
 * made exactly once across attempts: an `intent…` step before it, the result saved at once,
 * and a look at the panel before a repeat when an answer was lost.
 */

const Config = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .meta({ description: 'The DCImanager 6 panel root (https://host or https://host/api)' }),
  email: z.string().trim().min(3).max(200).meta({ description: "An admin's e-mail (the login)" }),
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
    .max(600_000)
    .optional()
    .meta({ description: 'How often a running OS install or power operation is read; default 10 s' }),
  licensePeriods: LicensePeriods,
});
export type Dcimanager6Config = z.infer<typeof Config>;

const Id = z.number().int().positive();

const TariffSettings = z.strictObject({
  configuration: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .meta({ description: 'The hardware configuration string of the servers sold (DCImanager)' }),
  locationId: Id.meta({ description: 'The DCImanager location the servers are taken from' }),
  osIds: z
    .array(Id)
    .min(1)
    .max(100)
    .meta({ description: 'OS template ids offered; the first is the default' }),
  configurationByAddon: z
    .strictObject({
      addonId: Id,
      values: z.record(z.string().max(100), z.string().trim().min(1).max(200)),
    })
    .optional()
    .meta({
      description:
        "An addon of the tariff that chooses the hardware: the client's value (a number, an enumeration value's internal name, true/false) → configuration string; other values keep `configuration`",
    }),
});
type TariffSettings = z.infer<typeof TariffSettings>;

// One client (one panel session) per module and configuration, shared by its operations.
const clients = new Map<string, DcimanagerClient>();
const CLIENT_CACHE = 64;

export function clientOf(module: ModuleInstance<Dcimanager6Config>): DcimanagerClient {
  const c = module.config;
  const key = JSON.stringify([module.id, c.url, c.email, c.password, c.timeoutMs, c.taskPollMs]);
  let client = clients.get(key);
  if (!client) {
    if (clients.size >= CLIENT_CACHE) clients.delete(clients.keys().next().value!);
    client = createClient({
      url: c.url,
      email: c.email,
      password: c.password,
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
      ...(c.taskPollMs ? { taskPollMs: c.taskPollMs } : {}),
    });
    clients.set(key, client);
  }
  return client;
}

/** A panel failure as the engine understands it: the client's code, message and `retryable`. */
export function operationErrorOf(err: unknown): OperationError {
  if (err instanceof OperationError) return err;
  if (err instanceof DcimanagerError) return new OperationError(err.code, err.message, err.retryable);
  throw err;
}

async function panel<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw operationErrorOf(err);
  }
}

const ambiguous = (err: unknown) => err instanceof DcimanagerError && err.ambiguous;

function settingsOf(call: { tariffSettings: Readonly<Record<string, unknown>> }): TariffSettings {
  const parsed = TariffSettings.safeParse(call.tariffSettings);
  if (!parsed.success)
    throw new OperationError(
      'tariff_settings_missing',
      'The tariff has no DCImanager configuration, location and OS templates set for this module.',
      false,
    );
  return parsed.data;
}

/** The hardware configuration of the service: the tariff's, or the one its addon value chooses. */
export function configurationOf(settings: TariffSettings, service: OperationCall['service']): string {
  const map = settings.configurationByAddon;
  if (!map) return settings.configuration;
  const addon = service.addons.find((a) => a.addonId === map.addonId);
  if (!addon || addon.value === null) return settings.configuration;
  const keys =
    addon.valueType === 'enumeration'
      ? [addon.internalName, String(addon.value)].filter((k): k is string => k !== null)
      : [String(addon.value)];
  for (const k of keys) if (map.values[k] !== undefined) return map.values[k];
  return settings.configuration;
}

/** The OS template: the service's `os_template` (or `os`) when it names an offered id, else the default. */
export function osIdOf(settings: TariffSettings, params: Readonly<Record<string, string>>): number {
  for (const v of [params.os, params.os_template]) {
    const n = v !== undefined && /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : null;
    if (n !== null && settings.osIds.includes(n)) return n;
  }
  return settings.osIds[0]!;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A root password: 20 random characters with upper and lower case letters and digits. */
export function generatePassword(): string {
  for (;;) {
    let s = '';
    for (let i = 0; i < 20; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s)) return s;
  }
}

const paramsOf = (s: DciServer): Record<string, string> => ({
  ...(s.ipv4[0] ? { ip: s.ipv4[0] } : {}),
  ips: s.ipv4.join(','),
  ...(s.osTemplate ? { os: s.osTemplate.name, osId: String(s.osTemplate.id) } : {}),
  serverId: String(s.id),
});

interface InstallPlan {
  osId: number;
  passwordSealed: string;
  /** The server's last operation before the install was asked for: a newer one is the install. */
  operationBefore: number | null;
}

/**
 * Starts an OS install exactly once (step `name`, its plan saved before as `intent…`): an
 * attempt that finds the plan already saved (`tried`), or whose request got no answer, looks
 * for a server operation newer than the plan's before asking again.
 */
async function installOnce(
  call: OperationCall<Dcimanager6Config>,
  client: DcimanagerClient,
  serverId: number,
  name: string,
  plan: InstallPlan,
  tried: boolean,
): Promise<DciTask> {
  return call.step<DciTask>(name, async () => {
    const started = async (): Promise<DciTask | null> => {
      const op = (await panel(() => client.getServer(serverId))).operation;
      return op && op.id !== plan.operationBefore ? { serverId, id: op.id, kind: 'os_install' } : null;
    };
    if (tried) {
      const found = await started();
      if (found) return found;
    }
    try {
      return await client.installOs(serverId, {
        osId: plan.osId,
        password: call.ctx.secrets.open(plan.passwordSealed),
      });
    } catch (err) {
      if (ambiguous(err)) {
        const found = await started();
        if (found) return found;
      }
      throw operationErrorOf(err);
    }
  });
}

/**
 * Opens a dedicated server, exactly once:
 * 1. the client's DCImanager account, found by e-mail or created (intent saved first);
 * 2. a free server of the configuration claimed for it; its id saved as a step at once. No free
 *    server is a retryable `dcimanager_no_free_server`: the order waits, then fails for staff;
 * 3. the OS installed with a generated root password (kept only sealed); the task saved before
 *    waiting. A failed install fails the operation with the panel's message; a retry after that
 *    installs again on the same server;
 * 4. the main IPv4 read: the service is active only now.
 */
async function open(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const client = clientOf(call.module);

  // 1. The account.
  const email = await call.step('intent-account', async () => call.service.accountEmail);
  const accountId = await call.step('account', async () => {
    const found = await panel(() => client.findAccount(email));
    if (found) return found.id;
    try {
      return (await client.createAccount({ email, password: generatePassword() })).id;
    } catch (err) {
      if (ambiguous(err)) {
        const again = await panel(() => client.findAccount(email));
        if (again) return again.id;
      }
      throw operationErrorOf(err);
    }
  });

  // 2. The server.
  const tried = call.hasStep('intent-server');
  const intent = await call.step('intent-server', async () => ({
    configuration: configurationOf(settings, call.service),
    locationId: settings.locationId,
  }));
  const serverId = await call.step('server', async () => {
    const mine = async () => {
      const taken = await call.heldExternalIds();
      const owned = await panel(() => client.findServersOf({ ownerId: accountId, ...intent }));
      return owned.find((s) => !taken.has(String(s.id)))?.id ?? null;
    };
    if (tried) {
      const found = await mine();
      if (found !== null) return found;
    }
    try {
      return (await client.claimFreeServer({ ...intent, ownerId: accountId })).id;
    } catch (err) {
      if (ambiguous(err)) {
        const found = await mine();
        if (found !== null) return found;
      }
      throw operationErrorOf(err);
    }
  });

  // 3. The OS: one install per failed one before it (`install`, `install-2`, ...).
  let n = 1;
  while (call.hasStep(`failed-${n}`)) n++;
  const name = n === 1 ? 'install' : `install-${n}`;
  const tryInstall = call.hasStep(`intent-${name}`);
  const plan = await call.step<InstallPlan>(`intent-${name}`, async () => {
    const before = await panel(() => client.getServer(serverId));
    return {
      osId: osIdOf(settings, call.service.params),
      passwordSealed: call.service.params.rootPasswordSealed ?? call.ctx.secrets.seal(generatePassword()),
      operationBefore: before.operation?.id ?? null,
    };
  });
  const task = await installOnce(call, client, serverId, name, plan, tryInstall);
  let server: DciServer;
  try {
    server = await client.waitTask(task);
  } catch (err) {
    if (err instanceof DcimanagerError && err.code === 'dcimanager_task_failed') {
      // Remembered, so a retry (staff's) installs again rather than waiting on the failed task.
      await call.step(`failed-${n}`, async () => err.upstreamMessage ?? err.message);
      throw new OperationError(err.code, err.upstreamMessage ?? err.message, false);
    }
    throw operationErrorOf(err);
  }
  return {
    externalId: String(serverId),
    serviceParams: {
      ...paramsOf(server),
      dciAccountId: String(accountId),
      rootPasswordSealed: plan.passwordSealed,
    },
  };
}

/** What reading a service's server takes: an operation's call or a read-only one (sync). */
type ServerCall = Pick<OperationCall<Dcimanager6Config>, 'module' | 'service'>;

function serverIdOf(call: ServerCall): number | null {
  const id = call.service.externalId;
  return id !== null && /^\d{1,15}$/.test(id) ? Number(id) : null;
}

/** The server as the panel has it, or null when it is gone (or no longer ours to act on). */
async function ourServer(call: ServerCall): Promise<DciServer | null> {
  const id = serverIdOf(call);
  if (id === null) return null;
  try {
    return await clientOf(call.module).getServer(id);
  } catch (err) {
    if (err instanceof DcimanagerError && err.code === 'dcimanager_not_found') return null;
    throw operationErrorOf(err);
  }
}

const dataPorts = (s: DciServer) => s.ports.filter((p) => !p.ipmi);

/** Suspend: the switch ports go down (power untouched); nothing to do when they are down. */
async function suspend(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const s = await ourServer(call);
  if (!s) return {};
  if (dataPorts(s).every((p) => p.adminStatus === 'down')) return {};
  await panel(() => clientOf(call.module).portDown(s.id));
  return {};
}

/** Resume: the switch ports go up; nothing to do when they are up. */
async function resume(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const s = await ourServer(call);
  if (!s) return {};
  if (dataPorts(s).every((p) => p.adminStatus === 'up')) return {};
  await panel(() => clientOf(call.module).portUp(s.id));
  return {};
}

/**
 * Close: power off, ports up again, extra addresses freed, owner cleared — the server returns
 * to the free pool. Each part is skipped when already done; a server another account owns
 * now (staff moved it) is left alone.
 */
async function close(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const s = await ourServer(call);
  if (!s || s.owner === null) return {};
  const client = clientOf(call.module);
  const ownerId = call.service.params.dciAccountId;
  if (ownerId !== undefined && s.owner.id !== null && String(s.owner.id) !== ownerId) return {};
  if (s.power !== 'off') await panel(() => client.powerOff(s.id));
  if (dataPorts(s).some((p) => p.adminStatus !== 'up')) await panel(() => client.portUp(s.id));
  await panel(() => client.freeExtraIps(s.id));
  await panel(() => client.setOwner(s.id, null));
  return {};
}

/** The server an owner's change acts on: it must exist and still be the client's. */
async function clientServer(call: OperationCall<Dcimanager6Config>): Promise<DciServer> {
  const s = await ourServer(call);
  if (!s) throw new OperationError('not_created', 'The service has no server in DCImanager.', false);
  const ownerId = call.service.params.dciAccountId;
  if (s.owner === null || (ownerId !== undefined && s.owner.id !== null && String(s.owner.id) !== ownerId))
    throw new OperationError(
      'dcimanager_not_owner',
      `DCImanager server ${s.id} is no longer this client's (its owner changed); staff must look.`,
      false,
    );
  return s;
}

/** The OS asked for: an offered template's id or name (case aside), as `open` offers them. */
async function chosenOs(
  client: DcimanagerClient,
  settings: TariffSettings,
  asked: string,
): Promise<{ id: number; name: string }> {
  const templates = await panel(() => client.listOsTemplates());
  const offered = settings.osIds.flatMap((id) => templates.filter((t) => t.id === id));
  const a = asked.trim();
  const chosen = offered.find(
    (t) => (/^\d{1,15}$/.test(a) && t.id === Number(a)) || t.name.toLowerCase() === a.toLowerCase(),
  );
  if (!chosen)
    throw new OperationError(
      'os_not_offered',
      `The OS "${a}" is not among this tariff's OS templates (${offered.map((t) => t.name).join(', ') || 'none found in DCImanager'}).`,
      false,
    );
  return { id: chosen.id, name: chosen.name };
}

/**
 * Reinstalls the server with the OS asked for and a new root password (kept only sealed),
 * exactly once: the intent (OS, sealed password, the server's last operation) is saved before
 * the install is asked; an attempt that finds it saved, or whose call failed ambiguously, takes
 * a newer operation on the server as the install it started. A failed install is the panel's
 * refusal, with its message.
 */
async function reinstall(call: OperationCall<Dcimanager6Config>, asked: string): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const client = clientOf(call.module);
  const server = await clientServer(call);
  const tried = call.hasStep('intent-reinstall');
  const plan = await call.step<InstallPlan>('intent-reinstall', async () => {
    const os = await chosenOs(client, settings, asked);
    return {
      osId: os.id,
      passwordSealed: call.ctx.secrets.seal(generatePassword()),
      operationBefore: server.operation?.id ?? null,
    };
  });
  const task = await installOnce(call, client, server.id, 'reinstall', plan, tried);
  let after: DciServer;
  try {
    after = await client.waitTask(task);
  } catch (err) {
    if (err instanceof DcimanagerError && err.code === 'dcimanager_task_failed')
      throw new OperationError(err.code, err.upstreamMessage ?? err.message, false);
    throw operationErrorOf(err);
  }
  return { serviceParams: { ...paramsOf(after), rootPasswordSealed: plan.passwordSealed } };
}

/**
 * After a tariff or addon change: a dedicated server cannot change its hardware in place. The
 * same configuration and location (a price change, say) needs nothing; another one fails for
 * staff, who give the client a server of the new configuration (and move their data) or undo
 * the change, then cancel this operation.
 */
async function changeTariff(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const settings = settingsOf(call);
  const server = await clientServer(call);
  const want = configurationOf(settings, call.service);
  const location = server.locationId ?? settings.locationId;
  if (server.configuration !== want || location !== settings.locationId)
    throw new OperationError(
      'dcimanager_configuration_change',
      `DCImanager server ${server.id} is a "${server.configuration}" in location ${location}; the service's tariff now gives "${want}" in location ${settings.locationId}. A dedicated server's hardware cannot change in place: hand the client a server of the new configuration and move their data (or undo the change), then cancel this operation.`,
      false,
    );
  return {};
}

/**
 * The changes the core asks of a dedicated server (`set_param`, SetParamPayload): `{tariffId}`
 * after a tariff or addon change; `{param: 'os', value}` a reinstall. DCImanager sets a root
 * password only by installing the OS, so `{param: 'password'}` is refused (reinstall instead),
 * as is anything else.
 */
async function setParam(call: OperationCall<Dcimanager6Config>): Promise<OperationOutcome> {
  const p = call.operation.payload;
  if (typeof p.tariffId === 'number') return changeTariff(call);
  if (p.param === 'os' && typeof p.value === 'string') return reinstall(call, p.value);
  if (p.param === 'password')
    throw new OperationError(
      'param_unsupported',
      "DCImanager sets a dedicated server's root password only by installing its OS: reinstall it for a new password.",
      false,
    );
  throw new OperationError(
    'param_unsupported',
    `The DCImanager module cannot change "${String(p.param ?? Object.keys(p).join(','))}".`,
    false,
  );
}

/**
 * The server as the panel has it: an install running (processing), ports down (suspended) or
 * up (active), its addresses, OS and power; null when it is gone or back in the pool (no owner,
 * or another account's).
 */
async function syncItem(call: ItemCall<Dcimanager6Config>): Promise<RemoteItem | null> {
  const s = await ourServer(call);
  if (!s || s.owner === null) return null;
  const ownerId = call.service.params.dciAccountId;
  if (ownerId !== undefined && s.owner.id !== null && String(s.owner.id) !== ownerId) return null;
  const ports = dataPorts(s);
  const status: RemoteItem['status'] =
    s.operation?.status === 'running'
      ? 'processing'
      : ports.length > 0 && ports.every((p) => p.adminStatus === 'down')
        ? 'suspended'
        : 'active';
  return {
    externalId: String(s.id),
    remoteId: null,
    name: s.name,
    status,
    expiresOn: null,
    params: { ...paramsOf(s), configuration: s.configuration, power: s.power },
  };
}

export const dcimanager6ModuleType = defineModuleType<Dcimanager6Config>({
  type: 'dcimanager6',
  title: 'DCImanager 6 (dedicated servers)',
  productTypes: ['dedic'],
  configSchema: Config as unknown as z.ZodType<Dcimanager6Config>,
  secretFields: ['password'],
  tariffSettingsSchema: TariffSettings as unknown as z.ZodType<Record<string, unknown>>,
  usesLicenseServer: true,
  features: ['checkConnection', 'open', 'suspend', 'resume', 'close', 'setParam', 'syncItem', 'prolong'],
  serverParams: ['os', 'ip'],
  async checkConnection(module) {
    const { locations } = await panel(() => clientOf(module).checkConnection());
    return {
      message: `Signed in to ${module.config.url} as ${module.config.email}; ${locations.length} location(s).`,
    };
  },
  ...withBundledLicense<Dcimanager6Config>({ open, suspend, resume, close, setParam }),
  syncItem,
});
