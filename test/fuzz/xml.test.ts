import { describe, expect, it } from 'vitest';
import { mgrError, renderMgr } from '../../src/modules/billmgr/protocol.js';
import { parseXml } from './xml.js';

/** The fuzz suite's XML reader accepts what the API writes and refuses what is not XML. */
describe('parseXml', () => {
  it('reads a document: attributes, text, references, children, comments and CDATA', () => {
    const doc = parseXml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><doc a="1" b='&quot;x&apos;'>` +
        `t&amp;&lt;&#233;&#x1F600;<e/><e k="v">2</e><![CDATA[<raw>]]></doc>\n`,
    );
    expect(doc).toEqual({
      name: 'doc',
      attrs: { a: '1', b: `"x'` },
      text: 't&<é😀<raw>',
      children: [
        { name: 'e', attrs: {}, text: '', children: [] },
        { name: 'e', attrs: { k: 'v' }, text: '2', children: [] },
      ],
    });
  });

  it('reads what the API writes, whatever the text held', () => {
    const nasty = `a\u0000b<&>"'\t\n\r]]>\uD800😀\u202E`;
    const { body } = renderMgr(mgrError({ type: 'value', object: nasty, value: nasty, msg: nasty }), 'xml');
    const doc = parseXml(body);
    expect(doc.children[0]?.attrs.type).toBe('value');
    expect(doc.children[0]?.children.at(-1)?.text).toBe(`ab<&>"'\t\n\r]]>😀\u202E`);
  });

  it.each([
    ['no root', ''],
    ['text only', 'hello'],
    ['an unclosed element', '<doc><a></doc>'],
    ['a mismatched end tag', '<doc></dog>'],
    ['two roots', '<a/><b/>'],
    ['text after the root', '<doc/>x'],
    ['a raw < in an attribute', '<doc a="<"/>'],
    ['an unquoted attribute', '<doc a=1/>'],
    ['a repeated attribute', '<doc a="1" a="2"/>'],
    ['an unknown entity', '<doc>&nbsp;</doc>'],
    ['a bare &', '<doc>a & b</doc>'],
    ['a reference to NUL', '<doc>&#0;</doc>'],
    ['a NUL character', '<doc>\u0000</doc>'],
    ['a lone surrogate', '<doc>\uD800</doc>'],
    [']]> in text', '<doc>]]></doc>'],
    ['a bad name', '<1doc/>'],
    ['attributes without a space', '<doc a="1"b="2"/>'],
    ['a DTD', '<!DOCTYPE doc><doc/>'],
  ])('refuses %s', (_what, text) => {
    expect(() => parseXml(text)).toThrow(SyntaxError);
  });
});
