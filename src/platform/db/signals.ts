import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { Tx } from './connect.js';

/**
 * "Something changed that a waiting process may want to act on at once" — an operation queued —
 * told after the writer's transaction commits, never before (a woken reader must find the row).
 *
 * - PostgreSQL: `pg_notify` inside the writer's transaction. PostgreSQL delivers a notification
 *   only when its transaction commits (and drops it on rollback), to every connection that
 *   LISTENs on the channel, in this process or another. A listener holds one dedicated
 *   connection of its own (not one of the pool's), reconnecting after a loss.
 * - SQLite: an in-process emitter keyed by the database file. The writer signals inside its
 *   transaction, but the listener's next query waits for the one connection that transaction
 *   holds (Kysely serialises a SQLite handle), so it still reads after the commit; a rollback
 *   leaves it nothing to find. Other processes on the same file are not told: they poll.
 *
 * Either way a signal is a hint, not a message: listeners re-read the table, and a lost signal
 * (a dropped connection) costs only the poll interval that every listener keeps as a fallback.
 */
export type Topic = 'operations';

export interface Signals {
  /** Tells listeners of `topic`, once the transaction `tx` commits. */
  notify(tx: Tx, topic: Topic): Promise<void>;
  /** Calls `onSignal` on every signal of `topic` until the returned function is called. */
  listen(topic: Topic, onSignal: () => void, onError?: (err: unknown) => void): Promise<() => Promise<void>>;
}

const local = new Map<string, EventEmitter>();

export function sqliteSignals(file: string): Signals {
  const key = file === ':memory:' ? `:memory:${Math.random()}` : path.resolve(file);
  const emitter = (): EventEmitter => {
    let e = local.get(key);
    if (!e) {
      e = new EventEmitter();
      e.setMaxListeners(0);
      local.set(key, e);
    }
    return e;
  };
  return {
    async notify(_tx, topic) {
      local.get(key)?.emit(topic);
    },
    async listen(topic, onSignal) {
      const e = emitter();
      e.on(topic, onSignal);
      return async () => {
        e.off(topic, onSignal);
        if (e.eventNames().length === 0) local.delete(key);
      };
    },
  };
}

/**
 * The channel a topic uses in one schema: schemas sharing a database (tests, two installations)
 * must not wake each other. Channel names are identifiers (at most 63 bytes), so a long schema
 * name is hashed.
 */
export function channelOf(topic: Topic, schema: string | undefined): string {
  const name = `billfold_${topic}${schema ? `_${schema}` : ''}`.toLowerCase();
  if (/^[a-z_][a-z0-9_]{0,62}$/.test(name)) return name;
  return `billfold_${topic}_${createHash('sha256')
    .update(schema ?? '')
    .digest('hex')
    .slice(0, 16)}`;
}

const RECONNECT_MS = 1000;
/** How a listening connection shows in pg_stat_activity. */
export const LISTENER_NAME = 'billfold-listen';

export function postgresSignals(url: string, schema: string | undefined): Signals {
  return {
    async notify(tx, topic) {
      await sql`select pg_notify(${channelOf(topic, schema)}, '')`.execute(tx);
    },
    async listen(topic, onSignal, onError) {
      const channel = channelOf(topic, schema);
      let client: pg.Client | undefined;
      let closed = false;
      let retry: NodeJS.Timeout | undefined;
      const start = async (): Promise<void> => {
        const c = new pg.Client({ connectionString: url, application_name: LISTENER_NAME });
        client = c;
        // A lost connection (or one never made) is retried in the background; what was
        // signalled meanwhile is found by one look when it is back.
        const lost = (err: unknown) => {
          if (client !== c) return;
          client = undefined;
          c.end().catch(() => {});
          if (closed) return;
          onError?.(err);
          retry = setTimeout(() => void start(), RECONNECT_MS);
        };
        c.on('error', lost);
        c.on('end', () => lost(new Error('the listening connection ended')));
        c.on('notification', (msg) => {
          if (msg.channel === channel) onSignal();
        });
        try {
          await c.connect();
          await c.query(`listen "${channel}"`);
          onSignal();
        } catch (err) {
          lost(err);
        }
      };
      await start();
      return async () => {
        closed = true;
        if (retry) clearTimeout(retry);
        const c = client;
        client = undefined;
        await c?.end().catch(() => {});
      };
    },
  };
}
