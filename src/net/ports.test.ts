import { createSocket } from 'node:dgram';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatPort, parseExposed, parsePublish } from '../core/port-spec.js';
import { hostPortFree, reserve, unreserve, type PortsDoc } from './ports.js';

describe('parsePublish', () => {
  it('reads docker -p forms', () => {
    expect(parsePublish('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    expect(parsePublish('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('0.0.0.0:53:53/udp')[0].hostIp).toBe('');
    expect(parsePublish('8000-8002:80-82').map((p) => `${p.hostPort}:${p.containerPort}`)).toEqual(['8000:80', '8001:81', '8002:82']);
  });
  it('refuses what it cannot read', () => {
    for (const bad of ['', 'x', '80/sctp', '70000:80', '8000-8001:80', '1:2:3:4', 'host:80:80', '90-80', '0:80']) expect(() => parsePublish(bad), bad).toThrow(/invalid port spec/);
  });
  it('reads exposed ports and formats mappings', () => {
    expect(parseExposed('80/tcp')).toEqual({ containerPort: 80, protocol: 'tcp' });
    expect(parseExposed('53/udp')).toEqual({ containerPort: 53, protocol: 'udp' });
    expect(parseExposed('junk')).toBeUndefined();
    expect(formatPort({ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' })).toBe('0.0.0.0:8080->80/tcp');
  });
});

describe('port reservations', () => {
  const empty: PortsDoc = { id: 'net-ports', reservations: [] };
  const a = { id: 'a', name: 'web' };
  const b = { id: 'b', name: 'other' };
  it('refuses a port another container publishes, by address and protocol', () => {
    const { doc } = reserve(empty, a, parsePublish('8080:80'));
    expect(() => reserve(doc, b, parsePublish('8080:80'))).toThrow(/0\.0\.0\.0:8080\/tcp is already published by container web/);
    expect(() => reserve(doc, b, parsePublish('127.0.0.1:8080:80'))).toThrow(/already published/);
    expect(reserve(doc, b, parsePublish('8080:80/udp')).mappings).toHaveLength(1);
    const local = reserve(empty, a, parsePublish('127.0.0.1:9090:80')).doc;
    expect(reserve(local, b, parsePublish('127.0.0.2:9090:80')).mappings).toHaveLength(1);
    expect(() => reserve(local, b, parsePublish('9090:80'))).toThrow(/already published/);
  });
  it('refuses a port twice in one request, and frees on unreserve', () => {
    expect(() => reserve(empty, a, [...parsePublish('8080:80'), ...parsePublish('8080:81')])).toThrow(/this container already/);
    const { doc } = reserve(empty, a, parsePublish('8080:80'));
    expect(reserve(unreserve(doc, 'a'), b, parsePublish('8080:80')).mappings[0].hostPort).toBe(8080);
  });
  it('picks free ephemeral ports for port 0', () => {
    const first = reserve(empty, a, parsePublish('80'), () => 40000);
    expect(first.mappings[0].hostPort).toBe(40000);
    const second = reserve(first.doc, b, parsePublish('80'), () => 40000);
    expect(second.mappings[0].hostPort).toBe(40001);
  });
});

describe('hostPortFree', () => {
  it('tells a port another program holds, by protocol and address', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const uport = udp.address().port;
    try {
      expect(await hostPortFree({ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' })).toBe(false);
      expect(await hostPortFree({ hostIp: '', hostPort: port, containerPort: 80, protocol: 'tcp' })).toBe(false);
      expect(await hostPortFree({ hostIp: '', hostPort: uport, containerPort: 80, protocol: 'udp' })).toBe(false);
      expect(await hostPortFree({ hostIp: '127.0.0.1', hostPort: uport, containerPort: 80, protocol: 'tcp' })).toBe(true);
      await expect(hostPortFree({ hostIp: '192.0.2.1', hostPort: port, containerPort: 80, protocol: 'tcp' })).rejects.toThrow(/not an address of this host/);
    } finally {
      srv.close();
      udp.close();
    }
  });
});
