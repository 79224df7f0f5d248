import { parse as parseQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext } from '../../platform/context.js';
import { AppError } from '../../platform/errors.js';
import { type ErrorDialect, failureOf } from '../../platform/http/errors.js';
import { type MgrCaller, mgrLogin, mgrNewKey, resolveCaller, resolveCallerReading } from './auth.js';
import { faultDoc, MgrFault, toMgrFault, transportFault } from './errors.js';
import {
  type Call,
  changePricelist,
  checkIp,
  edit,
  FAMILIES,
  type Family,
  licenseViewReads,
  list,
  orderParam,
  prolong,
  remove,
  resume,
  suspend,
  view,
  viewCallOf,
} from './licenses.js';
import { exportPricelist } from './pricelist.js';
import {
  el,
  isMgrList,
  type MgrList,
  type MgrNode,
  mgrDoc,
  okDoc,
  parseMgrParams,
  parseOut,
  renderMgr,
  renderMgrList,
} from './protocol.js';
import { whoami } from './whoami.js';

type Fn = (c: Call) => Promise<MgrNode | MgrList>;

export interface BillmgrOptions {
  /** Licenses a list reads and sends at a time (LIST_CHUNK_ROWS); tests lower it. */
  readonly listChunkRows?: number;
}

/** The functions callers may use once signed in; `auth` and `pricelist.export` are handled before. */
function functionTable(opts: BillmgrOptions): Map<string, Fn> {
  const table = new Map<string, Fn>();
  const per = (family: Family) => {
    table.set(family, async (c) => list(c, family, opts.listChunkRows));
    table.set(`${family}.order.param`, (c) => orderParam(c, family));
    table.set(`${family}.edit`, (c) => edit(c, family));
    table.set(`${family}.suspend`, (c) => suspend(c, family));
    table.set(`${family}.resume`, (c) => resume(c, family));
    table.set(`${family}.delete`, (c) => remove(c, family));
    if (family !== 'platform') table.set(`${family}.checkip`, (c) => checkIp(c, family));
  };
  for (const f of FAMILIES) per(f);
  table.set('service.prolong', prolong);
  table.set('service.changepricelist', changePricelist);
  table.set('whoami', whoami);
  return table;
}

/** Every `func` the API answers: the function table's and those handled before it. */
export const MGR_FUNCS: readonly string[] = Object.freeze([
  'auth',
  'session.newkey',
  'pricelist.export',
  ...functionTable({}).keys(),
]);

/** The API's paths (PROTOCOL.md §1). */
export const MGR_PATHS: readonly string[] = Object.freeze([
  '/billmgr',
  '/billmgr/',
  '/manager/billmgr',
  '/manager/billmgr/',
]);

/** A query string or form body as parameters (repeated keys are arrays; parseMgrParams keeps the last). */
const parseForm = (text: string) => parseQuery(text, '&', '=', { maxKeys: 0 });

/** Bodies that are certainly not forms; reading them as one would misread every parameter. */
const NOT_A_FORM = /^\s*(multipart\/|application\/json\b)/i;

function sendDoc(reply: FastifyReply, status: number, doc: MgrNode, p: Record<string, string>) {
  const { contentType, body } = renderMgr(doc, parseOut(p.out));
  return reply
    .code(status)
    .header('content-type', contentType)
    .header('cache-control', 'no-store')
    .send(body);
}

/**
 * Errors of requests for the API's paths that never reach it (no route for the method, a body
 * an unmatched route could not parse, a URL the HTTP parser refused) as mgr documents in the
 * `out` format the query string asks for; wired into the app's error handlers.
 */
export const mgrErrorDialect: ErrorDialect = {
  claims: (path) => MGR_PATHS.includes(path),
  write(failure, query) {
    const p = parseMgrParams(parseForm(query), undefined);
    return renderMgr(faultDoc(transportFault(failure), p.lang || 'en'), parseOut(p.out));
  },
};

/**
 * The BILLmanager-compatible API at `/billmgr` and `/manager/billmgr` (with or without a
 * trailing slash), GET or POST: `func` picks the function, `out` the format; API errors are
 * answered with HTTP 200 and an `<error>` document, as ISPsystem's clients expect.
 *
 * Any POST body is read as a form, whatever its content type says — none (Guzzle-based clients
 * such as Upmind's send `func=…&authinfo=…` raw), `text/plain`, `application/octet-stream` —
 * except multipart and JSON, which are refused (415). Every error on these paths is an mgr
 * document: the app's errors (bad text, a refused sign-in header) as API errors with 200; the
 * HTTP layer's refusals (413, 415, 500…) with their status (transportFault).
 */
export function registerBillmgrRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  opts: BillmgrOptions = {},
): void {
  const table = functionTable(opts);

  async function dispatch(p: Record<string, string>, ip: string): Promise<MgrNode | MgrList> {
    const func = p.func ?? '';
    if (func === 'auth') {
      const { sid, level } = await mgrLogin(ctx, p, ip);
      return mgrDoc([el('auth', sid, { id: sid, level: String(level) })]);
    }
    const signedIn = Boolean(p.auth) || p.authinfo !== undefined;
    const viewCall = signedIn ? viewCallOf(p) : null;
    if (viewCall) {
      // soft.edit's view, the call repeated most: the caller and the license in one read.
      const { family, id } = viewCall;
      const found = await resolveCallerReading(ctx, p, ip, licenseViewReads(family, id));
      if (!found) throw new MgrFault('auth', 'Sign in: authinfo=user:password or auth=<session id>.');
      return view({ ctx, caller: found.caller, p }, family, id, found.rows);
    }
    let caller: MgrCaller | null = null;
    if (signedIn) caller = await resolveCaller(ctx, p, ip);
    if (func === 'pricelist.export') return exportPricelist(ctx, caller, p);
    if (!caller) throw new MgrFault('auth', 'Sign in: authinfo=user:password or auth=<session id>.');
    if (func === 'session.newkey') {
      await mgrNewKey(ctx, caller, p);
      return okDoc();
    }
    if (func === '') return mgrDoc();
    const fn = table.get(func);
    if (!fn) throw new MgrFault('unknown_func', `Unknown function "${func}".`, func);
    return fn({ ctx, caller, p });
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const p = parseMgrParams(request.query, request.body);
    const out = parseOut(p.out);
    let answer: { contentType: string; body: string | AsyncIterable<string> };
    let outcome = 'ok';
    try {
      const result = await dispatch(p, request.ip);
      answer = isMgrList(result) ? await renderMgrList(result, out) : renderMgr(result, out);
    } catch (err) {
      const fault = toMgrFault(err, p);
      if (fault.type === 'error') request.log.error({ err, func: p.func }, 'billmgr function failed');
      answer = renderMgr(faultDoc(fault, p.lang || 'en'), out);
      outcome = fault.type;
    }
    // Every answer is HTTP 200: this line says which function ran and how it ended (the
    // function comes from the form body on a POST, which the request line cannot show).
    // Parameters are never logged: authinfo, password, auth and key are among them.
    request.log.info({ func: p.func ?? '', out, result: outcome }, 'billmgr call');
    return reply
      .code(200)
      .header('content-type', answer.contentType)
      .header('cache-control', 'no-store')
      .send(typeof answer.body === 'string' ? answer.body : Readable.from(answer.body));
  };

  app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      if (NOT_A_FORM.test(request.headers['content-type'] ?? '')) {
        done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
        return;
      }
      done(null, parseForm(body as string));
    });
    api.setErrorHandler((err, request, reply) => {
      const p = parseMgrParams(request.query, request.body);
      const lang = p.lang || 'en';
      if (err instanceof AppError || err instanceof MgrFault)
        return sendDoc(reply, 200, faultDoc(toMgrFault(err, p), lang), p);
      const failure = failureOf(err, request);
      return sendDoc(reply, failure.status, faultDoc(transportFault(failure), lang), p);
    });
    for (const path of MGR_PATHS) {
      // Public at the HTTP level: the API authenticates by its own parameters (authinfo, auth).
      api.route({
        method: ['GET', 'POST'],
        url: path,
        config: { auth: 'public' },
        schema: { hide: true },
        handler,
      });
    }
  });
}
