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

/** A configured module as a plug-in sees it: its config parsed by the plug-in's schema, secrets opened. */
export interface ModuleInstance<C = Record<string, unknown>> {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly config: C;
  /** The module named as this one's license server, when the plug-in uses one. */
  readonly licenseServer: ModuleInstance | null;
}

/** The service an operation acts on, as it was when the operation started. */
export interface ServiceSnapshot {
  readonly id: number;
  readonly accountId: number;
  readonly tariffId: number;
  readonly productType: string;
  readonly name: string;
  readonly status: string;
  readonly period: number;
  readonly expiresOn: string | null;
  readonly params: Readonly<Record<string, string>>;
  readonly addonValues: Readonly<Record<string, boolean | number>>;
  readonly externalId: string | null;
}

export interface OperationCall<C = Record<string, unknown>> {
  readonly ctx: AppContext;
  readonly module: ModuleInstance<C>;
  readonly service: ServiceSnapshot;
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
}

/** What a lifecycle function reports: parameters learnt (an IP, a key) and the upstream id. */
export interface OperationOutcome {
  readonly serviceParams?: Record<string, string>;
  readonly externalId?: string;
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

export interface ImportedTariff {
  readonly externalId: string;
  readonly name: string;
  readonly itemType: string;
  readonly prices: readonly { period: number; amount: string; currency: string }[];
}

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
  /** Modules of this type accept a license server setting. */
  readonly usesLicenseServer?: boolean;
  checkConnection?(module: ModuleInstance<C>, ctx: AppContext): Promise<{ message: string }>;
  open?: LifecycleFn<C>;
  suspend?: LifecycleFn<C>;
  resume?: LifecycleFn<C>;
  close?: LifecycleFn<C>;
  prolong?: LifecycleFn<C>;
  setParam?: LifecycleFn<C>;
  syncItem?: LifecycleFn<C>;
  genKey?: LifecycleFn<C>;
  importTariffs?(module: ModuleInstance<C>, ctx: AppContext): Promise<readonly ImportedTariff[]>;
  getBalance?(module: ModuleInstance<C>, ctx: AppContext): Promise<{ amount: string; currency: string }>;
}

/** Any module type, whatever its config (registries hold plug-ins of different configs). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds module types of different config types
export type AnyModuleType = ModuleType<any>;

/** Declares a module type with its config type inferred from the schema. */
export const defineModuleType = <C>(type: ModuleType<C>): ModuleType<C> => type;

export const isHandOff = (v: unknown): v is HandOff =>
  typeof v === 'object' && v !== null && 'handOff' in v && typeof (v as HandOff).handOff === 'object';
