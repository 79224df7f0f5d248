/**
 * The wire layer of Billfold's BILLmanager-compatible API (the ISPsystem "mgr" API served at /billmgr,
 * PROTOCOL.md §1–3). Pure functions: a handler builds one small element tree and `renderMgr` turns it
 * into whatever `out=` the caller asked for, so a field is added once and xml, json, sjson and bjson
 * cannot drift apart. Request helpers read the loose GET/POST parameters the protocol allows.
 */

import { INVALID_TEXT_CHAR } from '../../platform/validation.js';

/**
 * One XML element. `text` and `children` may both be set (text is written first); an element with
 * neither is empty (`<ok/>`, json `{}`). Empty text and no text are the same thing, as in XML.
 */
export type MgrNode = {
  readonly name: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly text?: string;
  readonly children?: readonly MgrNode[];
};

/** The `out=` formats we serve. */
export type MgrOut = 'xml' | 'json' | 'sjson' | 'bjson';

export const MGR_OUTS: readonly MgrOut[] = Object.freeze(['xml', 'json', 'sjson', 'bjson']);

/** A field value: null is "present but empty" (an empty element), undefined is "not in the response". */
export type MgrScalar = string | number | bigint | null | undefined;

/** The mgr error vocabulary we emit (PROTOCOL.md §3); a closed union so handlers cannot invent types. */
export type MgrErrorType =
  | 'auth'
  | 'access'
  | 'missed'
  | 'value'
  | 'exists'
  | 'not_enough_money'
  | 'unknown_func'
  | 'error';

export type MgrResponse = { contentType: string; body: string };

export type RenderOptions = {
  /** Extra element names that sjson renders as arrays even when alone (added to SJSON_ARRAY_NAMES). */
  sjsonArrays?: Iterable<string>;
};

// ---------------------------------------------------------------------------------------------------
// Building documents

/** Text of a field value; a non-finite number is a bug in the caller, not something to send. */
function scalarText(value: string | number | bigint | null): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError(`Cannot send a non-finite number: ${value}`);
  }
  return value === null ? '' : String(value);
}

/** `el('id', 7)` → `<id>7</id>`; `el('elem', [..])` → `<elem>…</elem>`; `el('ok')` → `<ok/>`. */
export function el(
  name: string,
  content?: string | number | bigint | null | readonly MgrNode[],
  attrs?: Readonly<Record<string, string>>,
): MgrNode {
  const node: { -readonly [K in keyof MgrNode]: MgrNode[K] } = { name };
  if (attrs !== undefined) node.attrs = attrs;
  if (Array.isArray(content)) {
    node.children = content as readonly MgrNode[];
  } else if (content !== undefined) {
    const text = scalarText(content as string | number | bigint | null);
    if (text !== '') node.text = text;
  }
  return node;
}

/** The `<doc>` root every response has. */
export const mgrDoc = (
  children: readonly MgrNode[] = [],
  attrs?: Readonly<Record<string, string>>,
): MgrNode => el('doc', children, attrs);

/**
 * One element per field, in the record's key order. null → an empty element (clients poll fields such
 * as `lickey` that exist before they have a value); undefined → omitted (the field is not part of this
 * answer).
 */
export function fields(record: Readonly<Record<string, MgrScalar>>): MgrNode[] {
  const nodes: MgrNode[] = [];
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) nodes.push(el(name, value));
  }
  return nodes;
}

/** An object (form view): `<doc><id>7</id><ip>…</ip>…</doc>`, then `extra` (slists, a nested doc…). */
export const objectDoc = (
  record: Readonly<Record<string, MgrScalar>>,
  extra: readonly MgrNode[] = [],
): MgrNode => mgrDoc([...fields(record), ...extra]);

/** A list: `<doc><elem>…</elem>…</doc>`, then `extra` (e.g. `p_elems`). */
export const listDoc = (
  rows: readonly Readonly<Record<string, MgrScalar>>[],
  extra: readonly MgrNode[] = [],
): MgrNode => mgrDoc([...rows.map((row) => el('elem', fields(row))), ...extra]);

/** A select list inside a form: `<slist name="period"><val key="1">1 month</val>…</slist>`. */
export const slist = (
  name: string,
  options: readonly (readonly [key: string | number, label: string])[],
): MgrNode =>
  el(
    'slist',
    options.map(([key, label]) => el('val', label, { key: String(key) })),
    { name },
  );

/** A void success: `<doc><ok/></doc>` (json clients test `doc.ok`, bjson ones `"ok":true`). */
export const okDoc = (): MgrNode => mgrDoc([el('ok')]);

export type MgrErrorInput = {
  type: MgrErrorType;
  /** The field or parameter at fault (`ip`); becomes the `object` attribute and an `object` param. */
  object?: string;
  /** The offending value as received; becomes a `value` param. */
  value?: string;
  /** Human text in `lang`; clients show it as is. */
  msg: string;
  /** Defaults to 'en', the language of our messages. */
  lang?: string;
};

/**
 * `<doc><error type object lang><param name="object" type="msg">…</param><param name="value">…</param>
 * <msg>…</msg></error></doc>`, the shape the mgr core emits. `object` is always present as an attribute
 * (empty when not given) because PHP clients index `$object` unguarded; the params appear only when
 * given. Never put internal details in `msg`: it goes to the other party verbatim.
 */
export function mgrError({ type, object, value, msg, lang = 'en' }: MgrErrorInput): MgrNode {
  const params: MgrNode[] = [];
  if (object !== undefined && object !== '')
    params.push(el('param', object, { name: 'object', type: 'msg' }));
  if (value !== undefined) params.push(el('param', value, { name: 'value' }));
  return mgrDoc([el('error', [...params, el('msg', msg)], { type, object: object ?? '', lang })]);
}

// ---------------------------------------------------------------------------------------------------
// Rendering

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

const CONTENT_TYPES: Readonly<Record<MgrOut, string>> = Object.freeze({
  xml: 'text/xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
  sjson: 'application/json; charset=utf-8',
  bjson: 'application/json; charset=utf-8',
});

/**
 * Names sjson always renders as arrays, not "every child an array". Evidence: recorded sjson answers of
 * an ISPmanager 6 panel in a public PHP client's tests have a lone `elem` as `[…]` while `ok`, `error`,
 * `msg`, `detail`, `tparams` and the fields inside an `elem` stay objects; a BILLmanager sjson client
 * reads `doc.auth.$id` and `doc.elem[0]` (research §1.4). `slist`/`val`/`param` are the other "one of
 * many" elements we emit; a PHP client that `foreach`es a lone param object would walk its keys.
 */
export const SJSON_ARRAY_NAMES: ReadonlySet<string> = new Set(['elem', 'slist', 'val', 'param']);

/** Element and attribute names we allow: a safe subset of XML names that is also a plain JSON key. */
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Everything outside XML 1.0's Char production (C0 controls but tab/LF/CR, lone surrogates,
 * U+FFFE/F): the characters requests may not carry either (INVALID_TEXT_CHAR).
 */
const INVALID_XML_CHARS = new RegExp(INVALID_TEXT_CHAR.source, 'gu');

/** Drop what XML 1.0 cannot carry, in every format, so all four say the same thing. */
export const stripInvalidXmlChars = (text: string): string => text.replace(INVALID_XML_CHARS, '');

/** The tree after validation and cleaning; renderers only ever see this. */
type Clean = { name: string; attrs: [string, string][]; text: string; children: Clean[] };

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RangeError(`Invalid ${what} name: ${JSON.stringify(name)}`);
  }
  return name;
}

function clean(node: MgrNode): Clean {
  const name = checkName(node.name, 'element');
  const attrs: [string, string][] = [];
  for (const [key, value] of Object.entries(node.attrs ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`Attribute ${name}/@${key} is not a string`);
    attrs.push([checkName(key, 'attribute'), stripInvalidXmlChars(value)]);
  }
  if (node.text !== undefined && typeof node.text !== 'string') {
    throw new TypeError(`Text of <${name}> is not a string`);
  }
  return {
    name,
    attrs,
    text: stripInvalidXmlChars(node.text ?? ''),
    children: (node.children ?? []).map(clean),
  };
}

/**
 * Text needs only & < (and > against `]]>`); quotes stay raw so messages read as written
 * (`<msg>Invalid value of the field "IP address"</msg>`). A raw CR would be read back as LF.
 * Attributes are double-quoted and also get " ' and tab/LF/CR as references, which survive the
 * attribute-value normalisation that turns raw whitespace into spaces.
 */
const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

// Tested first: most text has nothing to escape, and a replace with a function costs several
// times a test even when nothing matches (soft.edit's view has some twenty texts per answer).
const TEXT_ESCAPED = /[&<>\r]/;
const ATTR_ESCAPED = /[&<>"'\t\n\r]/;
const escapeText = (s: string): string =>
  TEXT_ESCAPED.test(s) ? s.replace(/[&<>\r]/g, (c) => XML_ESCAPES[c]!) : s;
const escapeAttr = (s: string): string =>
  ATTR_ESCAPED.test(s) ? s.replace(/[&<>"'\t\n\r]/g, (c) => XML_ESCAPES[c]!) : s;

/**
 * The xml of an element straight from the tree: the checks and cleaning of `clean`, in its
 * order, and the bytes of `xmlElement(clean(node))`, without building the cleaned copy first
 * (most answers are xml; soft.edit's view is rendered on every call).
 */
function xmlOf(node: MgrNode): string {
  const name = checkName(node.name, 'element');
  let out = `<${name}`;
  if (node.attrs !== undefined) {
    for (const [key, value] of Object.entries(node.attrs)) {
      if (typeof value !== 'string') throw new TypeError(`Attribute ${name}/@${key} is not a string`);
      out += ` ${checkName(key, 'attribute')}="${escapeAttr(stripInvalidXmlChars(value))}"`;
    }
  }
  if (node.text !== undefined && typeof node.text !== 'string') {
    throw new TypeError(`Text of <${name}> is not a string`);
  }
  const text = node.text === undefined ? '' : stripInvalidXmlChars(node.text);
  const children = node.children ?? [];
  if (text === '' && children.length === 0) return `${out}/>`;
  out += `>${escapeText(text)}`;
  for (const child of children) out += xmlOf(child);
  return `${out}</${name}>`;
}

function xmlElement(node: Clean): string {
  const attrs = node.attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
  if (node.text === '' && node.children.length === 0) return `<${node.name}${attrs}/>`;
  return `<${node.name}${attrs}>${escapeText(node.text)}${node.children.map(xmlElement).join('')}</${node.name}>`;
}

type Json = string | boolean | Json[] | JsonObject;
type JsonObject = { [key: string]: Json };

/** Null-prototype objects so an element named `__proto__` or `constructor` is just a key. */
const jsonObject = (): JsonObject => Object.create(null) as JsonObject;

/** Children grouped by name, groups in order of first appearance. */
function groupByName(children: readonly Clean[]): Map<string, Clean[]> {
  const groups = new Map<string, Clean[]>();
  for (const child of children) {
    const group = groups.get(child.name);
    if (group === undefined) groups.set(child.name, [child]);
    else group.push(child);
  }
  return groups;
}

/**
 * json/sjson image of one element: attribute x → `"$x"`, then text → `"$"` (only when non-empty), then
 * each child name once, in first-appearance order: one child → its object, several → an array of them,
 * and under sjson a name in `arrays` → an array even when alone.
 */
function jsonImage(node: Clean, arrays: ReadonlySet<string> | null): JsonObject {
  const out = jsonObject();
  for (const [key, value] of node.attrs) out[`$${key}`] = value;
  if (node.text !== '') out['$'] = node.text;
  for (const [name, group] of groupByName(node.children)) {
    out[name] =
      group.length > 1 || arrays?.has(name) === true
        ? group.map((child) => jsonImage(child, arrays))
        : jsonImage(group[0]!, arrays);
  }
  return out;
}

/** bjson value of an element: a bare leaf is its text; anything else an object (attrs, `v` text, children). */
function flatValue(node: Clean): Json {
  return node.attrs.length === 0 && node.children.length === 0 ? node.text : flatObject(node);
}

function flatObject(node: Clean): JsonObject {
  const out = jsonObject();
  for (const [key, value] of node.attrs) out[key] = value;
  if (node.text !== '') out['v'] = node.text;
  Object.assign(out, flatChildren(node.children));
  return out;
}

function flatChildren(children: readonly Clean[]): JsonObject {
  const out = jsonObject();
  for (const [name, group] of groupByName(children)) {
    out[name] = group.length > 1 ? group.map(flatValue) : flatValue(group[0]!);
  }
  return out;
}

const attrOf = (node: Clean, key: string): string | undefined => node.attrs.find(([k]) => k === key)?.[1];

/**
 * bjson, the flat shape of BM6's UI that Upmind's ispmanager provider reads (research §1.4):
 * - no `doc` wrapper and no `$`: that client replaces the answer by `answer.doc` when present, so a
 *   `doc` key next to `model` would hide `model` from it;
 * - an error: `{"error":{"type","object","value"?,"msg"}}` only; msg falls back to the type when empty
 *   because that client detects errors by a non-empty `error.msg`;
 * - `<ok/>` → `"ok":true`; each `<elem>` → an entry of the `elem` array (always an array), fields as
 *   plain strings; each `<slist name=N>` → `slist.N = [{"k":key,"v":label}…]`;
 * - every other child of `doc` → `model.<name>` (a bare leaf as its string; attributes, children or
 *   repeats as in flatValue/flatChildren); a leaf `id` is also copied to `"id":{"v":…}`, where that
 *   client reads the id of a created object. `doc`'s own attributes are dropped.
 */
function bjsonImage(doc: Clean): JsonObject {
  const out = jsonObject();
  const error = doc.children.find((child) => child.name === 'error');
  if (error !== undefined) {
    const type = attrOf(error, 'type') ?? 'error';
    const body = jsonObject();
    body['type'] = type;
    body['object'] = attrOf(error, 'object') ?? '';
    const value = error.children.find((c) => c.name === 'param' && attrOf(c, 'name') === 'value');
    if (value !== undefined) body['value'] = value.text;
    body['msg'] = error.children.find((c) => c.name === 'msg')?.text || type;
    out['error'] = body;
    return out;
  }
  const elems: Json[] = [];
  const slists = jsonObject();
  const rest: Clean[] = [];
  let ok = false;
  let id: string | undefined;
  for (const child of doc.children) {
    if (child.name === 'elem') {
      elems.push(flatObject(child));
    } else if (child.name === 'ok') {
      ok = true;
    } else if (child.name === 'slist') {
      slists[attrOf(child, 'name') ?? ''] = child.children
        .filter((val) => val.name === 'val')
        .map((val) => ({ k: attrOf(val, 'key') ?? '', v: val.text }));
    } else {
      rest.push(child);
      if (child.name === 'id' && child.attrs.length === 0 && child.children.length === 0) id ??= child.text;
    }
  }
  if (rest.length > 0) out['model'] = flatChildren(rest);
  if (id !== undefined) out['id'] = { v: id };
  if (elems.length > 0) out['elem'] = elems;
  if (Object.keys(slists).length > 0) out['slist'] = slists;
  if (ok) out['ok'] = true;
  return out;
}

/**
 * Render a `<doc>` tree. Every format drops characters XML 1.0 cannot carry (stripInvalidXmlChars).
 * - xml: `<?xml version="1.0" encoding="UTF-8"?>\n<doc>…</doc>`, no whitespace added; text escapes
 *   & < > and CR, attributes & < > " ' and tab/LF/CR (see XML_ESCAPES).
 * - json: `{"doc":image}`, image as in jsonImage; one child → object, several → array (clients cope).
 * - sjson: json, but names in SJSON_ARRAY_NAMES (+ opts.sjsonArrays) are arrays even when alone; `doc`
 *   itself is an object.
 * - bjson: see bjsonImage.
 * Names outside [A-Za-z_][A-Za-z0-9_.-]* and a root not named `doc` are bugs and throw RangeError.
 */
export function renderMgr(doc: MgrNode, out: MgrOut, opts: RenderOptions = {}): MgrResponse {
  if (doc.name !== 'doc') throw new RangeError(`The response root must be <doc>, got <${doc.name}>`);
  const contentType = CONTENT_TYPES[out];
  if (out === 'xml') return { contentType, body: `${XML_HEAD}${xmlOf(doc)}` };
  const root = clean(doc);
  switch (out) {
    case 'json':
      return { contentType, body: JSON.stringify({ doc: jsonImage(root, null) }) };
    case 'sjson': {
      const arrays = new Set([...SJSON_ARRAY_NAMES, ...(opts.sjsonArrays ?? [])]);
      return { contentType, body: JSON.stringify({ doc: jsonImage(root, arrays) }) };
    }
    case 'bjson':
      return { contentType, body: JSON.stringify(bjsonImage(root)) };
    default:
      throw new RangeError(`Unknown output format: ${String(out)}`);
  }
}

/** A list answer made in pieces: `<doc>` holding the `elem`s the chunks yield, in order. */
export interface MgrList {
  readonly elems: AsyncIterable<readonly MgrNode[]>;
}

export const isMgrList = (answer: MgrNode | MgrList): answer is MgrList => 'elems' in answer;

/** One `elem` of a list as it appears inside the list in each format. */
function elemPiece(node: MgrNode, out: MgrOut): string {
  if (node.name !== 'elem') throw new RangeError(`A list holds only <elem>, got <${node.name}>`);
  const c = clean(node);
  switch (out) {
    case 'xml':
      return xmlElement(c);
    case 'json':
      return JSON.stringify(jsonImage(c, null));
    case 'sjson':
      return JSON.stringify(jsonImage(c, SJSON_ARRAY_NAMES));
    case 'bjson':
      return JSON.stringify(flatObject(c));
  }
}

/** What surrounds two or more `elem`s in each format (one elem is an object in json, not an array). */
const LIST_FRAME: Readonly<Record<MgrOut, readonly [open: string, close: string]>> = Object.freeze({
  xml: [`${XML_HEAD}<doc>`, '</doc>'],
  json: ['{"doc":{"elem":[', ']}}'],
  sjson: ['{"doc":{"elem":[', ']}}'],
  bjson: ['{"elem":[', ']}'],
});

/**
 * A list rendered as it is read: the same bytes as `renderMgr(mgrDoc(all elems), out)`, but
 * memory holds one chunk, not the list. The first two elements are read (and rendered) before
 * this returns, because json writes a lone `elem` as an object and several as an array, and so
 * that a failure that early can still be answered as an error document; a list of fewer comes
 * back whole as a string, a longer one as pieces to stream. A failure later ends the pieces
 * with that error (the answer is cut off visibly, never completed with rows missing).
 */
export async function renderMgrList(
  list: MgrList,
  out: MgrOut,
): Promise<{ contentType: string; body: string | AsyncIterable<string> }> {
  const contentType = CONTENT_TYPES[out];
  const rows = list.elems[Symbol.asyncIterator]();
  const head: MgrNode[] = [];
  while (head.length < 2) {
    const next = await rows.next();
    if (next.done) return renderMgr(mgrDoc(head), out);
    head.push(...next.value);
  }
  const [open, close] = LIST_FRAME[out];
  const separator = out === 'xml' ? '' : ',';
  const piece = (node: MgrNode) => elemPiece(node, out);
  const first = open + head.map(piece).join(separator);
  async function* pieces(): AsyncGenerator<string> {
    try {
      yield first;
      for (let next = await rows.next(); !next.done; next = await rows.next()) {
        if (next.value.length > 0) yield separator + next.value.map(piece).join(separator);
      }
      yield close;
    } finally {
      await rows.return?.();
    }
  }
  return { contentType, body: pieces() };
}

// ---------------------------------------------------------------------------------------------------
// Requests

/** Only what a query-string or form parser hands us; Buffers, arrays and class instances are not params. */
function isParamBag(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  // fast-querystring (Fastify's parser) builds its objects on an empty null-prototype object.
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/** A repeated key arrives as an array: the last string wins, as in the mgr core. */
function lastString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) {
      const item: unknown = value[i];
      if (typeof item === 'string') return item;
    }
  }
  return undefined;
}

/**
 * GET query and POST form body merged into one flat map (the protocol lets a client use either or
 * both); the body wins on a clash. Values are kept exactly (no trimming); anything that is not a string
 * or an array of strings is ignored. The result has no prototype, so `params.constructor` or
 * `params.__proto__` is only ever a parameter the client sent; read it with Object.hasOwn or `?? ''`.
 */
export function parseMgrParams(query: unknown, body: unknown): Record<string, string> {
  const params = Object.create(null) as Record<string, string>;
  for (const source of [query, body]) {
    if (!isParamBag(source)) continue;
    for (const key of Object.keys(source)) {
      const value = lastString(source[key]);
      if (value !== undefined) params[key] = value;
    }
  }
  return params;
}

/**
 * A number parameter (`pricelist`, `period`, `autoprolong`, an addon's amount): digits, with a
 * minus sign only when `signed`, that make a safe integer. null for anything else — text, and
 * numbers past 2^53 that JavaScript cannot hold exactly and PostgreSQL's bigint may not hold
 * at all.
 */
export function parseInteger(text: string, opts: { signed?: boolean } = {}): number | null {
  if (!(opts.signed ? /^-?\d+$/ : /^\d+$/).test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** More ids in one group action than this is abuse, not a customer's selection. */
export const MAX_ELIDS = 1000;

const ELID = /^ *([1-9][0-9]*) *$/;

/**
 * Ids of a group action: `"7"`, `"1, 2"`, `"1,2"` (spaces around commas allowed). Positive safe
 * integers without leading zeros only; a repeated id is kept once (acting twice on one license, e.g.
 * prolonging it, would be a double charge). null for anything else, including an empty entry or more
 * than MAX_ELIDS ids.
 */
export function parseElids(elid: string): number[] | null {
  if (typeof elid !== 'string') return null;
  const parts = elid.split(',');
  if (parts.length > MAX_ELIDS) return null;
  const ids: number[] = [];
  const seen = new Set<number>();
  for (const part of parts) {
    const digits = ELID.exec(part)?.[1];
    if (digits === undefined) return null;
    const id = Number(digits);
    if (!Number.isSafeInteger(id)) return null;
    if (!seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  }
  return ids;
}

/** `out=`: one of the four formats; absent or unknown falls back to xml, the protocol's default. */
export function parseOut(value?: string): MgrOut {
  return (MGR_OUTS as readonly unknown[]).includes(value) ? (value as MgrOut) : 'xml';
}
