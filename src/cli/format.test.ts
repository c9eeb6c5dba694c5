import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ago, checkInspectFormat, duration, FormatError, renderInspect, renderList, table } from './format.js';
import { struct } from './template/index.js';

describe('table', () => {
  it('aligns columns three spaces past the widest cell, leaving the last column unpadded', () => {
    const out = table(
      ['CONTAINER ID', 'NAME', 'STATUS'],
      [
        ['abc', 'a-much-longer-name', 'Up 2 seconds'],
        ['def012345678', 'web', 'Exited (0)'],
      ],
    );
    expect(out.split('\n')).toEqual([
      'CONTAINER ID   NAME                 STATUS',
      'abc            a-much-longer-name   Up 2 seconds',
      'def012345678   web                  Exited (0)',
    ]);
  });

  it('trims trailing space when the last cells are empty, and prints headers alone for no rows', () => {
    expect(table(['A', 'B'], [['x', '']]).split('\n')).toEqual(['A   B', 'x']);
    expect(table(['ID', 'NAME'], [])).toBe('ID   NAME');
  });

  it('treats a missing cell as empty', () => {
    expect(table(['A', 'B', 'C'], [['1']]).split('\n')).toEqual(['A   B   C', '1']);
  });
});

describe('renderList and inspect formats', () => {
  const rows = () => [struct('*formatter.ContainerContext', { ID: 'abc', Names: 'web' })];
  const o = { items: [{ id: 'abc' }], rows, headers: { ID: 'CONTAINER ID', Names: 'NAMES' }, table: 'table {{.ID}}\t{{.Names}}' };

  it('prints the default table for no format and for `table`, a template otherwise', () => {
    expect(renderList({ ...o })).toBe('CONTAINER ID   NAMES\nabc            web\n');
    expect(renderList({ ...o, format: 'table' })).toBe('CONTAINER ID   NAMES\nabc            web\n');
    expect(renderList({ ...o, format: '{{.Names}}' })).toBe('web\n');
  });

  it("says what failed in docker's words, exit 1", () => {
    expect(() => renderList({ ...o, format: '{{.Nope}}' })).toThrow(/^failed to execute template: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope/);
    expect(() => renderList({ ...o, format: '{{.Nope' })).toThrow(/^failed to parse template: template: :1: unclosed action/);
    try {
      renderList({ ...o, format: '{{.Nope}}' });
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      expect((e as FormatError).exitCode).toBe(1);
    }
  });

  it('checks an inspect template before anything is fetched: exit 64 as docker', () => {
    expect(() => checkInspectFormat('{{.A')).toThrow(/^template parsing error: template: :1: unclosed action/);
    expect(() => checkInspectFormat(undefined)).not.toThrow();
    expect(() => checkInspectFormat('json')).not.toThrow();
    try {
      checkInspectFormat('{{.A');
    } catch (e) {
      expect((e as FormatError).exitCode).toBe(64);
    }
    expect(renderInspect('{{.A}}', { A: 1 })).toBe('1\n');
    expect(() => renderInspect('{{.B}}', { A: 1 })).toThrow(/^template parsing error: .*map has no entry for key "B"/);
  });
});

describe('ago and duration', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-06-01T12:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  // docker's wording (go-units HumanDuration): never "1 minutes ago".
  it.each([
    ['2024-06-01T11:59:55Z', '5 seconds ago', '5 seconds'],
    ['2024-06-01T11:59:59Z', '1 second ago', '1 second'],
    ['2024-06-01T11:58:59Z', 'About a minute ago', 'About a minute'],
    ['2024-06-01T11:57:00Z', '3 minutes ago', '3 minutes'],
    ['2024-06-01T11:00:00Z', 'About an hour ago', 'About an hour'],
    ['2024-06-01T10:00:00Z', '2 hours ago', '2 hours'],
    ['2024-05-31T00:00:00Z', '36 hours ago', '36 hours'],
    ['2024-05-29T12:00:00Z', '3 days ago', '3 days'],
    ['2024-05-01T12:00:00Z', '4 weeks ago', '4 weeks'],
    ['2024-01-01T12:00:00Z', '5 months ago', '5 months'],
    ['2021-06-01T12:00:00Z', '3 years ago', '3 years'],
    ['2024-06-01T12:00:10Z', 'Less than a second ago', 'Less than a second'],
  ])('writes %s as %j', (iso, a, d) => {
    expect(ago(iso)).toBe(a);
    expect(duration(iso)).toBe(d);
  });

  it('writes nothing for a time that has not happened', () => {
    expect(ago('')).toBe('');
  });
});
