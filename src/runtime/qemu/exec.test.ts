import { describe, expect, it } from 'vitest';
import { TelnetDecoder, telnetEscape } from './exec.js';

/** The telnet layer of a VM's `exec -t` (busybox telnetd in the guest); the whole path is in agent.test.ts. */
describe('telnet stream of a -t exec', () => {
  const b = (...x: Array<number | string>) => Buffer.concat(x.map((v) => (typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from([v]))));

  it("drops telnetd's option requests and its blank first line, keeps data, undoubles 0xff", () => {
    const d = new TelnetDecoder();
    const negotiation = b(255, 253, 1, 255, 253, 31, 255, 251, 1, 255, 251, 3);
    expect(d.push(Buffer.concat([negotiation, b('\r\r\nhi', 255, 255, '!')])).toString('latin1')).toBe('hi\xff!');
    // Later a blank line is data.
    expect(d.push(b('\r\r\n')).toString()).toBe('\r\r\n');
  });

  it('keeps a command or subnegotiation cut between chunks for the next one', () => {
    const d = new TelnetDecoder();
    const whole = b(255, 251, 1, '\r\r\na', 255, 255, 'b', 255, 250, 31, 0, 80, 0, 24, 255, 240, 'c', 255, 241, 'd');
    let out = Buffer.alloc(0);
    for (const byte of whole) out = Buffer.concat([out, d.push(Buffer.from([byte]))]);
    expect(out.toString('latin1')).toBe('a\xffbcd');
  });

  it('shows output that does not start with the blank line whole', () => {
    expect(new TelnetDecoder().push(b('\rX')).toString()).toBe('\rX');
    const d = new TelnetDecoder();
    expect(d.push(b('\r')).length).toBe(0);
    expect(d.push(b('X')).toString()).toBe('\rX');
  });

  it('escapes input: 0xff doubled, CR as CR NUL, the rest as is', () => {
    expect([...telnetEscape(b('a', 255, '\r\n', 0))]).toEqual([97, 255, 255, 13, 0, 10, 0]);
    const plain = b('plain\n');
    expect(telnetEscape(plain)).toBe(plain);
  });
});
