import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  el,
  fields,
  listDoc,
  MAX_ELIDS,
  type MgrNode,
  type MgrOut,
  mgrDoc,
  mgrError,
  objectDoc,
  okDoc,
  parseElids,
  parseInteger,
  parseMgrParams,
  parseOut,
  renderMgr,
  renderMgrList,
  slist,
  stripInvalidXmlChars,
} from './protocol.js';

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Bodies of all four formats, so each golden case states every format side by side. */
function bodies(doc: MgrNode): Record<MgrOut, string> {
  return {
    xml: renderMgr(doc, 'xml').body,
    json: renderMgr(doc, 'json').body,
    sjson: renderMgr(doc, 'sjson').body,
    bjson: renderMgr(doc, 'bjson').body,
  };
}

describe('renderMgr golden bodies', () => {
  it('an object: null is an empty element, undefined is omitted, numbers are text', () => {
    const doc = objectDoc({ id: 7, ip: '203.0.113.10', lickey: null, remoteid: undefined });
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><id>7</id><ip>203.0.113.10</ip><lickey/></doc>`,
      json: '{"doc":{"id":{"$":"7"},"ip":{"$":"203.0.113.10"},"lickey":{}}}',
      sjson: '{"doc":{"id":{"$":"7"},"ip":{"$":"203.0.113.10"},"lickey":{}}}',
      bjson: '{"model":{"id":"7","ip":"203.0.113.10","lickey":""},"id":{"v":"7"}}',
    });
  });

  it('an object without id has no id.v in bjson', () => {
    const doc = objectDoc({ expiredate: '2025-02-10', status: 2 });
    expect(renderMgr(doc, 'bjson').body).toBe('{"model":{"expiredate":"2025-02-10","status":"2"}}');
  });

  it('a list with one elem: object in json, array in sjson and bjson', () => {
    const doc = listDoc([{ id: 1, licname: 'vps-1' }]);
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><elem><id>1</id><licname>vps-1</licname></elem></doc>`,
      json: '{"doc":{"elem":{"id":{"$":"1"},"licname":{"$":"vps-1"}}}}',
      sjson: '{"doc":{"elem":[{"id":{"$":"1"},"licname":{"$":"vps-1"}}]}}',
      bjson: '{"elem":[{"id":"1","licname":"vps-1"}]}',
    });
  });

  it('a list with two elems is an array everywhere; extra root fields go to bjson model', () => {
    const doc = listDoc(
      [
        { id: 1, status: 2 },
        { id: 2, status: 3 },
      ],
      [el('p_elems', 2)],
    );
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><elem><id>1</id><status>2</status></elem><elem><id>2</id><status>3</status></elem><p_elems>2</p_elems></doc>`,
      json: '{"doc":{"elem":[{"id":{"$":"1"},"status":{"$":"2"}},{"id":{"$":"2"},"status":{"$":"3"}}],"p_elems":{"$":"2"}}}',
      sjson:
        '{"doc":{"elem":[{"id":{"$":"1"},"status":{"$":"2"}},{"id":{"$":"2"},"status":{"$":"3"}}],"p_elems":{"$":"2"}}}',
      bjson: '{"model":{"p_elems":"2"},"elem":[{"id":"1","status":"2"},{"id":"2","status":"3"}]}',
    });
  });

  it('an empty list is an empty doc', () => {
    expect(bodies(listDoc([]))).toEqual({
      xml: `${XML_HEAD}<doc/>`,
      json: '{"doc":{}}',
      sjson: '{"doc":{}}',
      bjson: '{}',
    });
  });

  it('fields inside an sjson elem stay objects (only list-like names are forced to arrays)', () => {
    const doc = listDoc([{ balance: '10.00 EUR' }]);
    const sjson = JSON.parse(renderMgr(doc, 'sjson').body);
    expect(sjson.doc.elem[0].balance.$).toBe('10.00 EUR');
  });

  it('a form with a select list', () => {
    const doc = objectDoc({ period: 1 }, [
      slist('period', [
        [1, '1 month'],
        [12, '1 year'],
      ]),
    ]);
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><period>1</period><slist name="period"><val key="1">1 month</val><val key="12">1 year</val></slist></doc>`,
      json: '{"doc":{"period":{"$":"1"},"slist":{"$name":"period","val":[{"$key":"1","$":"1 month"},{"$key":"12","$":"1 year"}]}}}',
      sjson:
        '{"doc":{"period":{"$":"1"},"slist":[{"$name":"period","val":[{"$key":"1","$":"1 month"},{"$key":"12","$":"1 year"}]}]}}',
      bjson: '{"model":{"period":"1"},"slist":{"period":[{"k":"1","v":"1 month"},{"k":"12","v":"1 year"}]}}',
    });
  });

  it('a select list with one option: val is an object in json, an array in sjson', () => {
    const doc = mgrDoc([slist('period', [[-100, 'Trial']])]);
    expect(renderMgr(doc, 'json').body).toBe(
      '{"doc":{"slist":{"$name":"period","val":{"$key":"-100","$":"Trial"}}}}',
    );
    expect(renderMgr(doc, 'sjson').body).toBe(
      '{"doc":{"slist":[{"$name":"period","val":[{"$key":"-100","$":"Trial"}]}]}}',
    );
  });

  it('an error with object and value', () => {
    const doc = mgrError({
      type: 'value',
      object: 'ip',
      value: '300.1.1.1',
      msg: 'Invalid value of the field "IP address"',
      lang: 'en',
    });
    expect(bodies(doc)).toEqual({
      xml:
        `${XML_HEAD}<doc><error type="value" object="ip" lang="en">` +
        '<param name="object" type="msg">ip</param><param name="value">300.1.1.1</param>' +
        '<msg>Invalid value of the field "IP address"</msg></error></doc>',
      json:
        '{"doc":{"error":{"$type":"value","$object":"ip","$lang":"en","param":[{"$name":"object","$type":"msg","$":"ip"},' +
        '{"$name":"value","$":"300.1.1.1"}],"msg":{"$":"Invalid value of the field \\"IP address\\""}}}}',
      sjson:
        '{"doc":{"error":{"$type":"value","$object":"ip","$lang":"en","param":[{"$name":"object","$type":"msg","$":"ip"},' +
        '{"$name":"value","$":"300.1.1.1"}],"msg":{"$":"Invalid value of the field \\"IP address\\""}}}}',
      bjson:
        '{"error":{"type":"value","object":"ip","value":"300.1.1.1","msg":"Invalid value of the field \\"IP address\\""}}',
    });
  });

  it('an error without object or value has no params, an empty object and lang en by default', () => {
    const doc = mgrError({ type: 'auth', msg: 'Invalid username or password' });
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><error type="auth" object="" lang="en"><msg>Invalid username or password</msg></error></doc>`,
      json: '{"doc":{"error":{"$type":"auth","$object":"","$lang":"en","msg":{"$":"Invalid username or password"}}}}',
      sjson:
        '{"doc":{"error":{"$type":"auth","$object":"","$lang":"en","msg":{"$":"Invalid username or password"}}}}',
      bjson: '{"error":{"type":"auth","object":"","msg":"Invalid username or password"}}',
    });
  });

  it('a missed-parameter error: one param is an object in json, an array in sjson', () => {
    const doc = mgrError({ type: 'missed', object: 'ip', msg: 'Field "IP address" is required', lang: 'ru' });
    const json = JSON.parse(renderMgr(doc, 'json').body);
    const sjson = JSON.parse(renderMgr(doc, 'sjson').body);
    expect(json.doc.error.param).toEqual({ $name: 'object', $type: 'msg', $: 'ip' });
    expect(sjson.doc.error.param).toEqual([{ $name: 'object', $type: 'msg', $: 'ip' }]);
    expect(json.doc.error.$lang).toBe('ru');
    expect(sjson.doc.error.msg.$).toBe('Field "IP address" is required');
  });

  it('bjson error msg falls back to the type when empty (clients detect errors by a non-empty msg)', () => {
    const doc = mgrError({ type: 'error', msg: '' });
    expect(renderMgr(doc, 'bjson').body).toBe('{"error":{"type":"error","object":"","msg":"error"}}');
  });

  it('a void success', () => {
    expect(bodies(okDoc())).toEqual({
      xml: `${XML_HEAD}<doc><ok/></doc>`,
      json: '{"doc":{"ok":{}}}',
      sjson: '{"doc":{"ok":{}}}',
      bjson: '{"ok":true}',
    });
  });

  it('a session: text and attributes on one element; sjson keeps doc.auth an object', () => {
    const doc = mgrDoc([el('auth', '5d1f', { id: '5d1f', level: '16' })]);
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><auth id="5d1f" level="16">5d1f</auth></doc>`,
      json: '{"doc":{"auth":{"$id":"5d1f","$level":"16","$":"5d1f"}}}',
      sjson: '{"doc":{"auth":{"$id":"5d1f","$level":"16","$":"5d1f"}}}',
      bjson: '{"model":{"auth":{"id":"5d1f","level":"16","v":"5d1f"}}}',
    });
  });

  it('a nested doc (service.prolong answers newexpiredate at /doc/doc/newexpiredate too)', () => {
    const doc = objectDoc({ newexpiredate: '2026-02-10' }, [
      el('doc', fields({ newexpiredate: '2026-02-10' })),
    ]);
    expect(bodies(doc)).toEqual({
      xml: `${XML_HEAD}<doc><newexpiredate>2026-02-10</newexpiredate><doc><newexpiredate>2026-02-10</newexpiredate></doc></doc>`,
      json: '{"doc":{"newexpiredate":{"$":"2026-02-10"},"doc":{"newexpiredate":{"$":"2026-02-10"}}}}',
      sjson: '{"doc":{"newexpiredate":{"$":"2026-02-10"},"doc":{"newexpiredate":{"$":"2026-02-10"}}}}',
      bjson: '{"model":{"newexpiredate":"2026-02-10","doc":{"newexpiredate":"2026-02-10"}}}',
    });
  });

  it('sjson takes extra always-array names per call', () => {
    const doc = mgrDoc([el('pricelist', [el('id', 55227)])]);
    expect(renderMgr(doc, 'sjson').body).toBe('{"doc":{"pricelist":{"id":{"$":"55227"}}}}');
    expect(renderMgr(doc, 'sjson', { sjsonArrays: ['pricelist'] }).body).toBe(
      '{"doc":{"pricelist":[{"id":{"$":"55227"}}]}}',
    );
  });

  it('content types', () => {
    expect(renderMgr(okDoc(), 'xml').contentType).toBe('text/xml; charset=utf-8');
    for (const out of ['json', 'sjson', 'bjson'] as const) {
      expect(renderMgr(okDoc(), out).contentType).toBe('application/json; charset=utf-8');
    }
  });
});

describe('renderMgrList: a list rendered as it is read', () => {
  const row = (i: number) =>
    el(
      'elem',
      fields({ id: i, licname: `vps-<${i}>`, ip: `203.0.113.${i}`, lickey: i % 2 ? null : `k${i}` }),
    );
  async function* chunked(rows: MgrNode[], size: number): AsyncGenerator<MgrNode[]> {
    for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
  }
  async function text(body: string | AsyncIterable<string>): Promise<string> {
    if (typeof body === 'string') return body;
    let all = '';
    for await (const piece of body) all += piece;
    return all;
  }

  it('the same bytes as renderMgr(listDoc) in every format, for any length and any chunking', async () => {
    for (const n of [0, 1, 2, 3, 7]) {
      const rows = Array.from({ length: n }, (_, i) => row(i + 1));
      for (const size of [1, 2, 3, 10]) {
        for (const out of ['xml', 'json', 'sjson', 'bjson'] as const) {
          const whole = renderMgr(mgrDoc(rows), out);
          const streamed = await renderMgrList({ elems: chunked(rows, size) }, out);
          expect(streamed.contentType).toBe(whole.contentType);
          expect(await text(streamed.body), `${n} rows in chunks of ${size}, ${out}`).toBe(whole.body);
        }
      }
    }
  });

  it('empty chunks are skipped; a short list comes back whole, a longer one as pieces', async () => {
    async function* gappy(): AsyncGenerator<MgrNode[]> {
      yield [];
      yield [row(1)];
      yield [];
    }
    const short = await renderMgrList({ elems: gappy() }, 'json');
    expect(short.body).toBe(renderMgr(mgrDoc([row(1)]), 'json').body);
    const long = await renderMgrList({ elems: chunked([row(1), row(2), row(3)], 1) }, 'xml');
    expect(typeof long.body).not.toBe('string');
  });

  it('a failure while reading the first rows is thrown before anything is sent', async () => {
    async function* failing(): AsyncGenerator<MgrNode[]> {
      yield [row(1)];
      throw new Error('read failed');
    }
    await expect(renderMgrList({ elems: failing() }, 'xml')).rejects.toThrow('read failed');
  });

  it('only elem children: anything else is a bug (json would group it differently)', async () => {
    await expect(renderMgrList({ elems: chunked([row(1), el('ok'), row(2)], 3) }, 'xml')).rejects.toThrow(
      RangeError,
    );
  });
});

describe('escaping and invalid characters', () => {
  it('escapes markup in text and quotes and whitespace in attributes', () => {
    const doc = mgrDoc([el('name', `a<b & "c" 'd' > ]]>`, { x: `<&"'>\t\n\r` })]);
    expect(renderMgr(doc, 'xml').body).toBe(
      `${XML_HEAD}<doc><name x="&lt;&amp;&quot;&apos;&gt;&#9;&#10;&#13;">a&lt;b &amp; "c" 'd' &gt; ]]&gt;</name></doc>`,
    );
    expect(JSON.parse(renderMgr(doc, 'json').body)).toEqual({
      doc: { name: { $x: `<&"'>\t\n\r`, $: `a<b & "c" 'd' > ]]>` } },
    });
  });

  it('keeps tab and LF raw in text, writes CR as a reference', () => {
    const doc = mgrDoc([el('t', 'a\tb\nc\rd')]);
    expect(renderMgr(doc, 'xml').body).toBe(`${XML_HEAD}<doc><t>a\tb\nc&#13;d</t></doc>`);
  });

  it('does not double-escape entity-looking text', () => {
    const doc = mgrDoc([el('t', '&amp; &#60;')]);
    expect(renderMgr(doc, 'xml').body).toBe(`${XML_HEAD}<doc><t>&amp;amp; &amp;#60;</t></doc>`);
  });

  it('strips control characters, lone surrogates and U+FFFE/U+FFFF in every format', () => {
    const dirty = 'a\u0000b\u0001c\u000Bd\u001Fe\uD800f\uDFFFg\uFFFEh\uFFFFi';
    const doc = mgrDoc([el('t', dirty, { x: dirty })]);
    expect(renderMgr(doc, 'xml').body).toBe(`${XML_HEAD}<doc><t x="abcdefghi">abcdefghi</t></doc>`);
    expect(renderMgr(doc, 'json').body).toBe('{"doc":{"t":{"$x":"abcdefghi","$":"abcdefghi"}}}');
    expect(renderMgr(doc, 'bjson').body).toBe('{"model":{"t":{"x":"abcdefghi","v":"abcdefghi"}}}');
  });

  it('text made only of invalid characters becomes an empty element', () => {
    expect(renderMgr(mgrDoc([el('t', '\u0000\u0008')]), 'xml').body).toBe(`${XML_HEAD}<doc><t/></doc>`);
  });

  it('keeps unicode: Cyrillic, astral characters (surrogate pairs), DEL and C1 (legal in XML 1.0)', () => {
    const text = 'Лицензия ispmanager 😀 𝔘 \u007F\u0085 \u2028 \uE000 \uFFFD';
    const doc = mgrDoc([el('t', text)]);
    expect(renderMgr(doc, 'xml').body).toBe(`${XML_HEAD}<doc><t>${text}</t></doc>`);
    expect(JSON.parse(renderMgr(doc, 'json').body).doc.t.$).toBe(text);
    expect(stripInvalidXmlChars(text)).toBe(text);
  });

  it('an element named __proto__ or constructor is just a key', () => {
    const doc = objectDoc({ ['__proto__']: 'x', constructor: 'y' });
    expect(renderMgr(doc, 'json').body).toBe('{"doc":{"__proto__":{"$":"x"},"constructor":{"$":"y"}}}');
    expect(renderMgr(doc, 'bjson').body).toBe('{"model":{"__proto__":"x","constructor":"y"}}');
  });

  it('rejects names that are not safe XML names, a root other than doc and non-finite numbers', () => {
    expect(() => renderMgr(mgrDoc([el('bad name')]), 'xml')).toThrow(RangeError);
    expect(() => renderMgr(mgrDoc([el('1x')]), 'json')).toThrow(RangeError);
    expect(() => renderMgr(mgrDoc([el('$x')]), 'json')).toThrow(RangeError);
    expect(() => renderMgr(mgrDoc([el('a', 'b', { 'c d': 'e' })]), 'xml')).toThrow(RangeError);
    expect(() => renderMgr(el('root'), 'xml')).toThrow(RangeError);
    expect(() => fields({ cost: Number.NaN })).toThrow(RangeError);
    expect(() => el('cost', Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('renders bigint, negative and decimal numbers as text', () => {
    const doc = objectDoc({ id: 12345678901234567890n, period: -100, cost: 7.5 });
    expect(renderMgr(doc, 'xml').body).toBe(
      `${XML_HEAD}<doc><id>12345678901234567890</id><period>-100</period><cost>7.5</cost></doc>`,
    );
  });
});

/** Code points XML 1.0 allows, written out independently of the implementation's regex. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

const oracleStrip = (s: string): string =>
  Array.from(s)
    .filter((ch) => isXmlChar(ch.codePointAt(0)!))
    .join('');

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * A tiny strict reader for one escaped segment: every `&` must open a known entity or a reference to
 * an XML character, `<` never appears raw, every character is an XML character; attributes also must
 * not hold a raw `"` or raw whitespace other than space (it would be normalised away), text no raw CR.
 */
function readSegment(raw: string, inAttr: boolean): string {
  for (const ch of raw) expect(isXmlChar(ch.codePointAt(0)!)).toBe(true);
  expect(raw).not.toMatch(inAttr ? /[<"\t\n\r]/ : /[<\r]|]]>/);
  const bareAmp = raw.replace(/&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/g, '');
  expect(bareAmp).not.toContain('&');
  return raw.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-z]+);/g, (_, ref: string) => {
    if (!ref.startsWith('#')) return ENTITIES[ref]!;
    const cp = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    expect(isXmlChar(cp)).toBe(true);
    return String.fromCodePoint(cp);
  });
}

/** Strings rich in the characters that matter: markup, whitespace, controls, lone surrogates, astral. */
const nastyString = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '<',
      '>',
      '&',
      '"',
      "'",
      '\t',
      '\n',
      '\r',
      ' ',
      ']]>',
      '&amp;',
      '\u0000',
      '\u001F',
      '\uFFFE',
    ),
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('xml ⇄ json round trip (property)', () => {
  it('the xml, read back strictly, says what the json image says: the input minus invalid chars', () => {
    fc.assert(
      fc.property(nastyString, nastyString, (text, attr) => {
        const doc = mgrDoc([el('v', text, { a: attr })]);
        const xml = renderMgr(doc, 'xml').body;
        const m =
          /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<doc><v a="([^"]*)"(?:\/>|>([^<]*)<\/v>)<\/doc>$/su.exec(
            xml,
          );
        expect(m).not.toBeNull();
        const xmlAttr = readSegment(m![1]!, true);
        const xmlText = readSegment(m![2] ?? '', false);
        const json = JSON.parse(renderMgr(doc, 'json').body) as { doc: { v: { $a: string; $?: string } } };
        expect(xmlAttr).toBe(oracleStrip(attr));
        expect(xmlText).toBe(oracleStrip(text));
        expect(json.doc.v.$a).toBe(xmlAttr);
        expect(json.doc.v.$ ?? '').toBe(xmlText);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseMgrParams', () => {
  it('merges query and body, the body winning', () => {
    const params = parseMgrParams(
      { func: 'soft.edit', out: 'json', elid: '1' },
      { elid: '2', sok: 'ok', authinfo: 'a@b.c:p:w' },
    );
    expect({ ...params }).toEqual({
      func: 'soft.edit',
      out: 'json',
      elid: '2',
      sok: 'ok',
      authinfo: 'a@b.c:p:w',
    });
  });

  it('an empty body value still wins; a junk body value does not', () => {
    expect({ ...parseMgrParams({ ip: '1.2.3.4', licname: 'x' }, { ip: '', licname: 5 }) }).toEqual({
      ip: '',
      licname: 'x',
    });
  });

  it('takes the last string of a repeated key', () => {
    expect({
      ...parseMgrParams({ elid: ['1', '2'], out: ['xml', 'json', 7] }, { period: ['1', '12'] }),
    }).toEqual({
      elid: '2',
      out: 'json',
      period: '12',
    });
    expect({ ...parseMgrParams({ a: [], b: [1, null] }, undefined) }).toEqual({});
  });

  it('trims nothing', () => {
    expect({ ...parseMgrParams({ licname: ' vps 1 ' }, { ip: '\t1.2.3.4\n' }) }).toEqual({
      licname: ' vps 1 ',
      ip: '\t1.2.3.4\n',
    });
  });

  it('ignores non-string junk and inputs that are not parameter maps', () => {
    const junk: unknown[] = [
      null,
      undefined,
      'func=soft',
      42,
      ['func'],
      Buffer.from('func=soft'),
      new Map([['a', 'b']]),
    ];
    for (const input of junk) {
      expect({ ...parseMgrParams(input, input) }).toEqual({});
    }
    expect({ ...parseMgrParams({ a: 1, b: true, c: { d: 'e' }, e: null, f: 'ok' }, null) }).toEqual({
      f: 'ok',
    });
  });

  it('accepts null-prototype bags (what query-string parsers produce)', () => {
    const query = Object.assign(Object.create(null) as Record<string, unknown>, { func: 'soft' });
    expect({ ...parseMgrParams(query, {}) }).toEqual({ func: 'soft' });
  });

  it('has no prototype, so __proto__ and constructor are only what the client sent', () => {
    const params = parseMgrParams(JSON.parse('{"__proto__":"x"}'), {});
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(Object.entries(params)).toEqual([['__proto__', 'x']]);
    expect(params['constructor']).toBeUndefined();
    expect(params['toString']).toBeUndefined();
  });
});

describe('parseInteger', () => {
  it('reads digits that make a safe integer, a minus sign only when signed', () => {
    expect(parseInteger('55227')).toBe(55227);
    expect(parseInteger('0')).toBe(0);
    expect(parseInteger('007')).toBe(7);
    expect(parseInteger('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseInteger('-100', { signed: true })).toBe(-100);
  });

  it('refuses text, signs, fractions, exponents and numbers past 2^53', () => {
    for (const text of [
      '',
      ' 1',
      '1 ',
      '+1',
      '-1',
      '1.5',
      '1e3',
      '0x10',
      '１',
      '9007199254740992',
      '9223372036854775808',
      '9'.repeat(400),
    ])
      expect(parseInteger(text), text).toBeNull();
    expect(parseInteger('-9223372036854775808', { signed: true })).toBeNull();
  });
});

describe('parseElids', () => {
  it('reads one id and comma-separated groups with or without spaces', () => {
    expect(parseElids('7')).toEqual([7]);
    expect(parseElids('1, 2')).toEqual([1, 2]);
    expect(parseElids('1,2')).toEqual([1, 2]);
    expect(parseElids(' 3 ,  4 ')).toEqual([3, 4]);
    expect(parseElids('9007199254740991')).toEqual([Number.MAX_SAFE_INTEGER]);
  });

  it('keeps a repeated id once, in first-seen order', () => {
    expect(parseElids('2, 1, 2')).toEqual([2, 1]);
  });

  it('rejects anything that is not a list of positive safe integers', () => {
    const bad = [
      '',
      ' ',
      ',',
      '1,',
      ',1',
      '1,,2',
      '0',
      '-1',
      '+1',
      '01',
      '1.5',
      '1e3',
      '0x10',
      'abc',
      '1;2',
      '1 2',
      '\t1',
      '1\n',
      '１',
      '9007199254740992',
      '99999999999999999999',
    ];
    for (const value of bad) expect(parseElids(value), JSON.stringify(value)).toBeNull();
    expect(parseElids(undefined as unknown as string)).toBeNull();
  });

  it(`accepts at most ${MAX_ELIDS} ids`, () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(', ');
    expect(parseElids(ids(MAX_ELIDS))).toHaveLength(MAX_ELIDS);
    expect(parseElids(ids(MAX_ELIDS + 1))).toBeNull();
  });

  it('round-trips any list of positive safe integers (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { minLength: 1, maxLength: 50 }),
        fc.constantFrom(',', ', ', ' , '),
        (ids, sep) => {
          expect(parseElids(ids.join(sep))).toEqual([...new Set(ids)]);
        },
      ),
    );
  });
});

describe('parseOut', () => {
  it('returns the four formats and falls back to xml', () => {
    expect(parseOut('xml')).toBe('xml');
    expect(parseOut('json')).toBe('json');
    expect(parseOut('sjson')).toBe('sjson');
    expect(parseOut('bjson')).toBe('bjson');
    for (const value of [undefined, '', 'JSON', 'text', 'devel', ' json', 'toString']) {
      expect(parseOut(value)).toBe('xml');
    }
  });
});
