/**
 * A strict reader of well-formed XML 1.0 (no DTD), for the fuzz suite to check that every
 * /billmgr answer is a document a client's parser accepts: one root element, matched tags,
 * quoted and unique attributes, only the five predefined entities and character references,
 * and only characters of XML's Char production. Throws a SyntaxError at the first fault.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** The element's own text (its children's excluded), entities resolved. */
  readonly text: string;
  readonly children: readonly XmlElement[];
}

const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAME = /[:A-Z_a-z\u00C0-\uD7FF\uF900-\uFFFD][:A-Z_a-z\u00C0-\uD7FF\uF900-\uFFFD\u00B7.0-9-]*/y;
const SPACE = /[ \t\r\n]*/y;
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function parseXml(text: string): XmlElement {
  const bad = NOT_CHAR.exec(text);
  if (bad) throw new SyntaxError(`character U+${bad[0].codePointAt(0)!.toString(16)} at ${bad.index}`);
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
  };
  const space = () => {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    const moved = SPACE.lastIndex > i;
    i = SPACE.lastIndex;
    return moved;
  };
  const name = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) return fail('a name expected');
    i = NAME.lastIndex;
    return m[0];
  };
  const expect = (s: string) => {
    if (!text.startsWith(s, i)) fail(`"${s}" expected`);
    i += s.length;
  };
  /** Text up to `stop`, with references resolved; `<` is never allowed raw. */
  const chars = (stop: string): string => {
    let out = '';
    while (i < text.length && !text.startsWith(stop, i)) {
      const c = text[i]!;
      if (c === '<') return stop === '<' ? out : fail('"<" in an attribute');
      if (c === '&') {
        const end = text.indexOf(';', i);
        if (end === -1) fail('an unterminated reference');
        const ref = text.slice(i + 1, end);
        let ch: string | undefined;
        if (/^#[0-9]+$/.test(ref)) ch = codePoint(Number(ref.slice(1)));
        else if (/^#x[0-9A-Fa-f]+$/.test(ref)) ch = codePoint(Number.parseInt(ref.slice(2), 16));
        else ch = ENTITIES[ref];
        if (ch === undefined || NOT_CHAR.test(ch)) fail(`a bad reference &${ref};`);
        out += ch;
        i = end + 1;
      } else {
        if (stop === '<' && text.startsWith(']]>', i)) fail('"]]>" in text');
        out += c;
        i++;
      }
    }
    return out;
  };
  /** Comments and processing instructions, which may stand between elements. */
  const misc = () => {
    for (;;) {
      space();
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end === -1 || text.slice(i + 4, end).includes('--')) fail('a bad comment');
        i = end + 3;
      } else if (text.startsWith('<?', i) && !/^<\?xml[ \t\r\n?]/i.test(text.slice(i, i + 6))) {
        const end = text.indexOf('?>', i);
        if (end === -1) fail('an unterminated processing instruction');
        i = end + 2;
      } else return;
    }
  };
  const element = (): XmlElement => {
    expect('<');
    const tag = name();
    const attrs: Record<string, string> = Object.create(null);
    for (;;) {
      const spaced = space();
      if (text.startsWith('/>', i) || text.startsWith('>', i)) break;
      if (!spaced) fail('a space expected before an attribute');
      const key = name();
      if (key in attrs) fail(`a repeated attribute ${key}`);
      space();
      expect('=');
      space();
      const quote = text[i];
      if (quote !== '"' && quote !== "'") return fail('a quoted value expected');
      i++;
      attrs[key] = chars(quote);
      expect(quote);
    }
    if (text.startsWith('/>', i)) {
      i += 2;
      return { name: tag, attrs, text: '', children: [] };
    }
    expect('>');
    let own = '';
    const children: XmlElement[] = [];
    for (;;) {
      own += chars('<');
      if (i >= text.length) fail(`<${tag}> not closed`);
      if (text.startsWith('</', i)) {
        i += 2;
        if (name() !== tag) fail(`</${tag}> expected`);
        space();
        expect('>');
        return { name: tag, attrs, text: own, children };
      }
      if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end === -1) fail('an unterminated CDATA section');
        own += text.slice(i + 9, end);
        i = end + 3;
      } else if (text.startsWith('<!--', i) || text.startsWith('<?', i)) misc();
      else children.push(element());
    }
  };
  if (text.startsWith('\uFEFF')) i = 1;
  if (/^<\?xml[ \t\r\n]/.test(text.slice(i, i + 6))) {
    const end = text.indexOf('?>', i);
    if (end === -1) fail('an unterminated XML declaration');
    const decl = text.slice(i, end);
    if (
      !/^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*$/.test(
        decl,
      )
    )
      fail('a bad XML declaration');
    i = end + 2;
  }
  misc();
  if (text.startsWith('<!DOCTYPE', i)) fail('a DTD (not expected)');
  const root = element();
  misc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

function codePoint(n: number): string | undefined {
  return Number.isSafeInteger(n) && n >= 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff)
    ? String.fromCodePoint(n)
    : undefined;
}
