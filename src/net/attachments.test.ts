import { describe, expect, it } from 'vitest';
import type { Network, NetworkAttachment } from '../core/network.js';
import { checkRequest, hostIfName, lookupName, portRules, toEndpoints, type Live } from './attachments.js';

const net = (id: string, internal = false) => ({ id, name: id, bridge: `hb-${id}`, internal }) as Network;
const att = (networkId: string, ipAddress: string, ifName = 'eth0', aliases: string[] = []): NetworkAttachment => ({
  networkId,
  network: networkId,
  ifName,
  ipAddress,
  prefixLen: 24,
  gateway: ipAddress.replace(/\d+$/, '1'),
  macAddress: '02:48:00:00:00:00',
  aliases,
});
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

describe('attachments', () => {
  it('names host ends: veths for containers, taps for VMs', () => {
    expect(hostIfName('container', A, 'eth0')).toBe(`hv${'a'.repeat(12)}0`);
    expect(hostIfName('vm', A, 'eth3')).toBe(`ht${'a'.repeat(12)}3`);
    expect(hostIfName('vm', A, 'eth3').length).toBeLessThanOrEqual(15);
  });

  it('routes through the first open network only', () => {
    const eps = toEndpoints('container', A, [att('in', '10.1.0.2'), att('out', '10.2.0.2', 'eth1'), att('out2', '10.3.0.2', 'eth2')], [net('in', true), net('out'), net('out2')]);
    expect(eps.map((e) => e.gateway)).toEqual([undefined, '10.2.0.1', undefined]);
    expect(eps[1]).toMatchObject({ hostIf: `hv${'a'.repeat(12)}1`, ifName: 'eth1', bridge: 'hb-out' });
  });

  it('answers names within shared networks only', () => {
    const live: Live[] = [
      { id: A, name: 'api', networks: [att('n1', '10.1.0.2', 'eth0', ['web'])], ports: [] },
      { id: B, name: 'both', networks: [att('n1', '10.1.0.3'), att('n2', '10.2.0.3', 'eth1')], ports: [] },
      { id: C, name: 'other', networks: [att('n2', '10.2.0.4')], ports: [] },
    ];
    expect(lookupName(live, 'n1', 'web', '10.1.0.3')).toEqual(['10.1.0.2']);
    expect(lookupName(live, 'n2', 'api', '10.2.0.4')).toBeUndefined();
    expect(lookupName(live, 'n2', 'api', '10.2.0.3')).toEqual(['10.1.0.2']); // asks on n2, shares n1
    expect(lookupName(live, 'n2', 'both', '10.2.0.4')).toEqual(['10.2.0.3']);
    expect(lookupName(live, 'n1', 'aaaaaaaaaaaa', '10.1.0.3')).toEqual(['10.1.0.2']);
  });

  it('answers an alias on any network the asker shares, with the address there; not to others', () => {
    const live: Live[] = [
      { id: A, name: 'api', networks: [att('n1', '10.1.0.2'), att('n2', '10.2.0.2', 'eth1', ['svc'])], ports: [] },
      { id: B, name: 'both', networks: [att('n1', '10.1.0.3'), att('n2', '10.2.0.3', 'eth1')], ports: [] },
      { id: C, name: 'one', networks: [att('n1', '10.1.0.4')], ports: [] },
    ];
    expect(lookupName(live, 'n1', 'svc', '10.1.0.3')).toEqual(['10.2.0.2']); // asks n1's server, the alias is on n2
    expect(lookupName(live, 'n1', 'svc', '10.1.0.4')).toBeUndefined(); // not on n2
    expect(lookupName(live, 'n1', 'api', '10.1.0.3')).toEqual(['10.1.0.2']);
  });

  it('publishes to the first open network', () => {
    const live: Live[] = [{ id: A, name: 'x', networks: [att('in', '10.1.0.2'), att('out', '10.2.0.2', 'eth1')], ports: [{ hostIp: '', hostPort: 80, containerPort: 8080, protocol: 'tcp' }] }];
    expect(portRules(live, [net('in', true), net('out')])).toEqual([{ hostIp: '', hostPort: 80, containerPort: 8080, protocol: 'tcp', ip: '10.2.0.2' }]);
  });

  it('refuses bad requests', () => {
    expect(() => checkRequest([net('a'), net('a')], [], [])).toThrow(/twice/);
    expect(() => checkRequest([net('a')], ['bad alias'], [])).toThrow(/alias/);
    expect(() => checkRequest([net('a', true)], [], [{ hostIp: '', hostPort: 1, containerPort: 1, protocol: 'tcp' }])).toThrow(/internal/);
  });
});
