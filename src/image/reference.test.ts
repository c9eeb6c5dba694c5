import { describe, expect, it } from 'vitest';
import { isHullError } from '../core/errors.js';
import { normalizeTag, parseReference } from './reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it('fills in docker.io and library/ for short names', () => {
    expect(parseReference('busybox')).toEqual({ domain: 'docker.io', path: 'library/busybox', tag: undefined, digest: undefined });
    expect(parseReference('someone/app:1.2')).toEqual({ domain: 'docker.io', path: 'someone/app', tag: '1.2', digest: undefined });
  });

  it('takes a first component as a registry host only when it looks like one', () => {
    expect(parseReference('localhost:5000/app:dev')).toMatchObject({ domain: 'localhost:5000', path: 'app', tag: 'dev' });
    expect(parseReference('quay.io/org/app')).toMatchObject({ domain: 'quay.io', path: 'org/app' });
    expect(parseReference('localhost/app')).toMatchObject({ domain: 'localhost', path: 'app' });
    expect(parseReference('org/app')).toMatchObject({ domain: 'docker.io', path: 'org/app' });
  });

  it('parses a digest', () => {
    expect(parseReference(`busybox@${DIGEST}`)).toMatchObject({ path: 'library/busybox', digest: DIGEST });
    expect(parseReference(`busybox:1@${DIGEST}`)).toMatchObject({ tag: '1', digest: DIGEST });
  });

  it.each(['', 'Busybox', 'busybox:', 'busybox:-x', 'bad//name', 'a/-b', 'busybox@sha256:abc', 'busybox@md5:' + 'a'.repeat(32), 'x'.repeat(256)])(
    'refuses %j as invalid',
    (ref) => {
      let err: unknown;
      try {
        parseReference(ref);
      } catch (e) {
        err = e;
      }
      expect(isHullError(err, 'invalid')).toBe(true);
      expect((err as Error).message).toContain('invalid reference');
    },
  );
});

describe('normalizeTag', () => {
  it.each([
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['docker.io/library/busybox', 'busybox:latest'],
    ['index.docker.io/library/busybox:1', 'busybox:1'],
    ['docker.io/someone/app', 'someone/app:latest'],
    ['quay.io/org/app:v1', 'quay.io/org/app:v1'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
  ])('%s → %s', (input, want) => {
    expect(normalizeTag(input)).toBe(want);
  });

  it('refuses a digest reference: it names content, not a tag', () => {
    expect(() => normalizeTag(`busybox@${DIGEST}`)).toThrow(/names a digest/);
  });
});
