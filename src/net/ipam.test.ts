import { describe, expect, it } from 'vitest';
import type { Network } from '../core/network.js';
import { allocate, holders, release } from './ipam.js';
import { formatCidr, macForIp, overlaps, parseCidr, parseIp, within } from './ipv4.js';

const net = (o: Partial<Network> = {}): Network => ({
  id: 'n1',
  name: 'appnet',
  driver: 'bridge',
  createdAt: '',
  subnet: '10.89.0.0/29',
  gateway: '10.89.0.1',
  internal: false,
  bridge: 'hb-n1',
  isDefault: false,
  labels: {},
  ipam: { allocations: {} },
  ...o,
});

describe('ipv4', () => {
  it('parses and normalises CIDRs, and refuses junk', () => {
    expect(formatCidr(parseCidr('10.89.3.7/16'))).toBe('10.89.0.0/16');
    expect(() => parseCidr('10.89.0.0')).toThrow(/CIDR/);
    expect(() => parseCidr('10.89.0.256/24')).toThrow(/CIDR/);
    expect(() => parseCidr('10.89.0.0/33')).toThrow(/CIDR/);
    expect(() => parseIp('1.2.3')).toThrow(/IPv4/);
  });
  it('tells overlap and containment', () => {
    expect(overlaps(parseCidr('10.88.0.0/16'), parseCidr('10.88.5.0/24'))).toBe(true);
    expect(overlaps(parseCidr('10.88.0.0/16'), parseCidr('10.89.0.0/24'))).toBe(false);
    expect(within(parseCidr('10.88.5.0/24'), parseCidr('10.88.0.0/16'))).toBe(true);
    expect(within(parseCidr('10.88.0.0/15'), parseCidr('10.88.0.0/16'))).toBe(false);
  });
  it('derives a locally administered MAC from the address', () => {
    expect(macForIp(parseIp('10.88.0.2'))).toBe('02:48:0a:58:00:02');
  });
});

describe('ipam', () => {
  it('hands out every usable address once, never the gateway, network or broadcast address', () => {
    let n = net();
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = allocate(n, `c${i}`);
      n = r.net;
      got.push(r.ip);
    }
    expect(got).toEqual(['10.89.0.2', '10.89.0.3', '10.89.0.4', '10.89.0.5', '10.89.0.6']);
    expect(() => allocate(n, 'c9')).toThrow(/no free addresses/);
  });

  it('returns addresses on release, and does not reuse a freed one at once', () => {
    let n = allocate(net(), 'a').net;
    n = allocate(n, 'b').net;
    n = release(n, 'a');
    expect(holders(n)).toEqual(['b']);
    const r = allocate(n, 'c');
    expect(r.ip).toBe('10.89.0.4');
    n = allocate(allocate(allocate(r.net, 'd').net, 'e').net, 'f').net; // .5 .6, then wraps to .2
    expect(n.ipam.allocations['10.89.0.2']).toBe('f');
  });

  it('gives a requested address when it is free and in the subnet', () => {
    const r = allocate(net({ ipRange: '10.89.0.4/30' }), 'a', '10.89.0.2');
    expect(r.ip).toBe('10.89.0.2');
    expect(allocate(r.net, 'b').ip).toBe('10.89.0.4');
    expect(() => allocate(r.net, 'b', '10.89.0.2')).toThrow(/already in use/);
    expect(() => allocate(r.net, 'b', '10.90.0.2')).toThrow(/not a usable address/);
    expect(() => allocate(r.net, 'b', '10.89.0.7')).toThrow(/not a usable address/);
    expect(() => allocate(r.net, 'b', '10.89.0.1')).toThrow(/gateway/);
  });

  it('allocates only from the ip-range', () => {
    let n = net({ subnet: '10.89.0.0/24', ipRange: '10.89.0.128/30' });
    const ips: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = allocate(n, `c${i}`);
      n = r.net;
      ips.push(r.ip);
    }
    expect(ips).toEqual(['10.89.0.128', '10.89.0.129', '10.89.0.130', '10.89.0.131']);
    expect(() => allocate(n, 'x')).toThrow(/no free addresses/);
  });
});
