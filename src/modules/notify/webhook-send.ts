import { createHmac } from 'node:crypto';
import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, isIPv4, type LookupFunction } from 'node:net';
import { canonicalIp } from '../../domain/ip.js';
import type { AppContext } from '../../platform/context.js';
import type { DeliveryRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { DeliveryError } from './delivery-error.js';
import type { SendOutcome } from './outbox.js';

/**
 * Webhook calls. Each is a POST of the event's JSON, signed (docs/api.md "Webhooks"):
 * `Billfold-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 */
export const SIGNATURE_HEADER = 'Billfold-Signature';
const TIMEOUT_MS = 10_000;

export function signature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export const signatureHeader = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${signature(secret, timestamp, body)}`;

/** Addresses a webhook may not call: loopback, private, link-local, shared, benchmark, multicast… */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127], // unspecified and loopback
  ['64:ff9b::', 96], // NAT64: an IPv4 address behind a translator
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/**
 * Whether an IP address is loopback, private, link-local, unspecified or otherwise not public.
 * The address is read in its canonical form first (domain/ip.ts), so an IPv4 address written as
 * IPv6 (`::ffff:127.0.0.1`, which URL parsing turns into `::ffff:7f00:1`) is judged as IPv4.
 */
export function isPrivateAddress(ip: string): boolean {
  const c = canonicalIp(ip);
  if (c === null) return true;
  return NOT_PUBLIC.check(c, isIPv4(c) ? 'ipv4' : 'ipv6');
}

/**
 * Why a webhook URL may not be called (SSRF), or null: it must be http(s), and its host must
 * resolve to public addresses only — unless the configuration allows private ones (tests).
 */
export async function urlProblem(ctx: AppContext, raw: string): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'not an http or https URL';
  if (url.username || url.password) return 'credentials in the URL';
  if (ctx.config.webhooksAllowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return 'the host does not resolve';
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) return 'a private or loopback address';
  return null;
}

/** The code of the error checkedLookup gives a name that resolves to an address not public. */
export const NOT_PUBLIC_CODE = 'EWEBHOOKNOTPUBLIC';

type Resolve = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

/**
 * The DNS lookup of a webhook's connection: the addresses the socket connects to are the ones
 * checked, so a name cannot pass `urlProblem` with a public address and then be answered with
 * a private one when the connection resolves it again (DNS rebinding: a short TTL is enough).
 * Any address that is not public refuses the whole name (NOT_PUBLIC_CODE), unless
 * `allowPrivate` (tests). `resolve` is dns.lookup; tests give their own.
 */
export function checkedLookup(allowPrivate: boolean, resolve: Resolve = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0 || (!allowPrivate && addresses.some((a) => isPrivateAddress(a.address)))) {
        const refused: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to an address that is not public`,
        );
        refused.code = NOT_PUBLIC_CODE;
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** One POST; resolves with the answer's status once its body has been read (and dropped). */
function post(
  target: string,
  headers: Record<string, string>,
  body: string,
  lookup: LookupFunction,
): Promise<number> {
  const url = new URL(target);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function sendWebhook(ctx: AppContext, d: DeliveryRow): Promise<SendOutcome> {
  const hook = d.webhook_id
    ? await ctx.db.kysely.selectFrom('webhooks').selectAll().where('id', '=', d.webhook_id).executeTakeFirst()
    : undefined;
  if (hook?.status !== 'active')
    throw new DeliveryError('webhook_disabled', 'The endpoint was deleted or disabled.', false);
  // Checked again at send time (the name may resolve elsewhere than when it was registered),
  // and once more by the connection itself (checkedLookup).
  const problem = await urlProblem(ctx, d.target);
  if (problem)
    throw new DeliveryError('webhook_url_refused', `The endpoint's URL is refused: ${problem}.`, false);
  const timestamp = Math.floor(ctx.clock.now().getTime() / 1000);
  const body = d.payload;
  let status: number;
  try {
    // Redirects are not followed (a 3xx is an answer like any other).
    status = await post(
      d.target,
      {
        'content-type': 'application/json',
        'user-agent': 'Billfold-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(ctx.secrets.open(hook.secret), timestamp, body),
        'Billfold-Event': d.kind,
        'Billfold-Delivery': String(toId(d.id)),
      },
      body,
      checkedLookup(ctx.config.webhooksAllowPrivate),
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === NOT_PUBLIC_CODE)
      throw new DeliveryError(
        'webhook_url_refused',
        `The endpoint's URL is refused: ${(err as Error).message}.`,
        false,
      );
    throw new DeliveryError('webhook_unreachable', err instanceof Error ? err.message : String(err), true);
  }
  if (status >= 200 && status < 300) return { sent: true, statusCode: status };
  // 4xx other than a timeout or a rate limit: the endpoint refuses this call for good.
  const retryable = status >= 500 || status === 408 || status === 429 || status < 400;
  throw new DeliveryError('webhook_http_error', `The endpoint answered HTTP ${status}.`, retryable, status);
}
