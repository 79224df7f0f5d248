import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../platform/context.js';
import { type MgrCaller, mgrLogin, mgrNewKey, resolveCaller } from './auth.js';
import { faultDoc, MgrFault, toMgrFault } from './errors.js';
import {
  type Call,
  changePricelist,
  checkIp,
  edit,
  FAMILIES,
  type Family,
  list,
  orderParam,
  prolong,
  remove,
  resume,
  suspend,
} from './licenses.js';
import { exportPricelist } from './pricelist.js';
import { el, type MgrNode, mgrDoc, okDoc, parseMgrParams, parseOut, renderMgr } from './protocol.js';

type Fn = (c: Call) => Promise<MgrNode>;

/** The functions callers may use once signed in; `auth` and `pricelist.export` are handled before. */
function functionTable(): Map<string, Fn> {
  const table = new Map<string, Fn>();
  const per = (family: Family) => {
    table.set(family, (c) => list(c, family));
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
  return table;
}

/**
 * The BILLmanager-compatible API at `/billmgr` and `/manager/billmgr` (with or without a
 * trailing slash), GET or POST form: `func` picks the function, `out` the format; API errors
 * are answered with HTTP 200 and an `<error>` document, as ISPsystem's clients expect.
 */
export function registerBillmgrRoutes(app: FastifyInstance, ctx: AppContext): void {
  const table = functionTable();

  async function dispatch(p: Record<string, string>, ip: string): Promise<MgrNode> {
    const func = p.func ?? '';
    if (func === 'auth') {
      const { sid, level } = await mgrLogin(ctx, p, ip);
      return mgrDoc([el('auth', sid, { id: sid, level: String(level) })]);
    }
    let caller: MgrCaller | null = null;
    if (p.auth || p.authinfo !== undefined) caller = await resolveCaller(ctx, p, ip);
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
    let doc: MgrNode;
    let result = 'ok';
    try {
      doc = await dispatch(p, request.ip);
    } catch (err) {
      const fault = toMgrFault(err, p);
      if (fault.type === 'error') request.log.error({ err, func: p.func }, 'billmgr function failed');
      doc = faultDoc(fault, p.lang || 'en');
      result = fault.type;
    }
    // Every answer is HTTP 200: this line says which function ran and how it ended (the
    // function comes from the form body on a POST, which the request line cannot show).
    // Parameters are never logged: authinfo, password, auth and key are among them.
    request.log.info({ func: p.func ?? '', out, result }, 'billmgr call');
    const { contentType, body } = renderMgr(doc, out);
    return reply.code(200).header('content-type', contentType).header('cache-control', 'no-store').send(body);
  };

  for (const path of ['/billmgr', '/billmgr/', '/manager/billmgr', '/manager/billmgr/']) {
    // Public at the HTTP level: the API authenticates by its own parameters (authinfo, auth).
    app.route({
      method: ['GET', 'POST'],
      url: path,
      config: { auth: 'public' },
      schema: { hide: true },
      handler,
    });
  }
}
