import type { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import type { OperationKind } from '../../platform/db/index.js';

/**
 * The plug-in interface of processing modules — BILLmanager's module contract (PROTOCOL.md §8)
 * as typed functions. A module *type* (a plug-in, code) is configured into processing
 * *modules* (rows: a name, connection parameters, the product types it serves). Lifecycle
 * functions run inside durable operations: they throw `OperationError` (retryable or not)
 * and may split their work into named steps, so a retry resumes after the last one done.
 */
export const FEATURES = [
  'checkConnection',
  'open',
  'suspend',
  'resume',
  'close',
  'prolong',
  'setParam',
  'syncItem',
  'importTariffs',
  'getBalance',
  'genKey',
  'listItems',
  'estimateCost',
] as const;
export type Feature = (typeof FEATURES)[number];

/** The lifecycle feature that carries out each kind of operation. */
export const FEATURE_OF_OPERATION: Record<OperationKind, Feature> = {
  open: 'open',
  suspend: 'suspend',
  resume: 'resume',
  close: 'close',
  prolong: 'prolong',
  set_param: 'setParam',
};

/**
 * What a `set_param` operation asks for (its payload): a parameter changed on the remote
 * side (`{param: 'ip', value}`, `{param: 'name', value}`), or a new license key
 * (`{param: 'key'}`), which the plug-in's `genKey` carries out.
 *
 * A license IP change or new key asked through the license API is `refusable`: when the
 * plug-in throws a permanent `OperationError` (the upstream refused: its once-a-month rule,
 * an address it will not take), the error's message is shown to the client as the answer and
 * nothing changes locally — no staff task. The plug-in reports what it learnt as
 * `serviceParams`: for an IP change `{ip, ipChangedOn?}`, for a new key `{key, keyChangedOn?}`
 * (the days default to the day the operation completes; an IP change that does not count —
 * the same address, the pool — leaves `ipChangedOn` alone).
 */
export type SetParamPayload =
  | { param: 'ip' | 'name'; value: string; previous?: string | null; refusable?: true }
  | { param: 'key'; refusable?: true };

/** The feature that carries out an operation: its kind's, except a new key, which is `genKey`'s. */
export function featureOf(kind: OperationKind, payload: Readonly<Record<string, unknown>>): Feature {
  if (kind === 'set_param' && payload.param === 'key') return 'genKey';
  return FEATURE_OF_OPERATION[kind];
}

/** A configured module as a plug-in sees it: its config parsed by the plug-in's schema, secrets opened. */
export interface ModuleInstance<C = Record<string, unknown>> {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly config: C;
  /** The module named as this one's license server, when the plug-in uses one. */
  readonly licenseServer: ModuleInstance | null;
  /** The lowest upstream balance staff allow, in the provider's currency (e.g. "100.00"), or null. */
  readonly minBalance: string | null;
}

/** One addon of a service as a plug-in sees it: what it is, and the value the client chose. */
export interface SnapshotAddon {
  readonly addonId: number;
  readonly kind: string;
  readonly label: string;
  readonly valueType: 'boolean' | 'integer' | 'enumeration';
  /** true/false, a number of units, or the chosen enumeration value's id; null when unset. */
  readonly value: boolean | number | null;
  /** For an enumeration: the chosen value's internal name (e.g. an upstream tariff id "55228"). */
  readonly internalName: string | null;
  /** For an enumeration: the chosen value's display name. */
  readonly valueName: string | null;
}

/** The service an operation acts on, as it was when the operation started. */
export interface ServiceSnapshot {
  readonly id: number;
  readonly accountId: number;
  /** The client account's e-mail (its login on a remote panel, say). */
  readonly accountEmail: string;
  readonly tariffId: number;
  readonly productType: string;
  readonly name: string;
  readonly status: string;
  readonly period: number;
  readonly expiresOn: string | null;
  readonly params: Readonly<Record<string, string>>;
  readonly addonValues: Readonly<Record<string, boolean | number>>;
  /** The service's addons with their kind and chosen value (enumerations with their internal name). */
  readonly addons: readonly SnapshotAddon[];
  readonly externalId: string | null;
  /** The buyer's own id for the service, when it was bought through `/billmgr` with `remoteid`. */
  readonly remoteId: string | null;
}

export interface OperationCall<C = Record<string, unknown>> {
  readonly ctx: AppContext;
  readonly module: ModuleInstance<C>;
  readonly service: ServiceSnapshot;
  /** The plug-in's settings for the service's tariff (its `tariffSettingsSchema`), `{}` when none. */
  readonly tariffSettings: Readonly<Record<string, unknown>>;
  readonly operation: {
    readonly id: number;
    readonly kind: OperationKind;
    readonly payload: Readonly<Record<string, unknown>>;
    readonly attempt: number;
  };
  /**
   * Runs `fn` once across attempts and workers: when a previous attempt saved the step, its
   * saved value is returned without running `fn` again. The value must be JSON.
   */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * The remote ids (`externalId`) that this module's other live services hold: what a lookup
   * after an ambiguous create must never take as this service's.
   */
  heldExternalIds(): Promise<ReadonlySet<string>>;
  /**
   * Whether an earlier attempt saved step `name` (an intent recorded before a remote call, say).
   * Convention: steps named `intent…` only record what is about to be done (nothing changed
   * remotely yet); any other saved step means the remote side acted. The core reads this when
   * staff cancel a failed `open`: a refund is refused while something remote may exist.
   */
  hasStep(name: string): boolean;
}

/**
 * What an upstream order or renewal cost, in the upstream's currency: `amount` a decimal
 * with up to 4 places ("7.5000"). Recorded once against the service with the operation.
 */
export interface UpstreamCost {
  readonly kind: 'order' | 'renewal';
  readonly period: number;
  readonly amount: string;
  readonly currency: string;
}

/** What a lifecycle function reports: parameters learnt (an IP, a key), the upstream id, what it cost. */
export interface OperationOutcome {
  readonly serviceParams?: Record<string, string>;
  readonly externalId?: string;
  readonly cost?: UpstreamCost;
  readonly data?: Record<string, unknown>;
}

/** A lifecycle function that a person carries out: the engine opens a staff task and waits. */
export interface HandOff {
  readonly handOff: {
    readonly title: string;
    readonly instructions?: string;
    readonly fields: readonly string[];
  };
}

export type LifecycleFn<C> = (call: OperationCall<C>) => Promise<OperationOutcome | HandOff>;

/** An upstream tariff as offered for import: prices in the upstream's currency (up to 4 decimals). */
export interface ImportedTariff {
  readonly externalId: string;
  readonly name: string;
  /** The product type code local tariffs get (`soft`, `softexternal`, `platform`). */
  readonly productType: string;
  readonly currency: string;
  readonly prices: readonly { period: number; amount: string }[];
  /** The plug-in's tariff settings for the link (e.g. `{pricelist: "55227"}`). */
  readonly settings: Record<string, unknown>;
  /** The last day it can be ordered or renewed upstream, when the upstream tells. */
  readonly expiresOn?: string | null;
  /** The length in days of the trial (period -100), when the upstream offers one. */
  readonly trialDays?: number | null;
}

/** A service's state as the remote side reports it (`syncItem`). */
export interface RemoteItem {
  readonly externalId: string;
  /** Our service id when the remote side knows it (BILLmanager `remoteid`). */
  readonly remoteId: string | null;
  readonly name: string | null;
  readonly status: 'ordered' | 'processing' | 'active' | 'suspended' | 'deleted' | 'unknown';
  readonly expiresOn: string | null;
  /** Parameters as the remote side has them (`ip`, `key`, ...). */
  readonly params: Readonly<Record<string, string>>;
}

/** A read-only call about one service (sync): no operation, no steps. */
export interface ItemCall<C = Record<string, unknown>> {
  readonly ctx: AppContext;
  readonly module: ModuleInstance<C>;
  readonly service: ServiceSnapshot;
  readonly tariffSettings: Readonly<Record<string, unknown>>;
}

/** The daily upkeep of one module, after the day's billing run (today's run only). */
export interface DailyCall<C = Record<string, unknown>> {
  readonly ctx: AppContext;
  readonly module: ModuleInstance<C>;
  /** The run's date, YYYY-MM-DD. */
  readonly date: string;
  /**
   * Queues a `set_param` operation on one of this module's services (the operations engine
   * carries it out with retries and staff tasks); the key makes a repeat of the day find it.
   * False when the service is not this module's or not active.
   */
  queueSetParam(serviceId: number, payload: Record<string, unknown>, key: string): Promise<boolean>;
}

/** What a module's daily upkeep did, by name (counts): summed into the run's summary. */
export type DailyOutcome = Readonly<Record<string, number>>;

export interface ModuleType<C = Record<string, unknown>> {
  /** Stable type code stored on modules (`manual`, `license-issuer`, `billmanager`). */
  readonly type: string;
  readonly title: string;
  /** Product type codes modules of this type can serve. */
  readonly productTypes: readonly string[];
  /** Validates a module's connection parameters and settings (secrets included). */
  readonly configSchema: z.ZodType<C>;
  /** Fields of the config stored encrypted and never returned. */
  readonly secretFields: readonly string[];
  /** What this plug-in implements; the registry checks that each has its function. */
  readonly features: readonly Feature[];
  /** Modules of this type can be another module's license server. */
  readonly licenseSource?: boolean;
  /**
   * Licenses of this type are issued by Billfold itself (`issued_licenses`): their key and IP
   * change here, at once. Otherwise a license's key and IP are what the module learnt
   * upstream, and a change is an operation the module carries out.
   */
  readonly issuesLocally?: boolean;
  /** Modules of this type accept a license server setting. */
  readonly usesLicenseServer?: boolean;
  /** Validates the plug-in's per-tariff settings on a tariff ↔ module link (published as JSON Schema). */
  readonly tariffSettingsSchema?: z.ZodType<Record<string, unknown>>;
  checkConnection?(module: ModuleInstance<C>, ctx: AppContext): Promise<{ message: string }>;
  open?: LifecycleFn<C>;
  suspend?: LifecycleFn<C>;
  resume?: LifecycleFn<C>;
  close?: LifecycleFn<C>;
  prolong?: LifecycleFn<C>;
  setParam?: LifecycleFn<C>;
  genKey?: LifecycleFn<C>;
  /** Reads one service's state back from the remote side (null: the remote side has no such item). */
  syncItem?(call: ItemCall<C>): Promise<RemoteItem | null>;
  /** Every item the remote side holds for this module's account (reconciliation). */
  listItems?(module: ModuleInstance<C>, ctx: AppContext): Promise<readonly RemoteItem[]>;
  importTariffs?(module: ModuleInstance<C>, ctx: AppContext): Promise<readonly ImportedTariff[]>;
  getBalance?(module: ModuleInstance<C>, ctx: AppContext): Promise<{ amount: string; currency: string }>;
  /**
   * What an `open` or `prolong` would spend upstream, for the balance guard: the core refuses
   * to start it (a staff task) when the balance after it would fall below the module's minimum.
   */
  estimateCost?(call: ItemCall<C>, kind: 'open' | 'prolong', period: number): Promise<UpstreamCost | null>;
  /** The module's daily upkeep after the billing run (renewals it must ask for, what lapses). */
  daily?(call: DailyCall<C>): Promise<DailyOutcome>;
}

/** Any module type, whatever its config (registries hold plug-ins of different configs). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds module types of different config types
export type AnyModuleType = ModuleType<any>;

/** Declares a module type with its config type inferred from the schema. */
export const defineModuleType = <C>(type: ModuleType<C>): ModuleType<C> => type;

export const isHandOff = (v: unknown): v is HandOff =>
  typeof v === 'object' && v !== null && 'handOff' in v && typeof (v as HandOff).handOff === 'object';
