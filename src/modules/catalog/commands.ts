import { sql } from 'kysely';
import { PeriodError, parseDate, TRIAL_PERIOD } from '../../domain/periods.js';
import { PricingError, periodPrice } from '../../domain/pricing.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type EnumerationRow,
  type EnumerationValueRow,
  inTransaction,
  isUniqueViolation,
  type ProductTypeRow,
  type Tx,
} from '../../platform/db/index.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, requireStaff } from '../accounts/actor.js';
import { amountIn, getProviderCurrency } from '../accounts/commands.js';
import { guardPanelConfig } from '../provisioning/panel-config.js';
import { loadTariffAggregates } from './aggregate.js';
import { presentTariff, type TariffPresentation } from './presenters.js';
import type {
  AddonInput,
  CreateAddonInput,
  CreateEnumerationInput,
  CreateProductTypeInput,
  CreateTariffInput,
  EnumerationValueInput,
  UpdateEnumerationInput,
  UpdateEnumerationValueInput,
  UpdateProductTypeInput,
  UpdateTariffInput,
} from './schemas.js';

const flag = (b: boolean): 0 | 1 => (b ? 1 : 0);
const actorUser = (a: Actor) => (a.type === 'user' ? a.userId : null);

// ---------------------------------------------------------------- product types

export async function createProductType(
  ctx: AppContext,
  actor: Actor,
  input: CreateProductTypeInput,
): Promise<ProductTypeRow> {
  requireStaff(actor);
  const now = isoNow(ctx.clock);
  try {
    return await ctx.db.kysely
      .insertInto('product_types')
      .values({
        code: input.code,
        name: input.name,
        deletion_delay_days: input.deletionDelayDays ?? 30,
        client_can_delete: flag(input.clientCanDelete ?? true),
        refund_unused_days: flag(input.refundUnusedDays ?? false),
        service_params: JSON.stringify(input.serviceParams ?? []),
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('product_type_exists', `Product type ${input.code} exists already.`, {
        code: input.code,
      });
    throw err;
  }
}

export async function updateProductType(
  ctx: AppContext,
  actor: Actor,
  code: string,
  input: UpdateProductTypeInput,
): Promise<ProductTypeRow> {
  requireStaff(actor);
  const row = await ctx.db.kysely
    .updateTable('product_types')
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.deletionDelayDays !== undefined ? { deletion_delay_days: input.deletionDelayDays } : {}),
      ...(input.clientCanDelete !== undefined ? { client_can_delete: flag(input.clientCanDelete) } : {}),
      ...(input.refundUnusedDays !== undefined ? { refund_unused_days: flag(input.refundUnusedDays) } : {}),
      ...(input.serviceParams !== undefined ? { service_params: JSON.stringify(input.serviceParams) } : {}),
      updated_at: isoNow(ctx.clock),
    })
    .where('code', '=', code)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound('product_type', { code });
  return row;
}

// ---------------------------------------------------------------- enumerations

function duplicateInternalNames(values: readonly { internalName: string }[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v.internalName) ? dup : seen).add(v.internalName);
  return [...dup];
}

export async function createEnumeration(
  ctx: AppContext,
  actor: Actor,
  input: CreateEnumerationInput,
): Promise<{ enumeration: EnumerationRow; values: EnumerationValueRow[] }> {
  requireStaff(actor);
  const values = input.values ?? [];
  const dups = duplicateInternalNames(values);
  if (dups.length) {
    throw conflict(
      'internal_name_taken',
      `Internal names must be unique within an enumeration: ${dups.join(', ')}.`,
      { internalNames: dups },
    );
  }
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      const enumeration = await tx
        .insertInto('enumerations')
        .values({ name: input.name, description: input.description ?? '', created_at: now, updated_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      const rows: EnumerationValueRow[] = [];
      for (const [i, v] of values.entries()) {
        rows.push(await insertValue(tx, toId(enumeration.id), v, i, now));
      }
      return { enumeration, values: rows };
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('enumeration_exists', `An enumeration named "${input.name}" exists already.`, {
        name: input.name,
      });
    throw err;
  }
}

const insertValue = (tx: Tx, enumerationId: number, v: EnumerationValueInput, index: number, now: string) =>
  tx
    .insertInto('enumeration_values')
    .values({
      enumeration_id: enumerationId,
      name: v.name,
      internal_name: v.internalName,
      sort_order: v.sortOrder ?? index * 10,
      status: v.status ?? 'active',
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

async function loadEnumeration(db: AppContext['db']['kysely'] | Tx, id: number): Promise<EnumerationRow> {
  const e = await db.selectFrom('enumerations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!e) throw notFound('enumeration', { enumerationId: id });
  return e;
}

export async function updateEnumeration(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: UpdateEnumerationInput,
): Promise<EnumerationRow> {
  requireStaff(actor);
  await loadEnumeration(ctx.db.kysely, id);
  try {
    return await ctx.db.kysely
      .updateTable('enumerations')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('enumeration_exists', `An enumeration named "${input.name}" exists already.`, {
        name: input.name,
      });
    throw err;
  }
}

/** Tariffs whose addons use these enumeration values (offered or priced): deleting them would break those tariffs. */
async function tariffsUsingValues(
  db: Tx | AppContext['db']['kysely'],
  valueIds: readonly number[],
): Promise<number[]> {
  if (valueIds.length === 0) return [];
  const rows = await db
    .selectFrom('addon_values as av')
    .innerJoin('addons as a', 'a.id', 'av.addon_id')
    .select('a.tariff_id')
    .distinct()
    .where('av.enumeration_value_id', 'in', [...valueIds])
    .execute();
  return rows.map((r) => toId(r.tariff_id)).sort((a, b) => a - b);
}

export async function deleteEnumeration(ctx: AppContext, actor: Actor, id: number): Promise<void> {
  requireStaff(actor);
  await inTransaction(ctx.db, async (tx) => {
    await loadEnumeration(tx, id);
    const addons = await tx
      .selectFrom('addons')
      .select(['id', 'tariff_id'])
      .where('enumeration_id', '=', id)
      .execute();
    if (addons.length) {
      throw conflict('enumeration_in_use', 'Tariff addons are linked to this enumeration.', {
        tariffIds: [...new Set(addons.map((a) => toId(a.tariff_id)))],
      });
    }
    await tx.deleteFrom('enumeration_values').where('enumeration_id', '=', id).execute();
    await tx.deleteFrom('enumerations').where('id', '=', id).execute();
  });
}

export async function addEnumerationValue(
  ctx: AppContext,
  actor: Actor,
  enumerationId: number,
  input: EnumerationValueInput,
): Promise<EnumerationValueRow> {
  requireStaff(actor);
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      await loadEnumeration(tx, enumerationId);
      const count = await tx
        .selectFrom('enumeration_values')
        .select((e) => e.fn.countAll().as('n'))
        .where('enumeration_id', '=', enumerationId)
        .executeTakeFirstOrThrow();
      return insertValue(tx, enumerationId, input, Number(count.n), now);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw internalNameTaken(input.internalName);
    throw err;
  }
}

const internalNameTaken = (internalName: string | undefined) =>
  conflict('internal_name_taken', `Internal name "${internalName}" is taken in this enumeration.`, {
    internalName,
  });

async function loadValue(
  db: Tx | AppContext['db']['kysely'],
  enumerationId: number,
  valueId: number,
): Promise<EnumerationValueRow> {
  const v = await db
    .selectFrom('enumeration_values')
    .selectAll()
    .where('id', '=', valueId)
    .where('enumeration_id', '=', enumerationId)
    .executeTakeFirst();
  if (!v) throw notFound('enumeration_value', { enumerationId, valueId });
  return v;
}

export async function updateEnumerationValue(
  ctx: AppContext,
  actor: Actor,
  enumerationId: number,
  valueId: number,
  input: UpdateEnumerationValueInput,
): Promise<EnumerationValueRow> {
  requireStaff(actor);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      await loadValue(tx, enumerationId, valueId);
      // A new internal name or an enabled value may break the tariffs whose addons list it.
      return guardPanelConfig(tx, ctx, await tariffsUsingValues(tx, [valueId]), () =>
        tx
          .updateTable('enumeration_values')
          .set({
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.internalName !== undefined ? { internal_name: input.internalName } : {}),
            ...(input.sortOrder !== undefined ? { sort_order: input.sortOrder } : {}),
            ...(input.status !== undefined ? { status: input.status } : {}),
            updated_at: isoNow(ctx.clock),
          })
          .where('id', '=', valueId)
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw internalNameTaken(input.internalName);
    throw err;
  }
}

/**
 * Services not deleted whose choice for an addon linked to this enumeration is this value
 * (`services.addon_values` maps addon id → value; the value stays chosen after a tariff stops
 * offering it, and renewals still price it).
 */
async function servicesUsingValue(
  db: Tx | AppContext['db']['kysely'],
  enumerationId: number,
  valueId: number,
): Promise<number[]> {
  const addons = await db
    .selectFrom('addons')
    .select(['id', 'tariff_id'])
    .where('enumeration_id', '=', enumerationId)
    .execute();
  if (addons.length === 0) return [];
  const services = await db
    .selectFrom('services')
    .select(['id', 'tariff_id', 'addon_values'])
    .where('tariff_id', 'in', [...new Set(addons.map((a) => a.tariff_id))])
    .where('status', '<>', 'deleted')
    .execute();
  return services
    .filter((s) => {
      const chosen = JSON.parse(s.addon_values) as Record<string, unknown>;
      return addons.some(
        (a) => toId(a.tariff_id) === toId(s.tariff_id) && chosen[String(toId(a.id))] === valueId,
      );
    })
    .map((s) => toId(s.id))
    .sort((a, b) => a - b);
}

/**
 * A value still offered or priced by a tariff, or chosen by a service that is not deleted,
 * cannot be deleted (409 `enumeration_value_in_use`): disable it instead, which withdraws it
 * from every tariff's options at once.
 */
export async function deleteEnumerationValue(
  ctx: AppContext,
  actor: Actor,
  enumerationId: number,
  valueId: number,
): Promise<void> {
  requireStaff(actor);
  await inTransaction(ctx.db, async (tx) => {
    await loadValue(tx, enumerationId, valueId);
    const tariffIds = await tariffsUsingValues(tx, [valueId]);
    const serviceIds = await servicesUsingValue(tx, enumerationId, valueId);
    if (tariffIds.length || serviceIds.length) {
      throw conflict(
        'enumeration_value_in_use',
        serviceIds.length
          ? 'Services use this value: disable it instead.'
          : 'Tariffs offer this value: disable it instead, or remove it from those tariffs first.',
        { valueId, tariffIds, serviceIds },
      );
    }
    await tx.deleteFrom('addon_prices').where('enumeration_value_id', '=', valueId).execute();
    await tx.deleteFrom('enumeration_values').where('id', '=', valueId).execute();
  });
}

// ---------------------------------------------------------------- tariffs

function dateOrError(text: string, field: string): string {
  try {
    return parseDate(text).toString();
  } catch (err) {
    if (err instanceof PeriodError)
      throw invalid('invalid_date', `${field} must be a calendar date YYYY-MM-DD.`, { field, value: text });
    throw err;
  }
}

/** Validates a period→price map against the offered periods and parses each amount. */
function parsePrices(
  prices: Record<string, string> | undefined,
  offered: readonly number[],
  currency: string,
  field: string,
): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const [key, text] of Object.entries(prices ?? {})) {
    const period = Number(key);
    if (!offered.includes(period)) {
      throw invalid('price_for_period_not_offered', `${field}: period ${key} is not offered by the tariff.`, {
        field,
        period,
        offered: [...offered],
      });
    }
    out.set(period, amountIn(text, currency, `${field}.${key}`, { allowZero: true }));
  }
  return out;
}

/**
 * Every offered period must have a price the catalog can show (D9): its own, or the monthly
 * price × months; the trial is free unless priced. A period with neither would be accepted
 * and then silently left out of the catalog, so it is refused, naming the periods.
 */
function checkPricesResolve(prices: ReadonlyMap<number, bigint | null>) {
  const offered = new Set(prices.keys());
  const missing = [...offered].filter((period) => {
    try {
      periodPrice(prices, period, offered);
      return false;
    } catch (err) {
      if (err instanceof PricingError && err.code === 'price_missing') return true;
      throw err;
    }
  });
  if (missing.length) {
    throw invalid(
      'price_missing',
      `${missing.length === 1 ? 'Period' : 'Periods'} ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no price and there is no monthly price (period 1) to reckon from: give ${missing.length === 1 ? 'it a price' : 'each a price'}, or a monthly price.`,
      { field: 'prices', period: missing[0], periods: missing },
    );
  }
}

function checkPeriods(periods: readonly number[], trialDays: number | null) {
  const dup = periods.filter((p, i) => periods.indexOf(p) !== i);
  if (dup.length)
    throw invalid('duplicate_period', `Periods are listed twice: ${dup.join(', ')}.`, { periods: dup });
  if (periods.includes(TRIAL_PERIOD) && trialDays === null) {
    throw invalid('trial_days_required', 'A tariff that offers a trial (-100) needs trialDays.', {});
  }
}

async function writeHistory(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  change: string,
  before: TariffPresentation | null,
  after: TariffPresentation | null,
) {
  await tx
    .insertInto('tariff_history')
    .values({
      tariff_id: tariffId,
      change,
      before_json: before ? JSON.stringify(before) : null,
      after_json: after ? JSON.stringify(after) : null,
      actor_user_id: actorUser(actor),
      actor_label: actorLabel(actor),
      created_at: isoNow(ctx.clock),
    })
    .execute();
}

async function snapshot(tx: Tx, tariffId: number): Promise<TariffPresentation> {
  const [agg] = await loadTariffAggregates(tx, { ids: [tariffId] });
  if (!agg) throw notFound('tariff', { tariffId });
  return presentTariff(agg);
}

export async function createTariff(
  ctx: AppContext,
  actor: Actor,
  input: CreateTariffInput,
): Promise<TariffPresentation> {
  requireStaff(actor);
  const type = await ctx.db.kysely
    .selectFrom('product_types')
    .selectAll()
    .where('code', '=', input.productType)
    .executeTakeFirst();
  if (!type)
    throw invalid('product_type_not_found', `There is no product type ${input.productType}.`, {
      productType: input.productType,
    });
  const currency = await getProviderCurrency(ctx);
  checkPeriods(input.periods, input.trialDays ?? null);
  const prices = parsePrices(input.prices, input.periods, currency, 'prices');
  // Absent or null means none; anything else (an empty string included) must parse.
  const setupFee =
    input.setupFee != null ? amountIn(input.setupFee, currency, 'setupFee', { allowZero: true }) : null;
  const expiresOn = input.expiresOn != null ? dateOrError(input.expiresOn, 'expiresOn') : null;
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      if (input.id !== undefined) {
        const taken = await tx
          .selectFrom('tariffs')
          .select('id')
          .where('id', '=', input.id)
          .executeTakeFirst();
        if (taken) throw conflict('tariff_id_taken', `Tariff id ${input.id} is taken.`, { id: input.id });
      }
      const tariff = await tx
        .insertInto('tariffs')
        .values({
          ...(input.id !== undefined ? { id: input.id } : {}),
          name: input.name,
          description: input.description ?? '',
          product_type_id: type.id,
          status: input.status ?? 'active',
          currency,
          setup_fee_minor: setupFee,
          expires_on: expiresOn,
          trial_days: input.trialDays ?? null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = toId(tariff.id);
      if (input.id !== undefined && ctx.db.kind === 'postgres') {
        // An explicit id does not move the identity sequence: move it past the highest id.
        await sql`select setval(pg_get_serial_sequence('tariffs', 'id'), greatest((select max(id) from tariffs), 1))`.execute(
          tx,
        );
      }
      const periods = new Map(input.periods.map((period) => [period, prices.get(period) ?? null]));
      checkPricesResolve(periods);
      await tx
        .insertInto('tariff_periods')
        .values([...periods].map(([period, price_minor]) => ({ tariff_id: id, period, price_minor })))
        .execute();
      const after = await snapshot(tx, id);
      await writeHistory(tx, ctx, actor, id, 'created', null, after);
      return after;
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('tariff_id_taken', `Tariff id ${input.id} is taken.`, { id: input.id });
    throw err;
  }
}

export async function updateTariff(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: UpdateTariffInput,
): Promise<TariffPresentation> {
  requireStaff(actor);
  return inTransaction(ctx.db, (tx) =>
    guardPanelConfig(tx, ctx, [id], () => writeTariffUpdate(tx, ctx, actor, id, input)),
  );
}

async function writeTariffUpdate(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: UpdateTariffInput,
): Promise<TariffPresentation> {
  const before = await snapshot(tx, id);
  const periods = input.periods ?? before.periods.map((p) => p.period);
  const trialDays = input.trialDays !== undefined ? input.trialDays : before.trialDays;
  checkPeriods(periods, trialDays);
  let prices: Map<number, bigint | null> | null = null;
  if (input.periods !== undefined || input.prices !== undefined) {
    // Explicit prices not restated survive when their period is still offered.
    const kept = new Map<number, bigint | null>(
      (await tx.selectFrom('tariff_periods').selectAll().where('tariff_id', '=', id).execute()).map((p) => [
        Number(p.period),
        p.price_minor,
      ]),
    );
    const given = parsePrices(input.prices, periods, before.currency, 'prices');
    prices = new Map(
      periods.map((p) => [
        p,
        given.has(p) ? given.get(p)! : input.prices === undefined ? (kept.get(p) ?? null) : null,
      ]),
    );
    checkPricesResolve(prices);
  }
  const setupFee =
    input.setupFee === undefined
      ? undefined
      : input.setupFee === null
        ? null
        : amountIn(input.setupFee, before.currency, 'setupFee', { allowZero: true });
  const expiresOn =
    input.expiresOn === undefined
      ? undefined
      : input.expiresOn === null
        ? null
        : dateOrError(input.expiresOn, 'expiresOn');
  await tx
    .updateTable('tariffs')
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      ...(setupFee !== undefined ? { setup_fee_minor: setupFee } : {}),
      ...(expiresOn !== undefined ? { expires_on: expiresOn } : {}),
      ...(input.trialDays !== undefined ? { trial_days: input.trialDays } : {}),
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', id)
    .execute();
  if (prices) {
    await tx.deleteFrom('tariff_periods').where('tariff_id', '=', id).execute();
    await tx
      .insertInto('tariff_periods')
      .values([...prices].map(([period, price_minor]) => ({ tariff_id: id, period, price_minor })))
      .execute();
    // Addon prices for periods no longer offered go with them.
    const addonIds = (await tx.selectFrom('addons').select('id').where('tariff_id', '=', id).execute()).map(
      (a) => a.id,
    );
    if (addonIds.length) {
      await tx
        .deleteFrom('addon_prices')
        .where('addon_id', 'in', addonIds)
        .where('period', 'not in', periods)
        .execute();
    }
  }
  const after = await snapshot(tx, id);
  // A change that changed nothing (an empty or restating PATCH) is not history.
  const same = JSON.stringify({ ...before, updatedAt: '' }) === JSON.stringify({ ...after, updatedAt: '' });
  if (!same) await writeHistory(tx, ctx, actor, id, 'updated', before, after);
  return after;
}

// ---------------------------------------------------------------- addons

interface AddonPlan {
  row: {
    kind: AddonInput['kind'];
    label: string;
    value_type: AddonInput['valueType'];
    required: 0 | 1;
    default_value: string | null;
    unit: string | null;
    included: number | null;
    min_value: number | null;
    max_value: number | null;
    step: number | null;
    enumeration_id: number | null;
    sort_order: number;
  };
  prices: { enumeration_value_id: number | null; period: number; price_minor: bigint }[];
  values: { enumeration_value_id: number; offered: 0 | 1 }[];
}

/** Checks an addon against its tariff and the enumeration it links to; returns the rows to write. */
async function planAddon(tx: Tx, tariff: TariffPresentation, input: AddonInput): Promise<AddonPlan> {
  const offered = tariff.periods.map((p) => p.period);
  const base = {
    kind: input.kind,
    label: input.label,
    value_type: input.valueType,
    required: flag(input.required ?? false),
    sort_order: input.sortOrder ?? 0,
    unit: null,
    included: null,
    min_value: null,
    max_value: null,
    step: null,
    enumeration_id: null,
  };
  switch (input.valueType) {
    case 'boolean': {
      const prices = parsePrices(input.prices, offered, tariff.currency, 'prices');
      return {
        row: {
          ...base,
          default_value: input.defaultValue == null ? null : JSON.stringify(input.defaultValue),
        },
        prices: [...prices].map(([period, price_minor]) => ({
          enumeration_value_id: null,
          period,
          price_minor,
        })),
        values: [],
      };
    }
    case 'integer': {
      if (input.step <= 0)
        throw invalid('addon_step_invalid', 'step must be greater than zero.', { step: input.step });
      if (input.min > input.max)
        throw invalid('addon_min_greater_than_max', 'min must not be greater than max.', {
          min: input.min,
          max: input.max,
        });
      const d = input.defaultValue;
      if (d != null && (d < input.min || d > input.max || (d - input.min) % input.step !== 0)) {
        throw invalid('addon_default_invalid', 'The default must lie within min..max on a step.', {
          default: d,
          min: input.min,
          max: input.max,
          step: input.step,
        });
      }
      const prices = parsePrices(input.prices, offered, tariff.currency, 'prices');
      return {
        row: {
          ...base,
          default_value: d == null ? null : JSON.stringify(d),
          unit: input.unit,
          included: input.included ?? 0,
          min_value: input.min,
          max_value: input.max,
          step: input.step,
        },
        prices: [...prices].map(([period, price_minor]) => ({
          enumeration_value_id: null,
          period,
          price_minor,
        })),
        values: [],
      };
    }
    case 'enumeration': {
      const enumeration = await tx
        .selectFrom('enumerations')
        .select('id')
        .where('id', '=', input.enumerationId)
        .executeTakeFirst();
      if (!enumeration) {
        throw invalid('enumeration_not_found', `There is no enumeration ${input.enumerationId}.`, {
          enumerationId: input.enumerationId,
        });
      }
      const members = new Set(
        (
          await tx
            .selectFrom('enumeration_values')
            .select('id')
            .where('enumeration_id', '=', input.enumerationId)
            .execute()
        ).map((v) => toId(v.id)),
      );
      const seen = new Set<number>();
      const prices: AddonPlan['prices'] = [];
      for (const [i, v] of input.values.entries()) {
        if (!members.has(v.valueId)) {
          throw invalid(
            'enumeration_value_not_in_enumeration',
            `Value ${v.valueId} does not belong to enumeration ${input.enumerationId}.`,
            {
              valueId: v.valueId,
              enumerationId: input.enumerationId,
            },
          );
        }
        if (seen.has(v.valueId))
          throw invalid('duplicate_value', `Value ${v.valueId} is listed twice.`, { valueId: v.valueId });
        seen.add(v.valueId);
        for (const [period, price_minor] of parsePrices(
          v.prices,
          offered,
          tariff.currency,
          `values.${i}.prices`,
        )) {
          prices.push({ enumeration_value_id: v.valueId, period, price_minor });
        }
      }
      const d = input.defaultValue;
      if (d != null && !input.values.some((v) => v.valueId === d && v.offered !== false)) {
        throw invalid('addon_default_invalid', 'The default must be one of the offered values.', {
          default: d,
        });
      }
      return {
        row: {
          ...base,
          enumeration_id: input.enumerationId,
          default_value: d == null ? null : JSON.stringify(d),
        },
        prices,
        values: input.values.map((v) => ({
          enumeration_value_id: v.valueId,
          offered: flag(v.offered ?? true),
        })),
      };
    }
  }
}

async function writeAddonChildren(tx: Tx, addonId: number, plan: AddonPlan) {
  if (plan.prices.length)
    await tx
      .insertInto('addon_prices')
      .values(plan.prices.map((p) => ({ ...p, addon_id: addonId })))
      .execute();
  if (plan.values.length)
    await tx
      .insertInto('addon_values')
      .values(plan.values.map((v) => ({ ...v, addon_id: addonId })))
      .execute();
}

const addonIdTaken = (id: number | undefined) =>
  conflict('addon_id_taken', `Addon id ${id} is taken.`, { id });

/** Creates an addon; `input.id` chooses its id (an upstream `addon_<id>`), as createTariff's does. */
export async function createAddon(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  input: CreateAddonInput,
): Promise<TariffPresentation> {
  requireStaff(actor);
  const id = input.id;
  if (id !== undefined && (!Number.isSafeInteger(id) || id <= 0 || id > 2 ** 52))
    throw invalid('invalid_id', 'id must be a positive integer.', { id });
  try {
    return await inTransaction(ctx.db, (tx) =>
      guardPanelConfig(tx, ctx, [tariffId], async () => {
        const before = await snapshot(tx, tariffId);
        const plan = await planAddon(tx, before, input);
        if (id !== undefined) {
          const taken = await tx.selectFrom('addons').select('id').where('id', '=', id).executeTakeFirst();
          if (taken) throw addonIdTaken(id);
        }
        const now = isoNow(ctx.clock);
        const addon = await tx
          .insertInto('addons')
          .values({
            ...(id !== undefined ? { id } : {}),
            ...plan.row,
            tariff_id: tariffId,
            created_at: now,
            updated_at: now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        if (id !== undefined && ctx.db.kind === 'postgres') {
          // An explicit id does not move the identity sequence: move it past the highest id.
          await sql`select setval(pg_get_serial_sequence('addons', 'id'), greatest((select max(id) from addons), 1))`.execute(
            tx,
          );
        }
        await writeAddonChildren(tx, toId(addon.id), plan);
        await touchTariff(tx, ctx, tariffId);
        const after = await snapshot(tx, tariffId);
        await writeHistory(tx, ctx, actor, tariffId, 'addon_created', before, after);
        return after;
      }),
    );
  } catch (err) {
    if (id !== undefined && isUniqueViolation(err)) throw addonIdTaken(id);
    throw err;
  }
}

async function touchTariff(tx: Tx, ctx: AppContext, tariffId: number) {
  await tx
    .updateTable('tariffs')
    .set({ updated_at: isoNow(ctx.clock) })
    .where('id', '=', tariffId)
    .execute();
}

async function loadAddonOf(tx: Tx, tariffId: number, addonId: number) {
  const a = await tx
    .selectFrom('addons')
    .selectAll()
    .where('id', '=', addonId)
    .where('tariff_id', '=', tariffId)
    .executeTakeFirst();
  if (!a) throw notFound('addon', { tariffId, addonId });
  return a;
}

/** Replaces an addon's whole configuration (PUT semantics); its value type cannot change. */
export async function replaceAddon(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  addonId: number,
  input: AddonInput,
): Promise<TariffPresentation> {
  requireStaff(actor);
  return inTransaction(ctx.db, (tx) =>
    guardPanelConfig(tx, ctx, [tariffId], async () => {
      const before = await snapshot(tx, tariffId);
      const current = await loadAddonOf(tx, tariffId, addonId);
      if (current.value_type !== input.valueType) {
        throw invalid(
          'addon_value_type_immutable',
          'The value type of an addon cannot change: create a new addon.',
          {
            current: current.value_type,
            given: input.valueType,
          },
        );
      }
      const plan = await planAddon(tx, before, input);
      await tx
        .updateTable('addons')
        .set({ ...plan.row, updated_at: isoNow(ctx.clock) })
        .where('id', '=', addonId)
        .execute();
      await tx.deleteFrom('addon_prices').where('addon_id', '=', addonId).execute();
      await tx.deleteFrom('addon_values').where('addon_id', '=', addonId).execute();
      await writeAddonChildren(tx, addonId, plan);
      await touchTariff(tx, ctx, tariffId);
      const after = await snapshot(tx, tariffId);
      await writeHistory(tx, ctx, actor, tariffId, 'addon_updated', before, after);
      return after;
    }),
  );
}

export async function deleteAddon(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  addonId: number,
): Promise<TariffPresentation> {
  requireStaff(actor);
  return inTransaction(ctx.db, async (tx) => {
    const before = await snapshot(tx, tariffId);
    await loadAddonOf(tx, tariffId, addonId);
    await tx.deleteFrom('addons').where('id', '=', addonId).execute();
    await touchTariff(tx, ctx, tariffId);
    const after = await snapshot(tx, tariffId);
    await writeHistory(tx, ctx, actor, tariffId, 'addon_deleted', before, after);
    return after;
  });
}
