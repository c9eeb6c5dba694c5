import { describe, expect, it } from 'vitest';
import { RCODE, TYPE_AAAA, buildAnswer, buildQuery, formErr, parseQuery, readAnswer } from './message.js';

describe('dns message', () => {
  it('reads a query and answers it with A records', () => {
    const q = buildQuery(0x1234, 'Api.example');
    const parsed = parseQuery(q)!;
    expect(parsed).toMatchObject({ id: 0x1234, name: 'api.example', type: 1, class: 1 });
    const a = readAnswer(buildAnswer(q, parsed, ['10.88.0.2', '10.88.0.3']));
    expect(a).toEqual({ id: 0x1234, rcode: 0, ips: ['10.88.0.2', '10.88.0.3'] });
  });
  it('answers with an error code and no records', () => {
    const q = buildQuery(7, 'nope', TYPE_AAAA);
    const a = buildAnswer(q, parseQuery(q)!, [], RCODE.nxDomain);
    expect(readAnswer(a)).toEqual({ id: 7, rcode: 3, ips: [] });
    expect(a.readUInt16BE(2) & 0x8000).toBe(0x8000);
  });
  it('refuses responses, truncated and malformed packets', () => {
    const q = buildQuery(1, 'a.b');
    expect(parseQuery(q.subarray(0, 14))).toBeUndefined();
    const resp = buildAnswer(q, parseQuery(q)!, []);
    expect(parseQuery(resp)).toBeUndefined();
    const bad = Buffer.from(q);
    bad[12] = 200; // a label longer than the packet
    expect(parseQuery(bad)).toBeUndefined();
    expect(readAnswer(formErr(bad)!).rcode).toBe(RCODE.formErr);
    expect(parseQuery(Buffer.alloc(3))).toBeUndefined();
  });
});
