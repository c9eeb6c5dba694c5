import { invalid } from '../core/errors.js';

/** IPv4 addresses as unsigned 32-bit numbers, and CIDR blocks over them. */
export interface Cidr {
  base: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
}

export function parseIp(s: string): number {
  if (!isIpv4(s)) throw invalid(`"${s}" is not an IPv4 address`);
  return s.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Parse `a.b.c.d/n`; the address is normalised to the block's base. */
export function parseCidr(s: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !isIpv4(m[1]) || prefix > 32) throw invalid(`"${s}" is not an IPv4 CIDR (like 10.89.0.0/24)`);
  return { base: (parseIp(m[1]) & mask(prefix)) >>> 0, prefix };
}

export const formatCidr = (c: Cidr) => `${formatIp(c.base)}/${c.prefix}`;
export const size = (c: Cidr) => 2 ** (32 - c.prefix);
export const last = (c: Cidr) => c.base + size(c) - 1;
export const contains = (c: Cidr, ip: number) => ip >= c.base && ip <= last(c);
export const overlaps = (a: Cidr, b: Cidr) => a.base <= last(b) && b.base <= last(a);
export const within = (inner: Cidr, outer: Cidr) => contains(outer, inner.base) && contains(outer, last(inner));

/** Addresses an instance may get in a subnet: not the network or broadcast address (for prefixes up to /30). */
export function hostRange(c: Cidr): { first: number; last: number } {
  return c.prefix >= 31 ? { first: c.base, last: last(c) } : { first: c.base + 1, last: last(c) - 1 };
}

/** A locally administered MAC derived from the address, as docker did: a reused address keeps its MAC, so no neighbour entry goes stale. */
export function macForIp(ip: number): string {
  return ['02', '48', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
