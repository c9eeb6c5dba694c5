import { describe, expect, it } from 'vitest';
import { lookupService, serviceRules, type ServiceLb } from './service-lb.js';

const web: ServiceLb = {
  id: 's1',
  name: 'web',
  endpointMode: 'vip',
  networks: [
    { networkId: 'n1', vip: '10.1.0.250', aliases: ['www'] },
    { networkId: 'n2', vip: '10.2.0.250', aliases: [] },
  ],
  endpoints: [
    { instanceId: 'a', addresses: { n1: '10.1.0.3', n2: '10.2.0.3' } },
    { instanceId: 'b', addresses: { n1: '10.1.0.4', n2: '10.2.0.4' } },
  ],
  ports: [{ hostIp: '', published: 8080, protocol: 'tcp', target: 80 }],
};

describe('service load balancing model', () => {
  it('gives each network’s VIP the replicas’ addresses on that same network (networks stay apart)', () => {
    const r = serviceRules([web], new Set());
    expect(r.vips).toEqual([
      { ip: '10.1.0.250', endpoints: ['10.1.0.3', '10.1.0.4'] },
      { ip: '10.2.0.250', endpoints: ['10.2.0.3', '10.2.0.4'] },
    ]);
    expect(r.ingress).toEqual([{ hostIp: '', hostPort: 8080, protocol: 'tcp', targets: [{ ip: '10.1.0.3', port: 80 }, { ip: '10.1.0.4', port: 80 }] }]);
  });

  it('sends ingress to the first open network', () => {
    expect(serviceRules([web], new Set(['n1'])).ingress[0].targets.map((t) => t.ip)).toEqual(['10.2.0.3', '10.2.0.4']);
  });

  it('answers a name with the VIP, or the ready replicas in turn for dnsrr, only on the service’s networks', () => {
    expect(lookupService([web], 'n1', 'web')).toEqual(['10.1.0.250']);
    expect(lookupService([web], 'n1', 'www')).toEqual(['10.1.0.250']);
    expect(lookupService([web], 'n2', 'www')).toBeUndefined();
    expect(lookupService([web], 'n3', 'web')).toBeUndefined();
    const rr = { ...web, endpointMode: 'dnsrr' as const };
    expect(lookupService([rr], 'n2', 'web', 1)).toEqual(['10.2.0.4', '10.2.0.3']);
    expect(lookupService([{ ...rr, endpoints: [] }], 'n2', 'web')).toBeUndefined();
  });
});
