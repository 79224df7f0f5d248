/**
 * Reading what a BILLmanager answers (PROTOCOL.md §3): `out=xml` with a small strict XML
 * reader, `out=json` by undoing its mechanical image (`{"doc":…}`, text as `$`, attribute x as
 * `$x`, one child an object and several an array), both into one tree, MgrDoc. Nothing else
 * reads the wire, so the client cannot tell which format the upstream spoke.
 *
 * Why our own reader rather than a package: the answers are small documents of elements,
 * attributes and text; a strict reader of exactly that (no DTD, so no entity expansion or
 * external entities; the five predefined entities and character references only) is some 150
 * lines, refuses anything that is not well-formed instead of guessing, and gives the same
 * tree the JSON image gives without a second normalisation pass.
 */

/** One element: attributes (null prototype, so `__proto__` is just a name), own text, children in order. */
export interface MgrElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** The element's own text (children's excluded); '' when it has none. */
  readonly text: string;
  readonly children: readonly MgrElement[];
}

/** Thrown for an answer that is not a well-formed XML or JSON mgr document. */
export class MgrParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MgrParseError';
  }
}

/** Deeper than this is not a BILLmanager answer (its documents are three or four levels deep). */
const MAX_DEPTH = 64;

const emptyAttrs = (): Record<string, string> => Object.create(null) as Record<string, string>;

/** The first child named `name`. */
export const childOf = (el: MgrElement, name: string): MgrElement | undefined =>
  el.children.find((c) => c.name === name);

/** Every child named `name`, in order. */
export const childrenOf = (el: MgrElement, name: string): MgrElement[] =>
  el.children.filter((c) => c.name === name);

/** The text of the first child named `name` ('' for an empty one), or null when there is none. */
export const textOf = (el: MgrElement, name: string): string | null => childOf(el, name)?.text ?? null;

/** An attribute, or null. */
export const attrOf = (el: MgrElement, name: string): string | null =>
  Object.hasOwn(el.attrs, name) ? el.attrs[name]! : null;

/**
 * A parsed answer: its root is `<doc>`. The helpers read the root's children: `field('id')`
 * is the text of `<doc><id>…</id></doc>`, `elems()` the rows of a list.
 */
export class MgrDoc implements MgrElement {
  constructor(readonly root: MgrElement) {
    if (root.name !== 'doc') throw new MgrParseError(`the root element is <${root.name}>, not <doc>`);
  }
  get name(): string {
    return this.root.name;
  }
  get attrs(): Readonly<Record<string, string>> {
    return this.root.attrs;
  }
  get text(): string {
    return this.root.text;
  }
  get children(): readonly MgrElement[] {
    return this.root.children;
  }
  /** The root's first child named `name`. */
  child(name: string): MgrElement | undefined {
    return childOf(this.root, name);
  }
  /** The text of the root's child `name` ('' when empty), null when absent. */
  field(name: string): string | null {
    return textOf(this.root, name);
  }
  /** The rows of a list (`<elem>`). */
  elems(): MgrElement[] {
    return childrenOf(this.root, 'elem');
  }
  /** The `<error>` of an error answer. */
  error(): MgrElement | undefined {
    return this.child('error');
  }
}

// ---------------------------------------------------------------------------------------------- XML

/** Characters outside XML 1.0's Char production. */
const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAME = /[:A-Z_a-z\u00C0-\uD7FF\uF900-\uFFFD][:A-Z_a-z\u00C0-\uD7FF\uF900-\uFFFD\u00B7.0-9-]*/y;
const SPACE = /[ \t\r\n]*/y;
const DECL =
  /^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*$/;
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

interface Open {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: MgrElement[];
}

/** A well-formed XML 1.0 document (no DTD) as a tree; MgrParseError at the first fault. */
export function parseXml(text: string): MgrElement {
  const bad = NOT_CHAR.exec(text);
  if (bad) throw new MgrParseError(`character U+${bad[0].codePointAt(0)!.toString(16)} at ${bad.index}`);
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const fail = (what: string): never => {
    throw new MgrParseError(`${what} at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
  };
  const space = (): boolean => {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    const moved = SPACE.lastIndex > i;
    i = SPACE.lastIndex;
    return moved;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) return fail('a name expected');
    i = NAME.lastIndex;
    return m[0];
  };
  /** `raw` with references resolved; a bare `&` or an unknown entity is an error. */
  const resolveRefs = (raw: string, at: number): string => {
    if (!raw.includes('&')) return raw;
    let out = '';
    let from = 0;
    for (let amp = raw.indexOf('&'); amp !== -1; amp = raw.indexOf('&', from)) {
      const end = raw.indexOf(';', amp);
      if (end === -1) {
        i = at + amp;
        fail('an unterminated reference');
      }
      const ref = raw.slice(amp + 1, end);
      let ch: string | undefined;
      if (/^#[0-9]{1,7}$/.test(ref)) ch = codePoint(Number(ref.slice(1)));
      else if (/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) ch = codePoint(Number.parseInt(ref.slice(2), 16));
      else ch = ENTITIES[ref];
      if (ch === undefined || NOT_CHAR.test(ch)) {
        i = at + amp;
        fail(`a bad reference &${ref};`);
      }
      out += raw.slice(from, amp) + ch;
      from = end + 1;
    }
    return out + raw.slice(from);
  };
  /** Comments, processing instructions and space, which may stand outside the root. */
  const misc = () => {
    for (;;) {
      space();
      if (text.startsWith('<!--', i)) comment();
      else if (text.startsWith('<?', i)) pi();
      else return;
    }
  };
  const comment = () => {
    const end = text.indexOf('-->', i + 4);
    if (end === -1 || text.slice(i + 4, end).includes('--')) fail('a bad comment');
    i = end + 3;
  };
  const pi = () => {
    if (/^<\?xml[ \t\r\n?]/i.test(text.slice(i, i + 6))) fail('a misplaced XML declaration');
    const end = text.indexOf('?>', i);
    if (end === -1) fail('an unterminated processing instruction');
    i = end + 2;
  };

  if (/^<\?xml[ \t\r\n]/.test(text.slice(i, i + 6))) {
    const end = text.indexOf('?>', i);
    if (end === -1) fail('an unterminated XML declaration');
    if (!DECL.test(text.slice(i, end))) fail('a bad XML declaration');
    i = end + 2;
  }
  misc();
  if (text.startsWith('<!DOCTYPE', i)) fail('a document type declaration (refused)');
  if (text[i] !== '<') fail('an element expected');

  const stack: Open[] = [];
  let root: MgrElement | undefined;
  const close = (open: Open): MgrElement => {
    // Indentation between children is layout, not text (the json image has none).
    const own = open.children.length > 0 && open.text.trim() === '' ? '' : open.text;
    return { name: open.name, attrs: open.attrs, text: own, children: open.children };
  };
  const attach = (el: MgrElement) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
  };

  while (root === undefined) {
    if (i >= text.length) fail(`<${stack[stack.length - 1]?.name ?? '?'}> not closed`);
    const top = stack[stack.length - 1];
    if (!top && (text[i] !== '<' || /^<[/!?]/.test(text.slice(i, i + 2)))) fail('an element expected');
    if (text[i] !== '<') {
      const next = text.indexOf('<', i);
      const end = next === -1 ? text.length : next;
      const raw = text.slice(i, end);
      if (raw.includes(']]>')) fail('"]]>" in text');
      top!.text += resolveRefs(raw, i);
      i = end;
    } else if (text.startsWith('</', i)) {
      i += 2;
      const tag = name();
      if (!top || tag !== top.name) fail(`</${top?.name ?? ''}> expected`);
      space();
      if (text[i] !== '>') fail('">" expected');
      i++;
      stack.pop();
      attach(close(top!));
    } else if (text.startsWith('<!--', i)) {
      comment();
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i);
      if (end === -1) fail('an unterminated CDATA section');
      top!.text += text.slice(i + 9, end);
      i = end + 3;
    } else if (text.startsWith('<?', i)) {
      pi();
    } else if (text.startsWith('<!', i)) {
      fail('a declaration inside the document');
    } else {
      i++;
      const tag = name();
      const attrs = emptyAttrs();
      for (;;) {
        const spaced = space();
        if (text.startsWith('/>', i) || text[i] === '>') break;
        if (!spaced) fail('a space expected before an attribute');
        const key = name();
        if (Object.hasOwn(attrs, key)) fail(`a repeated attribute ${key}`);
        space();
        if (text[i] !== '=') fail('"=" expected');
        i++;
        space();
        const quote = text[i];
        if (quote !== '"' && quote !== "'") fail('a quoted value expected');
        const end = text.indexOf(quote!, i + 1);
        if (end === -1) fail('an unterminated attribute value');
        const raw = text.slice(i + 1, end);
        if (raw.includes('<')) fail('"<" in an attribute');
        // Attribute-value normalisation: raw white space is a space; references survive.
        attrs[key] = resolveRefs(raw.replace(/[\t\n\r]/g, ' '), i + 1);
        i = end + 1;
      }
      if (stack.length >= MAX_DEPTH) fail('elements nested too deep');
      if (text.startsWith('/>', i)) {
        i += 2;
        attach({ name: tag, attrs, text: '', children: [] });
      } else {
        i++;
        stack.push({ name: tag, attrs, text: '', children: [] });
      }
    }
  }
  misc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

function codePoint(n: number): string | undefined {
  return Number.isSafeInteger(n) && n >= 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff)
    ? String.fromCodePoint(n)
    : undefined;
}

// ---------------------------------------------------------------------------------------------- JSON

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const scalar = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;

/**
 * The element a json image stands for: `$x` keys are attributes, `$` the text, every other key
 * a child — an array is several children of that name, an object one, a bare string or number
 * a child with that text (some servers flatten leaves), null an empty one.
 */
function fromJsonValue(name: string, value: unknown, depth: number): MgrElement {
  if (depth > MAX_DEPTH) throw new MgrParseError('objects nested too deep');
  const attrs = emptyAttrs();
  const children: MgrElement[] = [];
  let text = '';
  if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (key === '$') {
        text = scalar(v) ?? '';
      } else if (key.startsWith('$')) {
        const s = scalar(v);
        if (s !== null) attrs[key.slice(1)] = s;
      } else if (Array.isArray(v)) {
        for (const item of v) children.push(fromJsonValue(key, item, depth + 1));
      } else {
        children.push(fromJsonValue(key, v, depth + 1));
      }
    }
  } else if (value !== null && value !== undefined) {
    const s = scalar(value);
    if (s === null) throw new MgrParseError(`<${name}> is neither an object nor a value`);
    text = s;
  }
  return { name, attrs, text, children };
}

/** An `out=json` (or sjson) answer: `{"doc":{…}}`. */
export function parseMgrJson(body: string): MgrDoc {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new MgrParseError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value) || !isObject(value.doc)) throw new MgrParseError('no "doc" object');
  return new MgrDoc(fromJsonValue('doc', value.doc, 0));
}

/** An `out=xml` answer: `<doc>…</doc>`. */
export function parseMgrXml(body: string): MgrDoc {
  return new MgrDoc(parseXml(body));
}
