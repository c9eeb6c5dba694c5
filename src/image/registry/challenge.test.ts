import { describe, expect, it } from 'vitest';
import { parseChallenges } from './challenge.js';

describe('parseChallenges', () => {
  it('reads a bearer challenge as Docker Hub sends it', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('reads basic, unquoted values, escapes, and several challenges in one or more headers', () => {
    expect(parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm=https://t/x, error="invalid_token", error_description="a \\"b\\""'])).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', error: 'invalid_token', error_description: 'a "b"' } },
    ]);
    expect(parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('gives nothing for an absent or empty header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});
