import { invalid } from '../core/errors.js';
import { isDigest } from './content/digest.js';

/**
 * Image references, as docker parses them: `[domain/]path[:tag][@digest]`.
 * Hull keeps names in docker's familiar form, so `busybox`,
 * `docker.io/library/busybox` and `busybox:latest` are one name,
 * `busybox:latest`. The registry client will need `domain` and `path`
 * (with `library/` put back for Docker Hub) from the same parse.
 */
export interface Reference {
  /** Registry host, `docker.io` when none was given. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/;
const MAX_NAME = 255;

export const isValidTag = (s: string): boolean => TAG_RE.test(s);

/** Parse a reference strictly; HullError 'invalid' says what is wrong. */
export function parseReference(input: string): Reference {
  const bad = (why: string) => invalid(`invalid reference "${input}": ${why}`);
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad('the digest must be sha256:<64 hex digits>');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad('a tag is up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"');
  }
  const { domain, path } = splitDomain(rest);
  if (!domain || !DOMAIN_RE.test(domain)) throw bad(`bad registry host "${domain}"`);
  if (!path || !path.split('/').every((c) => COMPONENT_RE.test(c))) {
    throw bad('a repository name is lowercase letters, digits and separators (".", "_", "__", "-"), in parts joined by "/"');
  }
  if (rest.length > MAX_NAME) throw bad(`the name is longer than ${MAX_NAME} characters`);
  return { domain, path, tag, digest };
}

/**
 * The first component is a registry host only if it looks like one (has a
 * dot or a port, or is `localhost`), as docker decides; `library/` is implied
 * for single-component Docker Hub names.
 */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let domain = isHost ? first : DEFAULT_DOMAIN;
  let path = isHost ? name.slice(slash + 1) : name;
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && path !== '' && !path.includes('/')) path = `library/${path}`;
  return { domain, path };
}

/** The repository in familiar form: `busybox`, `someone/app`, `quay.io/x/y`. */
export function familiarRepo(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  return ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice('library/'.length) : ref.path;
}

/**
 * The name a tag is stored under: familiar repo and a tag, `latest` when none
 * was given. A reference with a digest names content, not a tag, so it is
 * refused here.
 */
export function normalizeTag(input: string): string {
  const ref = parseReference(input);
  if (ref.digest) throw invalid(`"${input}" names a digest; a tag name is needed, like busybox:latest`);
  return `${familiarRepo(ref)}:${ref.tag ?? DEFAULT_TAG}`;
}
