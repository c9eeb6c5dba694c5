import { describe, expect, it } from 'vitest';
import { renderRouterGuard, renderRules } from './nft.js';

describe('renderRules', () => {
  const rules = renderRules({
    table: 'hull',
    networks: [
      { bridge: 'hb-a', subnet: '10.88.0.0/16', gateway: '10.88.0.1', internal: false, dnsPort: 40000 },
      { bridge: 'hb-b', subnet: '10.89.0.0/24', gateway: '10.89.0.1', internal: true },
    ],
    ports: [
      { hostIp: '', hostPort: 8080, protocol: 'tcp', ip: '10.88.0.2', containerPort: 80 },
      { hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp', ip: '10.88.0.3', containerPort: 53 },
    ],
  });

  it('replaces the whole table in one transaction', () => {
    expect(rules.startsWith('table inet hull {}\ndelete table inet hull\ntable inet hull {')).toBe(true);
  });
  it('publishes ports for other hosts and the host itself', () => {
    expect(rules).toMatch(/prerouting[^}]*fib daddr type local jump published/);
    expect(rules).toMatch(/output[^}]*fib daddr type local jump published/);
    expect(rules).toContain('meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.0.2:80');
    expect(rules).toContain('ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.88.0.3:53');
    expect(rules).toContain('oifname "hb-a" ip saddr 127.0.0.0/8 masquerade');
  });
  it('sends gateway:53 to the name server, NATs open networks only, and isolates networks', () => {
    expect(rules).toContain('iifname "hb-a" ip daddr 10.88.0.1 udp dport 53 dnat ip to 10.88.0.1:40000');
    expect(rules).not.toMatch(/hb-b" ip daddr 10\.89\.0\.1 udp dport 53/);
    expect(rules).toContain('ip saddr 10.88.0.0/16 oifname != "hb-a" masquerade');
    expect(rules).not.toContain('ip saddr 10.89.0.0/24 oifname != "hb-b" masquerade');
    const fwd = rules.slice(rules.indexOf('chain forward'));
    const accept = fwd.indexOf('oifname "hb-a" ct status dnat accept');
    expect(accept).toBeGreaterThan(0);
    expect(fwd.indexOf('iifname "hb-a" oifname @bridges drop')).toBeGreaterThan(accept);
    // An internal network's members reach nothing beyond it, not even published ports.
    expect(fwd.indexOf('iifname "hb-b" drop')).toBeGreaterThan(0);
    expect(fwd.indexOf('iifname "hb-b" drop')).toBeLessThan(accept);
  });
});

describe('renderRules, localnet', () => {
  it('drops 127.0.0.0/8 arriving on a bridge before routing', () => {
    const rules = renderRules({ table: 'hull', networks: [{ bridge: 'hb-a', subnet: '10.88.0.0/16', gateway: '10.88.0.1', internal: false }], ports: [] });
    expect(rules).toMatch(/chain localnet \{ type filter hook prerouting priority raw; policy accept;\n {4}iifname @bridges ip daddr 127\.0\.0\.0\/8 drop\n {4}iifname @bridges ip saddr 127\.0\.0\.0\/8 drop/);
  });
});

describe('renderRouterGuard', () => {
  it('drops IPv6 router advertisements and redirects from instances, replacing its bridge table whole', () => {
    const guard = renderRouterGuard('hull');
    expect(guard.startsWith('table bridge hull {}\ndelete table bridge hull\ntable bridge hull {')).toBe(true);
    for (const hook of ['forward', 'input']) {
      const chain = guard.slice(guard.indexOf(`chain ${hook} {`));
      expect(chain).toMatch(/^chain \w+ \{ type filter hook \w+ priority filter; policy accept;\n {4}iifname "hv\*" icmpv6 type \{ nd-router-advert, nd-redirect \} drop\n {4}iifname "ht\*"/);
    }
  });
});

describe('renderRules: services', () => {
  const rules = renderRules({
    table: 'hull',
    networks: [{ bridge: 'hb-a', subnet: '10.89.0.0/24', gateway: '10.89.0.1', internal: false }],
    ports: [],
    vips: [
      { ip: '10.89.0.250', endpoints: ['10.89.0.3', '10.89.0.4', '10.89.0.5'] },
      { ip: '10.89.0.251', endpoints: ['10.89.0.6'] },
      { ip: '10.89.0.252', endpoints: [] },
    ],
    ingress: [
      { hostIp: '', hostPort: 8080, protocol: 'tcp', targets: [{ ip: '10.89.0.3', port: 80 }, { ip: '10.89.0.4', port: 80 }] },
      { hostIp: '', hostPort: 8081, protocol: 'tcp', targets: [] },
    ],
  });

  it('balances a service address over its ready replicas, any port, per connection', () => {
    expect(rules).toContain('set vips { type ipv4_addr; elements = { 10.89.0.250, 10.89.0.251, 10.89.0.252 }; }');
    expect(rules).toMatch(/prerouting[^}]*ip daddr @vips jump services/);
    expect(rules).toMatch(/output[^}]*ip daddr @vips jump services/);
    expect(rules).toContain('ip daddr 10.89.0.250 dnat ip to numgen random mod 3 map { 0 : 10.89.0.3, 1 : 10.89.0.4, 2 : 10.89.0.5 }');
    expect(rules).toContain('ip daddr 10.89.0.251 dnat ip to 10.89.0.6');
    expect(rules).not.toMatch(/ip daddr 10\.89\.0\.252 dnat/);
  });

  it('balances a published ingress port, and refuses what reached an address with no replica', () => {
    expect(rules).toContain('meta nfproto ipv4 tcp dport 8080 dnat ip to numgen random mod 2 map { 0 : 10.89.0.3 . 80, 1 : 10.89.0.4 . 80 }');
    expect(rules).not.toContain('dport 8081');
    expect(rules).toMatch(/chain input[^}]*ip daddr @vips ct state new meta l4proto tcp reject with tcp reset\n\s*ip daddr @vips ct state new reject/);
  });

  it('loads in the kernel as rendered', async () => {
    const { run } = await import('../sys/run.js');
    const r = await run(['nft', '-c', '-f', '-'], { input: rules.replace(/inet hull\b/g, 'inet hullrendercheck'), timeoutMs: 10_000, allowFailure: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
