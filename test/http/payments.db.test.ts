import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  type Auth,
  countRows,
  createAdmin,
  createClient,
  createHttpTest,
  expectError,
  type HttpTest,
  login,
  moneySnapshot,
  request,
  type Session,
} from '../helpers/http.js';

let t: HttpTest;
let admin: Session;
let client: Session;
let accountId: number;

beforeEach(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  const { account } = await createClient(t.ctx, 'ann@example.com', { name: 'Ann Ltd' });
  accountId = Number(account.id);
  admin = await login(t.app, 'boss@example.com');
  client = await login(t.app, 'ann@example.com');
});
afterEach(async () => {
  await t.close();
});

const pay = (body: Record<string, unknown>, auth: Auth = admin, id = accountId) =>
  request(t.app, 'POST', `/api/v1/accounts/${id}/payments`, { auth, body });
const balanceOf = async (auth: Auth = admin, id = accountId) =>
  (await request(t.app, 'GET', `/api/v1/accounts/${id}/balance`, { auth })).json();

describe('payments over HTTP', () => {
  it('an admin records a payment → 201; balance and ledger reflect it', async () => {
    const res = await pay({ amount: '100.00', method: 'bank', reference: 'R-1', note: 'December' });
    expect(res.statusCode, res.body).toBe(201);
    const payment = res.json();
    expect(payment).toMatchObject({
      accountId,
      amount: '100.00',
      currency: 'EUR',
      method: 'bank',
      reference: 'R-1',
      note: 'December',
      createdAt: '2021-12-16T10:00:00.000Z',
    });

    expect(await balanceOf(client)).toEqual({
      accountId,
      currency: 'EUR',
      balance: '100.00',
      creditLimit: '0.00',
      available: '100.00',
    });
    const ledger = (
      await request(t.app, 'GET', `/api/v1/accounts/${accountId}/ledger`, { auth: client })
    ).json();
    expect(ledger.items).toHaveLength(1);
    expect(ledger.items[0]).toMatchObject({
      id: payment.ledgerEntryId,
      accountId,
      kind: 'payment',
      amount: '100.00',
      balanceAfter: '100.00',
      refType: 'payment',
      refId: payment.id,
    });
    const payments = (
      await request(t.app, 'GET', `/api/v1/accounts/${accountId}/payments`, { auth: client })
    ).json();
    expect(payments.items).toEqual([payment]);
    const one = await request(t.app, 'GET', `/api/v1/payments/${payment.id}`, { auth: client });
    expect(one.json()).toEqual(payment);
    await expectLedgerBalanced(t.ctx);
  });

  it('the same method + reference again → 409 payment_exists, balance unchanged (also with another amount)', async () => {
    const first = await pay({ amount: '100.00', method: 'bank', reference: 'R-1' });
    expect(first.statusCode, first.body).toBe(201);
    const before = await moneySnapshot(t.ctx);
    for (const amount of ['100.00', '55.00']) {
      const again = await pay({ amount, method: 'bank', reference: 'R-1' });
      const err = expectError(again, 409, 'payment_exists');
      expect(err.details).toEqual({ paymentId: first.json().id, accountId });
    }
    // Surrounding spaces do not make a new reference.
    expectError(await pay({ amount: '1.00', method: 'bank', reference: '  R-1 ' }), 409, 'payment_exists');
    expect(await moneySnapshot(t.ctx)).toBe(before);
    expect((await balanceOf()).balance).toBe('100.00');
    expect((await countRows(t.ctx)).payments).toBe(1);
    await expectLedgerBalanced(t.ctx);
  });

  it('a reference already used for another account → 409 payment_exists, no credit to either', async () => {
    const { account: other } = await createClient(t.ctx, 'bob@example.com');
    expect((await pay({ amount: '10.00', method: 'bank', reference: 'R-1' })).statusCode).toBe(201);
    const before = await moneySnapshot(t.ctx);
    expectError(
      await pay({ amount: '10.00', method: 'bank', reference: 'R-1' }, admin, Number(other.id)),
      409,
      'payment_exists',
    );
    expect(await moneySnapshot(t.ctx)).toBe(before);
    await expectLedgerBalanced(t.ctx);
  });

  it('the same reference with another method is a different payment', async () => {
    expect((await pay({ amount: '100.00', method: 'bank', reference: 'R-1' })).statusCode).toBe(201);
    const card = await pay({ amount: '20.50', method: 'card', reference: 'R-1' });
    expect(card.statusCode, card.body).toBe(201);
    expect((await balanceOf()).balance).toBe('120.50');
    const ledger = (
      await request(t.app, 'GET', `/api/v1/accounts/${accountId}/ledger`, { auth: admin })
    ).json();
    expect(
      ledger.items.map((e: { amount: string; balanceAfter: string }) => [e.amount, e.balanceAfter]),
    ).toEqual([
      ['20.50', '120.50'],
      ['100.00', '100.00'],
    ]);
    await expectLedgerBalanced(t.ctx);
  });

  it('parallel requests with one reference credit exactly once', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => pay({ amount: '25.00', method: 'bank', reference: 'RACE-1' })),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses, results.map((r) => r.body).join('\n')).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.statusCode === 409)) expectError(r, 409, 'payment_exists');
    expect((await balanceOf()).balance).toBe('25.00');
    expect((await countRows(t.ctx)).ledger_entries).toBe(1);
    await expectLedgerBalanced(t.ctx);
  });

  it('a payment is recorded in the account currency (JPY has no minor digits)', async () => {
    const { account } = await createClient(t.ctx, 'yen@example.com', { currency: 'JPY' });
    const id = Number(account.id);
    const ok = await pay({ amount: '1500', method: 'bank', reference: 'JPY-1' }, admin, id);
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({ amount: '1500', currency: 'JPY' });
    expectError(
      await pay({ amount: '1.5', method: 'bank', reference: 'JPY-2' }, admin, id),
      400,
      'amount_too_precise',
    );
    expect((await balanceOf(admin, id)).balance).toBe('1500');
    await expectLedgerBalanced(t.ctx);
  });

  it('a payment to an account that does not exist → 404 account_not_found, nothing written', async () => {
    const before = await countRows(t.ctx);
    expectError(
      await pay({ amount: '1.00', method: 'bank', reference: 'X' }, admin, 999999),
      404,
      'account_not_found',
    );
    expect(await countRows(t.ctx)).toEqual(before);
    await expectLedgerBalanced(t.ctx);
  });
});

describe('adjustments over HTTP', () => {
  const adjust = (body: Record<string, unknown>) =>
    request(t.app, 'POST', `/api/v1/accounts/${accountId}/adjustments`, { auth: admin, body });

  it('a signed adjustment moves the balance both ways', async () => {
    expect((await adjust({ amount: '30.00', description: 'goodwill' })).statusCode).toBe(201);
    const down = await adjust({ amount: '-10.00', description: 'correction' });
    expect(down.statusCode, down.body).toBe(201);
    expect(down.json()).toMatchObject({ kind: 'adjustment', amount: '-10.00', balanceAfter: '20.00' });
    expect((await balanceOf(client)).balance).toBe('20.00');
    await expectLedgerBalanced(t.ctx);
  });

  it('an adjustment below the credit limit → 409 insufficient_balance, nothing written', async () => {
    expect((await adjust({ amount: '5.00', description: 'start' })).statusCode).toBe(201);
    const before = await moneySnapshot(t.ctx);
    const err = expectError(
      await adjust({ amount: '-5.01', description: 'too much' }),
      409,
      'insufficient_balance',
    );
    expect(err.details).toMatchObject({ required: '5.01', available: '5.00', currency: 'EUR' });
    expect(await moneySnapshot(t.ctx)).toBe(before);
    await expectLedgerBalanced(t.ctx);
  });

  it('a credit limit lets the balance go negative down to −limit, not further', async () => {
    const patch = await request(t.app, 'PATCH', `/api/v1/accounts/${accountId}`, {
      auth: admin,
      body: { creditLimit: '50.00' },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    expect((await adjust({ amount: '-50.00', description: 'use the credit' })).statusCode).toBe(201);
    expect(await balanceOf()).toMatchObject({ balance: '-50.00', creditLimit: '50.00', available: '0.00' });
    expectError(await adjust({ amount: '-0.01', description: 'one cent more' }), 409, 'insufficient_balance');
    // The limit cannot be lowered below the debt.
    const lower = await request(t.app, 'PATCH', `/api/v1/accounts/${accountId}`, {
      auth: admin,
      body: { creditLimit: '49.99' },
    });
    expectError(lower, 409, 'credit_limit_below_debt');
    await expectLedgerBalanced(t.ctx);
  });

  it('an idempotency key replays the same entry (200) and refuses a different one (409)', async () => {
    const first = await adjust({ amount: '7.00', description: 'promo', idempotencyKey: 'promo-1' });
    expect(first.statusCode, first.body).toBe(201);
    const replay = await adjust({ amount: '7.00', description: 'promo', idempotencyKey: 'promo-1' });
    expect(replay.statusCode, replay.body).toBe(200);
    expect(replay.json()).toEqual(first.json());
    const before = await moneySnapshot(t.ctx);
    expectError(
      await adjust({ amount: '8.00', description: 'promo', idempotencyKey: 'promo-1' }),
      409,
      'idempotency_key_reused',
    );
    expect(await moneySnapshot(t.ctx)).toBe(before);
    expect((await balanceOf()).balance).toBe('7.00');
    await expectLedgerBalanced(t.ctx);
  });
});
