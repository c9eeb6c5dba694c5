/**
 * The Run form's text fields as the create body wants them: a command split
 * on whitespace, and published ports as `docker run -p` writes them.
 * Pure, so it is unit-tested.
 */
export interface PortSpec {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/**
 * Words as a shell splits them (no expansion): whitespace separates, single
 * quotes keep everything, double quotes keep all but `\"` and `\\`, a
 * backslash outside quotes keeps the next character.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= '';
      if (c === "'" || c === '"') quote = c;
      else if (c === '\\' && i + 1 < text.length) word += text[++i];
      else word += c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in the command`);
  if (word !== undefined) words.push(word);
  return words;
}

const portNumber = (s: string, what: string, min: number): number => {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= 65535)) throw new Error(`invalid ${what} "${s}"`);
  return n;
};

/** `[hostIp:][hostPort:]containerPort[/tcp|udp]`; hostPort empty or absent picks a free one. */
export function parsePort(spec: string): PortSpec {
  const [addr, proto = 'tcp', ...extra] = spec.split('/');
  if (extra.length || (proto !== 'tcp' && proto !== 'udp')) throw new Error(`invalid port "${spec}": use [IP:][HOST:]CONTAINER[/tcp|udp]`);
  const parts = addr.split(':');
  if (parts.length > 3) throw new Error(`invalid port "${spec}": use [IP:][HOST:]CONTAINER[/tcp|udp]`);
  const containerPort = portNumber(parts[parts.length - 1], 'container port', 1);
  const host = parts.length >= 2 ? parts[parts.length - 2] : '';
  return { hostIp: parts.length === 3 ? parts[0] : '', hostPort: host ? portNumber(host, 'host port', 0) : 0, containerPort, protocol: proto };
}

/** Ports separated by commas or spaces. */
export const parsePorts = (text: string): PortSpec[] => text.split(/[\s,]+/).filter(Boolean).map(parsePort);
