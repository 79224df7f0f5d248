/**
 * A Kysely plugin that counts the queries a piece of code sends, by statement and table
 * (`select tariffs`, `insert billing_steps`, …). Transactions opened through the counted
 * instance are counted too; BEGIN/COMMIT are not (they bypass plugins).
 *
 * A query is named when it is compiled (transformQuery) and counted when its result comes back
 * (transformResult, same queryId): a prepared query (src/platform/db/prepared.ts) is compiled
 * once and run many times, and each run counts. A query that fails is not counted.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryId } from 'kysely';

type Node = { kind: string; [key: string]: unknown };

function tableOf(node: unknown): string {
  const n = node as Node | undefined;
  if (!n) return '?';
  switch (n.kind) {
    case 'TableNode':
      return ((n.table as { identifier: { name: string } }).identifier.name as string) ?? '?';
    case 'AliasNode':
      return tableOf(n.node);
    case 'FromNode':
      return tableOf((n.froms as unknown[])[0]);
    default:
      return '?';
  }
}

export class QueryCounter implements KyselyPlugin {
  readonly counts = new Map<string, number>();
  total = 0;
  readonly #names = new WeakMap<QueryId, string>();

  transformQuery(args: PluginTransformQueryArgs) {
    const n = args.node as unknown as Node;
    const verb = n.kind.replace(/QueryNode$/, '').toLowerCase();
    const table =
      n.kind === 'SelectQueryNode' || n.kind === 'DeleteQueryNode'
        ? tableOf(n.from)
        : n.kind === 'InsertQueryNode'
          ? tableOf(n.into)
          : n.kind === 'UpdateQueryNode'
            ? tableOf(n.table)
            : '';
    this.#names.set(args.queryId, `${verb} ${table}`.trim());
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs) {
    const key = this.#names.get(args.queryId) ?? '?';
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
    return Promise.resolve(args.result);
  }

  reset() {
    this.counts.clear();
    this.total = 0;
  }

  /** The most frequent statements, most frequent first. */
  top(n = 12): { query: string; count: number }[] {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([query, count]) => ({ query, count }));
  }
}
