import { describe, expect, it } from 'vitest';
import { type MgrElement, MgrParseError, parseMgrJson, parseMgrXml, parseXml } from './xml.js';

/** A tree as plain data (attrs without the null prototype) for toEqual. */
const plain = (e: MgrElement): unknown => ({
  name: e.name,
  attrs: { ...e.attrs },
  text: e.text,
  children: e.children.map(plain),
});

describe('parseXml', () => {
  it('reads elements, attributes, text, entities, character references and CDATA', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><doc a="1 &amp; 2" b=\'&#x41;&#66;\'>' +
        '<msg>Invalid value of the field "IP address" &lt;ip&gt;</msg><x><![CDATA[<raw> & ]]>tail</x><e/></doc>\n',
    );
    expect(plain(root)).toEqual({
      name: 'doc',
      attrs: { a: '1 & 2', b: 'AB' },
      text: '',
      children: [
        { name: 'msg', attrs: {}, text: 'Invalid value of the field "IP address" <ip>', children: [] },
        { name: 'x', attrs: {}, text: '<raw> & tail', children: [] },
        { name: 'e', attrs: {}, text: '', children: [] },
      ],
    });
  });

  it('drops indentation between children but keeps a leaf text as written; normalises raw white space in attributes', () => {
    const root = parseXml('<doc>\n  <elem>\n    <id>7</id>\n  </elem>\n  <name>  two words </name>\n</doc>');
    expect(plain(root)).toEqual({
      name: 'doc',
      attrs: {},
      text: '',
      children: [
        { name: 'elem', attrs: {}, text: '', children: [{ name: 'id', attrs: {}, text: '7', children: [] }] },
        { name: 'name', attrs: {}, text: '  two words ', children: [] },
      ],
    });
    expect(parseXml('<a v="x\ny&#10;z"/>').attrs.v).toBe('x y\nz');
  });

  it('attributes named like Object members are plain keys', () => {
    const root = parseXml('<a __proto__="p" constructor="c"/>');
    expect(Object.getOwnPropertyDescriptor(root.attrs, '__proto__')?.value).toBe('p');
    expect(root.attrs.constructor).toBe('c');
    expect(Object.getPrototypeOf(root.attrs)).toBeNull();
  });

  it.each([
    ['a DTD', '<!DOCTYPE doc [<!ENTITY x "y">]><doc>&x;</doc>'],
    ['an unknown entity', '<doc>&x;</doc>'],
    ['a bare ampersand', '<doc>a & b</doc>'],
    ['a mismatched end tag', '<doc><a></b></doc>'],
    ['an unclosed element', '<doc><a></a>'],
    ['two roots', '<doc/><doc/>'],
    ['text after the root', '<doc/>junk'],
    ['text before the root', 'junk<doc/>'],
    ['an empty answer', ''],
    ['HTML', '<!DOCTYPE html><html><body>Welcome</body></html>'],
    ['a repeated attribute', '<doc a="1" a="2"/>'],
    ['an unquoted attribute', '<doc a=1/>'],
    ['"<" in an attribute', '<doc a="<"/>'],
    ['a NUL character', '<doc>\u0000</doc>'],
    ['a reference to a surrogate', '<doc>&#xD800;</doc>'],
    ['a reference to NUL', '<doc>&#0;</doc>'],
    ['"]]>" in text', '<doc>]]></doc>'],
    ['a CDATA section outside the root', '<![CDATA[x]]><doc/>'],
    ['an end tag first', '</doc>'],
    ['an XML declaration not first', '<doc><?xml version="1.0"?></doc>'],
    ['nesting past 64 levels', `${'<a>'.repeat(65)}${'</a>'.repeat(65)}`],
  ])('refuses %s', (_what, text) => {
    expect(() => parseXml(text)).toThrow(MgrParseError);
  });

  it('reads a long list in linear time', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `<elem><id>${i}</id><ip>10.0.0.1</ip></elem>`);
    const doc = parseMgrXml(`<doc>${rows.join('')}</doc>`);
    expect(doc.elems()).toHaveLength(20_000);
    expect(doc.elems()[19_999]?.children[0]?.text).toBe('19999');
  });
});

describe('xml and json give the same tree', () => {
  it.each([
    [
      'an object with an error',
      '<doc><error type="value" object="ip" lang="en"><param name="object" type="msg">ip</param>' +
        '<param name="value">300.1.1.1</param><msg>Bad</msg></error></doc>',
      {
        doc: {
          error: {
            $type: 'value',
            $object: 'ip',
            $lang: 'en',
            param: [
              { $name: 'object', $type: 'msg', $: 'ip' },
              { $name: 'value', $: '300.1.1.1' },
            ],
            msg: { $: 'Bad' },
          },
        },
      },
    ],
    [
      'a list of one (an object in json)',
      '<doc><elem><id>1</id><lickey/></elem></doc>',
      { doc: { elem: { id: { $: '1' }, lickey: {} } } },
    ],
    [
      'a list of two (an array in json)',
      '<doc><elem><id>1</id></elem><elem><id>2</id></elem></doc>',
      { doc: { elem: [{ id: { $: '1' } }, { id: { $: '2' } }] } },
    ],
    [
      'a session',
      '<doc><auth id="abc" level="16">abc</auth></doc>',
      { doc: { auth: { $id: 'abc', $level: '16', $: 'abc' } } },
    ],
  ])('%s', (_what, xmlText, jsonValue) => {
    expect(plain(parseMgrJson(JSON.stringify(jsonValue)).root)).toEqual(plain(parseMgrXml(xmlText).root));
  });

  it('json leaves written as bare values and numbers are read as text; null as empty', () => {
    const doc = parseMgrJson('{"doc":{"id":7,"name":"x","lickey":null,"ok":true}}');
    expect(doc.field('id')).toBe('7');
    expect(doc.field('name')).toBe('x');
    expect(doc.field('lickey')).toBe('');
    expect(doc.field('ok')).toBe('true');
    expect(doc.field('missing')).toBeNull();
  });

  it.each([
    ['not JSON', '<doc/>'],
    ['no doc', '{"x":{}}'],
    ['doc not an object', '{"doc":[]}'],
    ['too deep', `{"doc":${'{"a":'.repeat(70)}{}${'}'.repeat(70)}}`],
  ])('json refuses %s', (_what, text) => {
    expect(() => parseMgrJson(text)).toThrow(MgrParseError);
  });

  it('the root must be <doc>', () => {
    expect(() => parseMgrXml('<html/>')).toThrow(MgrParseError);
  });
});
