import { randomBytes } from 'node:crypto';
import { invalid } from './errors.js';

/** A 64-hex-digit id, as docker's; the first 12 digits are shown. */
export const newId = (): string => randomBytes(32).toString('hex');
export const shortId = (id: string): string => id.slice(0, 12);

/**
 * The one limit on the names users give containers, VMs, networks and VM
 * images: docker's pattern, and at most 128 characters (docker has no cap;
 * 128 is its tag limit, and every such name must fit in one URL segment).
 */
export const NAME_MAX = 128;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const isValidName = (name: string): boolean => name.length <= NAME_MAX && NAME_RE.test(name);

/** Refuse a name that isValidName would, saying which rule it breaks. */
export function checkName(name: string, kind?: string): void {
  const what = `invalid ${kind ? `${kind} ` : ''}name "${name.length > 40 ? `${name.slice(0, 40)}…` : name}"`;
  if (name.length > NAME_MAX) throw invalid(`${what}: at most ${NAME_MAX} characters (it has ${name.length})`);
  if (!NAME_RE.test(name)) throw invalid(`${what}: use letters, digits, _ . - (start with a letter or digit)`);
}

/**
 * A host name as RFC 1123 has it: dot-separated labels of letters, digits and
 * hyphens, 1–63 characters each, neither starting nor ending with a hyphen;
 * at most 253 characters in all. Nothing else may reach /etc/hosts.
 */
export const HOSTNAME_MAX = 253;
const LABEL_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
export const isValidHostname = (h: string): boolean => h.length > 0 && h.length <= HOSTNAME_MAX && h.split('.').every((l) => LABEL_RE.test(l));
export const HOSTNAME_RULE = `a hostname is dot-separated labels of letters, digits and -, 1 to 63 characters each (not starting or ending with -), at most ${HOSTNAME_MAX} in all (RFC 1123)`;

const ADJ = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'swift', 'tidy', 'vivid'];
const NOUN = ['otter', 'heron', 'falcon', 'badger', 'lynx', 'marten', 'puffin', 'wren', 'gecko', 'ibis', 'koala', 'tapir'];
/** A generated name like docker's `brave_otter`, with a short suffix to avoid collisions. */
export function randomName(): string {
  const b = randomBytes(3);
  return `${ADJ[b[0] % ADJ.length]}_${NOUN[b[1] % NOUN.length]}${b[2] % 100}`;
}
