import { describe, expect, it } from 'vitest';
import { parsePorts, splitCommand } from './run-parse.js';

describe('run form parsing', () => {
  it('splits a command on runs of whitespace', () => {
    expect(splitCommand('  sleep   600 ')).toEqual(['sleep', '600']);
    expect(splitCommand('')).toEqual([]);
  });

  it('keeps quoted words together, as a shell does', () => {
    expect(splitCommand(`sh -c "echo \\"hi\\" there; sleep 1" 'a  b' c\\ d ""`)).toEqual(['sh', '-c', 'echo "hi" there; sleep 1', 'a  b', 'c d', '']);
    expect(() => splitCommand('echo "oops')).toThrow('unterminated " quote');
  });

  it('reads ports as docker run -p does', () => {
    expect(parsePorts('8080:80, 127.0.0.1:53:53/udp 9000')).toEqual([
      { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' },
      { hostIp: '', hostPort: 0, containerPort: 9000, protocol: 'tcp' },
    ]);
  });

  it('refuses what is not a port, naming it', () => {
    expect(() => parsePorts('80:http')).toThrow('invalid container port "http"');
    expect(() => parsePorts('70000:80')).toThrow('invalid host port "70000"');
    expect(() => parsePorts('80/sctp')).toThrow('invalid port "80/sctp"');
    expect(() => parsePorts('0')).toThrow('invalid container port "0"');
  });
});
