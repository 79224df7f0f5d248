/** Ledger throughput: charges (sequential, concurrent, on one locked row) and recorded payments. */
import { performance } from 'node:perf_hooks';
import { createAccount, postEntry, recordPayment, systemActor } from '../src/modules/accounts/index.js';
import type { AppContext } from '../src/platform/context.js';
import { inTransaction } from '../src/platform/db/index.js';
import type { EngineName } from './engine.js';

const staff = systemActor('bench');

export interface LedgerRow {
  engine: EngineName;
  scenario: string;
  ops: number;
  seconds: number;
}

export async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const charge = (ctx: AppContext, accountId: number, i: number) =>
  inTransaction(ctx.db, (tx) =>
    postEntry(tx, {
      accountId,
      kind: 'charge',
      amountMinor: -1n,
      description: 'bench',
      idempotencyKey: `b:${accountId}:${i}`,
      now: '2021-12-16T10:00:00.000Z',
    }),
  );

export async function ledgerBenchmarks(engine: EngineName, ctx: AppContext, N: number): Promise<LedgerRow[]> {
  const rows: LedgerRow[] = [];
  const accounts: number[] = [];
  for (let i = 0; i < 8; i++) {
    const { account } = await createAccount(ctx, staff, { name: `B${i}`, email: `b${i}@bench.test` });
    accounts.push(Number(account.id));
    await recordPayment(ctx, staff, Number(account.id), {
      amount: '1000000.00',
      method: 'bench',
      reference: `seed-${i}`,
    });
  }
  const a0 = accounts[0]!;
  rows.push({
    engine,
    scenario: 'ledger charge, sequential, one account',
    ops: N,
    seconds: await timed(async () => {
      for (let i = 0; i < N; i++) await charge(ctx, a0, i);
    }),
  });
  rows.push({
    engine,
    scenario: 'ledger charge, 8 concurrent, 8 accounts',
    ops: N,
    seconds: await timed(async () => {
      let next = 0;
      await Promise.all(
        accounts.map(async (acc) => {
          while (true) {
            const i = next++;
            if (i >= N) return;
            await charge(ctx, acc, N + i);
          }
        }),
      );
    }),
  });
  rows.push({
    engine,
    scenario: 'ledger charge, 8 concurrent, one account (row lock)',
    ops: N,
    seconds: await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (true) {
            const i = next++;
            if (i >= N) return;
            await charge(ctx, a0, 3 * N + i);
          }
        }),
      );
    }),
  });
  const M = Math.floor(N / 3);
  rows.push({
    engine,
    scenario: 'record payment (unique reference check + ledger)',
    ops: M,
    seconds: await timed(async () => {
      for (let i = 0; i < M; i++)
        await recordPayment(ctx, staff, accounts[i % 8]!, {
          amount: '1.00',
          method: 'bench',
          reference: `p-${i}`,
        });
    }),
  });
  return rows;
}
