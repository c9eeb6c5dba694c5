import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { streamEnd } from './client.js';

describe('streamEnd', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** A response that sends `first`, then ends, or is cut off (the daemon failed mid-way). */
  const get = async (cut: boolean) => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      res.write('first part\n');
      setTimeout(() => (cut ? res.destroy() : res.end('last part\n')), 20);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    return new Promise<http.IncomingMessage>((resolve) => http.get({ port, host: '127.0.0.1', agent: false }, resolve));
  };

  it('resolves at the end of a whole response', async () => {
    const res = await get(false);
    res.resume();
    await expect(streamEnd(res, 'the log')).resolves.toBeUndefined();
  });

  it('rejects, saying so, when the response is cut off before its end', async () => {
    const res = await get(true);
    res.resume();
    await expect(streamEnd(res, 'the log')).rejects.toThrow(/the log stream broke off before its end/);
  });
});
