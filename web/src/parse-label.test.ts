import { describe, expect, it } from 'vitest';
import { parseLabel } from './parse-label.js';

describe('parseLabel', () => {
  it('takes key=value, a bare key (empty value), and keeps = in the value', () => {
    expect(parseLabel(' disk=ssd ')).toEqual({ disk: 'ssd' });
    expect(parseLabel('gpu')).toEqual({ gpu: '' });
    expect(parseLabel('a=b=c')).toEqual({ a: 'b=c' });
    expect(parseLabel('zone=')).toEqual({ zone: '' });
  });

  it('refuses an empty key, and one longer than the API takes', () => {
    expect(parseLabel('')).toMatch(/key/);
    expect(parseLabel('=x')).toMatch(/key/);
    expect(parseLabel(`${'k'.repeat(129)}=v`)).toMatch(/128/);
  });
});
