import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ago, duration, goTemplate, table } from './format.js';

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

describe('goTemplate', () => {
  const inst = {
    Id: 'abc',
    Name: 'web',
    State: { Status: 'running', Pid: 42, ExitCode: 0, Running: true, Error: null },
    Config: { Env: ['A=1'], Tty: false },
  };

  it('reads a path: {{.State.Status}}', () => {
    expect(goTemplate('{{.State.Status}}', inst)).toBe('running');
    expect(goTemplate('{{.State.Pid}} {{.State.Running}} {{.State.ExitCode}}', inst)).toBe('42 true 0');
  });

  it('writes JSON with {{json .Config}}', () => {
    expect(goTemplate('{{json .Config}}', inst)).toBe('{"Env":["A=1"],"Tty":false}');
    expect(goTemplate('{{json .Name}}', inst)).toBe('"web"');
    expect(JSON.parse(goTemplate('{{json .}}', inst))).toEqual(inst);
  });

  it('matches keys case-insensitively, as docker maps Go fields to Hull\'s camelCase', () => {
    expect(goTemplate('{{.state.status}}', inst)).toBe('running');
    expect(goTemplate('{{.STATE.STATUS}}', inst)).toBe('running');
    expect(goTemplate('{{.state.status}}', { state: { status: 'exited' } })).toBe('exited');
  });

  it('takes spaces inside the braces and text around them', () => {
    expect(goTemplate('name={{ .Name }} id={{.Id}}', inst)).toBe('name=web id=abc');
  });

  it('writes <no value> for a missing or null field', () => {
    expect(goTemplate('{{.Nope}}', inst)).toBe('<no value>');
    expect(goTemplate('{{.State.Nope.Deeper}}', inst)).toBe('<no value>');
    expect(goTemplate('{{.Name.Length}}', inst)).toBe('<no value>');
    expect(goTemplate('{{.State.Error}}', inst)).toBe('<no value>');
  });

  it('writes an object reached without json as JSON', () => {
    expect(goTemplate('{{.State}}', { State: { Status: 'x' } })).toBe('{"Status":"x"}');
  });

  it('turns \\n into a newline', () => {
    expect(goTemplate('{{.Name}}\\n{{.Id}}', inst)).toBe('web\nabc');
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

  it.each([
    ['2024-06-01T11:59:55Z', '5 seconds ago', '5 seconds'],
    ['2024-06-01T11:57:00Z', '3 minutes ago', '3 minutes'],
    ['2024-06-01T10:00:00Z', '2 hours ago', '2 hours'],
    ['2024-05-29T12:00:00Z', '3 days ago', '3 days'],
    ['2024-06-01T12:00:10Z', '0 seconds ago', '0 seconds'],
  ])('writes %s as %j', (iso, a, d) => {
    expect(ago(iso)).toBe(a);
    expect(duration(iso)).toBe(d);
  });

  it('writes nothing for a time that has not happened', () => {
    expect(ago('')).toBe('');
  });
});
