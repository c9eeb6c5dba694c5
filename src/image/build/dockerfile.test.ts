import { describe, expect, it } from 'vitest';
import { DockerIgnore } from './dockerignore.js';
import { parseDockerfile } from './dockerfile.js';
import { keyValues, processWord, processWords } from './words.js';

describe('parseDockerfile', () => {
  it('reads stages, global ARGs, flags, JSON forms, continuations and comments', () => {
    const df = parseDockerfile(`# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM \${BASE} AS Build
# a comment
RUN echo a \\
  # inside a continuation
  && echo b
COPY --from=build --chown=1:2 a b /dst/
CMD ["sh", "-c", "x"]

FROM scratch
ENTRYPOINT /bin/app --flag
`);
    expect(df.globalArgs.map((a) => a.args)).toEqual(['BASE=busybox']);
    expect(df.stages.map((s) => [s.base, s.name])).toEqual([['${BASE}', 'build'], ['scratch', undefined]]);
    const [run, copy, cmd] = df.stages[0].instructions;
    expect(run).toMatchObject({ keyword: 'RUN', args: 'echo a   && echo b', line: 5 });
    expect(copy).toMatchObject({ keyword: 'COPY', flags: { from: 'build', chown: '1:2' }, args: 'a b /dst/' });
    expect(cmd.json).toEqual(['sh', '-c', 'x']);
    expect(df.stages[1].instructions[0].json).toBeUndefined();
  });

  it('names the line of a malformed instruction', () => {
    expect(() => parseDockerfile('FROM busybox\n\nBOGUS x\n')).toThrow(/line 3: unknown instruction: BOGUS/);
    expect(() => parseDockerfile('RUN x\n')).toThrow(/line 1: RUN before the first FROM/);
    expect(() => parseDockerfile('FROM a b\n')).toThrow(/line 1: FROM takes IMAGE \[AS NAME\]/);
    expect(() => parseDockerfile('FROM a\nCOPY onlyone\n')).toThrow(/line 2: COPY needs at least one source/);
    expect(() => parseDockerfile('FROM a\nCOPY --bogus=1 a b\n')).toThrow(/line 2: unknown flag for COPY: --bogus/);
    expect(() => parseDockerfile('# just a comment\n')).toThrow(/no FROM/);
  });

  it('honours # escape=`', () => {
    const df = parseDockerfile('# escape=`\nFROM a\nRUN echo 1 `\n  echo 2\n');
    expect(df.escape).toBe('`');
    expect(df.stages[0].instructions[0].args).toBe('echo 1   echo 2');
  });
});

describe('words', () => {
  const vars = new Map([
    ['A', 'one'],
    ['E', ''],
  ]);
  it('expands $VAR, ${VAR} and the default forms, honouring quotes and escapes', () => {
    expect(processWord('$A-${A}-${B:-def}-${E:-emp}-${E-set}-${A:+alt}-${B:+alt}', vars)).toBe('one-one-def-emp--alt-');
    expect(processWords(`"a $A" 'b $A' c\\ d \\$A`, vars)).toEqual(['a one', 'b $A', 'c d', '$A']);
  });
  it('reads KEY=VALUE pairs and the legacy form', () => {
    expect(keyValues('X=1 Y="two words" Z=$A', vars, '\\', 'ENV', true)).toEqual([['X', '1'], ['Y', 'two words'], ['Z', 'one']]);
    expect(keyValues('X  the rest $A', vars, '\\', 'ENV', true)).toEqual([['X', 'the rest one']]);
  });
});

describe('DockerIgnore', () => {
  it('matches docker patterns, with exceptions and parent directories', () => {
    const ig = DockerIgnore.parse('# c\n*.log\n!keep.log\nbuild/\n**/tmp-*\n/abs\n');
    expect(ig.excluded('a.log')).toBe(true);
    expect(ig.excluded('keep.log')).toBe(false);
    expect(ig.excluded('sub/a.log')).toBe(false); // `*` stays in one segment
    expect(ig.excluded('build/x/y')).toBe(true);
    expect(ig.excluded('a/b/tmp-1')).toBe(true);
    expect(ig.excluded('tmp-2')).toBe(true);
    expect(ig.excluded('abs')).toBe(true);
    expect(ig.excluded('src/main.c')).toBe(false);
  });
});
