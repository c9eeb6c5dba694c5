import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatInspect, formatList, goMap, struct, Template, TemplateError, withJson } from './index.js';
import { sprintf } from './printf.js';
import { tabwrite } from './tabwriter.js';
import { formatNumber, printValue, toJson } from './values.js';

const run = (src: string, data: unknown = {}) => new Template(src).execute(data);
const err = (src: string, data: unknown = {}) => {
  try {
    run(src, data);
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
  throw new Error(`no error for ${src}`);
};

const data = {
  Name: '/web',
  Args: ['-c', 'x y'],
  State: { Status: 'running', Running: true, Pid: 42, ExitCode: 0, Health: null },
  Config: { Image: 'busybox:latest', Env: ['A=1', 'B=2'], Labels: goMap({ z: '1', a: '2' }), Entrypoint: [] as string[] },
  NetworkSettings: { Networks: goMap({ bridge: { IPAddress: '172.17.0.2' }, net2: { IPAddress: '10.0.0.2' } }) },
};

describe('lexer and parser', () => {
  it('keeps text outside actions as it is, newlines included', () => {
    expect(run('a\nb {{.Name}}\tc', data)).toBe('a\nb /web\tc');
    expect(run('no actions')).toBe('no actions');
    expect(run('')).toBe('');
  });

  it('trims with {{- and -}} only when the dash is followed or preceded by a space', () => {
    expect(run('a \n {{- .Name -}} \n b', data)).toBe('a/webb');
    expect(run('{{-3}}')).toBe('-3');
    expect(run('x {{- /* c */}} y')).toBe('x y');
  });

  it('reads Go literals: strings with escapes, raw strings, chars, numbers', () => {
    expect(run('{{"a\\"b\\x41\\u00e9\\n"}}')).toBe('a"bAé\n');
    expect(run('{{`a\\nb`}}')).toBe('a\\nb');
    expect(run("{{'\\n'}} {{'x'}}")).toBe('10 120');
    expect(run('{{0x10}} {{0o17}} {{0b101}} {{1_000}} {{017}} {{.5}} {{-1.25e2}}')).toBe('16 15 5 1000 15 0.5 -125');
  });

  it('refuses what Go refuses, with its words', () => {
    expect(() => new Template('{{.A')).toThrow('template: :1: unclosed action');
    expect(() => new Template('{{.A}}\n{{end}}')).toThrow('template: :2: unexpected {{end}}');
    expect(() => new Template('{{if .A}}')).toThrow('unexpected EOF');
    expect(() => new Template('{{else}}')).toThrow('unexpected {{else}}');
    expect(() => new Template('{{nope 1}}')).toThrow('function "nope" not defined');
    expect(() => new Template('{{$x}}')).toThrow('undefined variable "$x"');
    expect(() => new Template('{{$x = 1}}')).toThrow('undefined variable "$x"');
    expect(() => new Template('{{continue}}')).toThrow('{{continue}} outside {{range}}');
    expect(() => new Template('{{1 | 2}}')).toThrow('non executable command in pipeline stage 2');
    expect(() => new Template('{{"abc}}')).toThrow('unterminated quoted string');
    expect(() => new Template('{{(1}}')).toThrow('unclosed left paren');
    expect(() => new Template('{{1)}}')).toThrow('unexpected right paren');
    expect(() => new Template('{{#}}')).toThrow('unrecognized character in action');
    expect(() => new Template('{{define "x"}}{{end}}')).toThrow('not supported');
    expect(() => new Template('{{}}')).toThrow('missing value for command');
    expect(() => new Template('{{"a".B}}')).toThrow('unexpected . after term');
    expect(() => new Template('{{/* open')).toThrow('unclosed comment');
  });

  it('scopes variables to their control block, as Go does', () => {
    expect(run('{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}')).toBe('21');
    expect(run('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}')).toBe('2');
    expect(() => new Template('{{if true}}{{$y := 1}}{{end}}{{$y}}')).toThrow('undefined variable "$y"');
    expect(run('{{range $i, $e := .Args}}{{$i}}{{$e}}{{end}}', data)).toBe('0-c1x y');
  });
});

describe('execution', () => {
  it('reads struct fields and map keys; a missing field is an error, a missing key <no value>', () => {
    expect(run('{{.State.Status}} {{.Config.Labels.a}} [{{.Config.Labels.nope}}]', data)).toBe('running 2 [<no value>]');
    expect(err('{{.State.Nope}}', data)).toBe('template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"');
    expect(err('{{.Nope}}', struct('*formatter.ContainerContext', {}))).toBe('template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
    expect(err('{{.Name.X}}', data)).toMatch(/can't evaluate field X in type string/);
    expect(err('{{.State.Health.Status}}', data)).toMatch(/nil pointer evaluating interface \{\}\.Status/);
    expect(run('{{.Config.Labels.nope.deeper}}', data)).toBe('<no value>');
  });

  it('names the line and column of the failing node, on later lines too', () => {
    // Go places a chain of fields at its second field.
    expect(err('ok\n  {{.A.B}}', { A: {} })).toBe('template: :2:6: executing "" at <.A.B>: map has no entry for key "B"');
    expect(err('ok\n  {{.C}}', { A: {} })).toBe('template: :2:4: executing "" at <.C>: map has no entry for key "C"');
  });

  it('calls methods with arguments, and the pipeline value as the last one', () => {
    const row = struct('ctx', { Label: (k: unknown) => (k === 'a' ? 'one' : ''), Upper: (s: unknown) => String(s).toUpperCase() });
    expect(run('{{.Label "a"}}|{{.Label "b"}}|{{"x" | .Upper}}', row)).toBe('one||X');
    expect(err('{{.Name "x"}}', data)).toMatch(/Name is not a method but has arguments/);
    expect(err('{{.Config.Labels.a "x"}}', data)).toMatch(/a is not a method but has arguments/);
  });

  it('runs if, else if, with and range with their else branches', () => {
    expect(run('{{if .State.Running}}a{{else}}b{{end}}', data)).toBe('a');
    expect(run('{{if eq 1 2}}a{{else if eq 1 1}}b{{else}}c{{end}}')).toBe('b');
    expect(run('{{with .State.Health}}h{{else with .State}}{{.Status}}{{end}}', data)).toBe('running');
    expect(run('{{range .Config.Entrypoint}}x{{else}}empty{{end}}', data)).toBe('empty');
    expect(run('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}', data)).toBe('a=2 z=1 ');
    expect(run('{{range 3}}{{.}}{{end}}')).toBe('012');
    expect(run('{{range .Args}}{{if eq . "-c"}}{{continue}}{{end}}{{.}}{{break}}{{end}}', data)).toBe('x y');
    expect(err('{{range .State}}{{end}}', data)).toMatch(/range can't iterate over/);
    expect(run('{{range .Nil}}x{{else}}none{{end}}', { Nil: null })).toBe('none');
  });

  it('treats zero values as false: 0, "", empty slices and maps, nil', () => {
    for (const v of [0, '', [], goMap({}), null, false]) expect(run('{{if .}}t{{else}}f{{end}}', v)).toBe('f');
    for (const v of [1, 'x', [0], goMap({ a: '' }), {}, true]) expect(run('{{if .}}t{{else}}f{{end}}', v)).toBe('t');
  });

  it('short-circuits and/or, as Go 1.18 does', () => {
    const boom = struct('t', { Boom: () => { throw new Error('called'); } });
    expect(run('{{and 0 .Boom}}', boom)).toBe('0');
    expect(run('{{or 1 .Boom}}', boom)).toBe('1');
    expect(err('{{and 1 .Boom}}', boom)).toMatch(/error calling Boom: called/);
  });

  it('reports a function failing, or given the wrong arguments, at the command or argument', () => {
    expect(err('{{index .Args 9}}', data)).toBe('template: :1:2: executing "" at <index .Args 9>: error calling index: index out of range: 9');
    expect(err('{{join .Args}}', data)).toBe('template: :1:2: executing "" at <join>: wrong number of args for join: want 2 got 1');
    expect(err('{{upper .State.Pid}}', data)).toBe('template: :1:14: executing "" at <.State.Pid>: wrong type for value; expected string; got int');
    expect(err('{{.State.Pid | upper}}', data)).toMatch(/wrong type for value; expected string; got int/);
    expect(err('{{eq .Args 1}}', data)).toMatch(/incompatible types for comparison/);
    expect(err('{{lt true false}}')).toMatch(/invalid type for comparison/);
    expect(err('{{len 3}}')).toMatch(/len of type int/);
    expect(err('{{1 2}}')).toMatch(/can't give argument to non-function 1/);
    expect(err('{{nil}}')).toMatch(/nil is not a command/);
  });
});

describe('functions', () => {
  it("docker's: json, join, split, title, lower, upper, pad, truncate", () => {
    expect(run('{{json .Config.Labels}} {{json .Args}} {{json .State.Health}}', data)).toBe('{"a":"2","z":"1"} ["-c","x y"] null');
    expect(run('{{json "<&>\u2028"}}')).toBe('"<&>\\u2028"');
    expect(run('{{join (split "a:b:c" ":") "-"}}')).toBe('a-b-c');
    expect(run('{{title "hello wORLD it\'s_x"}}')).toBe("Hello WORLD It'S_x");
    expect(run('{{lower "AbC"}} {{upper "aBc"}}')).toBe('abc ABC');
    expect(run('[{{pad "x" 2 1}}][{{pad "" 2 1}}]')).toBe('[  x ][]');
    expect(run('{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate "abc" 3}}')).toBe('abc ab abc');
  });

  it("Go's: index over nested maps and slices, len in bytes, slice, print, println", () => {
    expect(run('{{index .NetworkSettings.Networks "bridge" | printf "%v"}}', data)).toBe('{172.17.0.2}');
    expect(run('{{(index .NetworkSettings.Networks "net2").IPAddress}}', data)).toBe('10.0.0.2');
    expect(run('[{{index .Config.Labels "missing"}}]', data)).toBe('[]');
    expect(run('{{len "é"}} {{len .Args}} {{len .Config.Labels}}', data)).toBe('2 2 2');
    expect(run('{{slice "abcdef" 1 3}} {{slice .Args 1}}', data)).toBe('bc [x y]');
    // fmt.Sprint: a space only between two operands that are not strings.
    expect(run('{{print "a" 1 2 "b" nil}}')).toBe('a1 2b<nil>');
    expect(run('{{println "a" 1}}')).toBe('a 1\n');
  });

  it('html, js and urlquery escape as Go does', () => {
    expect(run('{{html "<a>&\'\\""}}')).toBe('&lt;a&gt;&amp;&#39;&#34;');
    expect(run('{{js "a\'b<c>"}}')).toBe("a\\'b\\u003Cc\\u003E");
    expect(run('{{urlquery "a b/c"}}')).toBe('a+b%2Fc');
  });
});

describe('printf', () => {
  it.each([
    ['%s|%q|%v', ['a', 'b"', 'c'], 'a|"b\\""|c'],
    ['%d|%5d|%-5d|%05d|%+d|% d', [1, 2, 3, 4, 5, 6], '1|    2|3    |00004|+5| 6'],
    ['%x|%X|%#x|%o|%b|%c|%U|%q', [255, 255, 255, 8, 5, 0x263a, 0x263a, 65], "ff|FF|0xff|10|101|☺|U+263A|'A'"],
    ['%f|%.2f|%8.3f|%-8.1f|%e|%E|%g|%.3g', [1.5, 3.14159, 3.14159, 2.25, 1234.5678, 0.000123, 100000000, 3.14159], '1.500000|3.14|   3.142|2.2     |1.234568e+03|1.230000E-04|1e+08|3.14'],
    ['%.1f|%.1f|%.0f|%.0f|%.2f|%.1f', [0.25, 0.35, 0.5, 1.5, -2.675, -0.04], '0.2|0.3|0|2|-2.67|-0.0'],
    ['%t|%v|%T|%T|%T', [true, false, 'x', 1, 1.5], 'true|false|string|int|float64'],
    ['%x|%X', ['hi', 'hi'], '6869|6869'],
    ['%5.1f%%', [99.44], ' 99.4%'],
    ['%*d|%.*f', [4, 7, 1, 2.25], '   7|2.2'],
    ['%d', ['x'], '%!d(string=x)'],
    ['%s', [1.5], '%!s(float64=1.5)'],
    ['%d %d', [1], '1 %!d(MISSING)'],
    ['%d', [1, 2, 'x'], '1%!(EXTRA int=2, string=x)'],
    ['%z', [1], '%!z(int=1)'],
    ['%', [], '%!(NOVERB)'],
    ['%v|%s|%d', [['a', 'b'], ['a', 'b'], [1, 2]], '[a b]|[a b]|[1 2]'],
    ['%v', [goMap({ b: 1, a: 2 })], 'map[a:2 b:1]'],
    ['%v %s', [null, null], '<nil> %!s(<nil>)'],
  ])('%j %j → %j', (f, args, want) => {
    expect(sprintf(f, args)).toBe(want);
  });
});

describe('values', () => {
  it('print as fmt %v does', () => {
    expect(printValue([1, 'a', [true], null])).toBe('[1 a [true] <nil>]');
    expect(printValue({ a: 1, b: 'x', c: goMap({ k: 'v' }) })).toBe('{1 x map[k:v]}');
    expect(printValue(undefined)).toBe('<no value>');
  });

  it('print floats as Go: shortest, with an exponent below 1e-4 and from 1e21 (or 1e6 for non-integers)', () => {
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(0.0001)).toBe('0.0001');
    expect(formatNumber(0.00001)).toBe('1e-05');
    expect(formatNumber(1234567.5)).toBe('1.2345675e+06');
    expect(formatNumber(123456.5)).toBe('123456.5');
    expect(formatNumber(1e21)).toBe('1e+21');
  });

  it('encode JSON as Go: maps sorted, structs in order, json tags through withJson', () => {
    expect(toJson({ b: 1, a: goMap({ z: 1, y: [null] }) })).toBe('{"b":1,"a":{"y":[null],"z":1}}');
    expect(toJson(withJson(struct('ev', { Type: 'x' }), { type: 'x', n: 1 }))).toBe('{"type":"x","n":1}');
    expect(toJson(undefined)).toBe('null');
  });
});

describe("docker's list and inspect formatting", () => {
  const rows = [struct('ctx', { ID: 'abc', Names: 'web' }), struct('ctx', { ID: 'def012345678', Names: 'a-much-longer-name' })];
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES' };

  it('table: a header row from the field names, \\t written out as tabs, columns aligned by tabwriter', () => {
    expect(formatList('table {{.ID}}\\t{{.Names}}', rows, headers)).toBe('CONTAINER ID   NAMES\nabc            web\ndef012345678   a-much-longer-name\n');
    expect(formatList('table {{.Names}}\\t{{.ID}}', rows, headers)).toBe('NAMES                ID\nweb                  abc\na-much-longer-name   def012345678\n'.replace(/ID\n/, 'CONTAINER ID\n'));
    expect(formatList('table {{.ID}}', [], headers)).toBe('CONTAINER ID\n');
  });

  it('a plain template: one line per row, \\n written out is a newline', () => {
    expect(formatList('{{.ID}}\\n{{.Names}}', rows.slice(0, 1), headers)).toBe('abc\nweb\n');
    expect(formatList('{{.ID}}', [], headers)).toBe('');
  });

  it('an unknown header field renders as docker does, <no value>', () => {
    expect(formatList('table {{.Nope}}', [], headers)).toBe('<no value>\n');
  });

  it('inspect: one line per object, no \\t processing', () => {
    expect(formatInspect('{{.ID}}\\t', rows)).toBe('abc\\t\ndef012345678\\t\n');
  });
});

describe('tabwriter', () => {
  it('pads each column to its widest cell plus 3, at least 10; the last cell of a line is not a column', () => {
    expect(tabwrite('a\tb\tc\nlonger-cell\tx\ty\n')).toBe('a             b         c\nlonger-cell   x         y\n');
  });

  it('gives a column block only to consecutive lines that have that column', () => {
    expect(tabwrite('a\tb\nno tabs here\nccccccccccccc\td\n')).toBe('a         b\nno tabs here\nccccccccccccc   d\n');
  });
});

describe('robustness', () => {
  it('any input either parses and runs or fails with a TemplateError, never anything else', () => {
    const alphabet = fc.constantFrom('{{', '}}', '.', 'Name', 'Args', ' ', '|', '(', ')', '$x', ':=', '=', '"a"', '`b`', "'c'", '1', '-', 'if', 'else', 'end', 'range', 'with', 'index', 'printf', 'len', 'json', ',', 'nil', '/*', '*/', 'break', 'eq', 'x', '\n', '\\');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 24 }), (parts) => {
        const src = parts.join('');
        try {
          new Template(src).execute(data);
        } catch (e) {
          if (!(e instanceof TemplateError)) throw new Error(`${src}: ${String(e)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
