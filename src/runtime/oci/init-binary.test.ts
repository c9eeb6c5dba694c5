import { describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { findInit } from './init-binary.js';

describe('findInit', () => {
  it("finds the host's tini-static", async () => {
    expect(await findInit(async (n) => (n === 'tini-static' ? '/usr/bin/tini-static' : undefined))).toBe('/usr/bin/tini-static');
  });

  it('names the package when it is missing', async () => {
    const e = await findInit(async () => undefined).catch((x: unknown) => x);
    expect(isHullError(e, 'unavailable')).toBe(true);
    expect((e as Error).message).toBe("--init needs tini-static, from Debian's tini package: install it (apt-get install tini, or npm run setup)");
  });
});
