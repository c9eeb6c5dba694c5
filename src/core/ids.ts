import { randomBytes } from 'node:crypto';

/** A 64-hex-digit id, as docker's; the first 12 digits are shown. */
export const newId = (): string => randomBytes(32).toString('hex');
export const shortId = (id: string): string => id.slice(0, 12);

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
export const isValidName = (name: string): boolean => NAME_RE.test(name);

const ADJ = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'swift', 'tidy', 'vivid'];
const NOUN = ['otter', 'heron', 'falcon', 'badger', 'lynx', 'marten', 'puffin', 'wren', 'gecko', 'ibis', 'koala', 'tapir'];
/** A generated name like docker's `brave_otter`, with a short suffix to avoid collisions. */
export function randomName(): string {
  const b = randomBytes(3);
  return `${ADJ[b[0] % ADJ.length]}_${NOUN[b[1] % NOUN.length]}${b[2] % 100}`;
}
