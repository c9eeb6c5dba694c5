import type { Image } from '../core/image.js';
import { invalid, isHullError, notFound } from '../core/errors.js';
import type { ImageRecords } from './image-records.js';
import { familiarRepo, normalizeTag, parseReference } from './reference.js';

export interface Resolved {
  image: Image;
  /** The tag the reference named, when it named one (not an id). */
  tag?: string;
}

const ID_RE = /^sha256:([0-9a-f]{1,64})$/;
const HEX_PREFIX_RE = /^[0-9a-f]{12,64}$/;

/**
 * Find an image the way docker does: a `sha256:` id or prefix; else a name
 * (`busybox` means `busybox:latest`); else, for 12 or more hex digits, an id
 * prefix. A name wins over an id prefix because `deadbeef1234` is also a
 * valid repository name. `name@sha256:…` matches a digest the image was
 * pulled or pushed by under that name, else the manifest digest.
 */
export async function resolveRef(records: ImageRecords, ref: string): Promise<Resolved> {
  const id = ID_RE.exec(ref);
  if (id) return { image: await byIdPrefix(records, id[1], ref) };
  const name = tagName(ref);
  if (name) {
    const tag = await records.getTag(name);
    const image = tag && (await records.get(tag.imageId));
    if (image) return { image, tag: name };
  } else {
    const parsed = parseReference(ref);
    const digest = parsed.digest;
    // The digest a registry knows the image by (an index's, for a multi-platform pull), else its manifest's.
    const repoDigest = `${familiarRepo(parsed)}@${digest}`;
    const all = await records.list();
    const image = all.find((i) => i.repoDigests?.includes(repoDigest)) ?? all.find((i) => i.manifestDigest === digest);
    if (image) return { image };
  }
  if (HEX_PREFIX_RE.test(ref)) return { image: await byIdPrefix(records, ref, ref) };
  throw notFound(`image "${name ?? ref}"`);
}

/** The tag a reference names, or undefined for `name@digest`; a malformed reference is 'invalid'. */
function tagName(ref: string): string | undefined {
  try {
    return normalizeTag(ref);
  } catch (e) {
    if (isHullError(e, 'invalid') && parseReference(ref).digest) return undefined;
    throw e;
  }
}

async function byIdPrefix(records: ImageRecords, hex: string, ref: string): Promise<Image> {
  if (hex.length === 64) {
    const image = await records.get(`sha256:${hex}`);
    if (!image) throw notFound(`image "${ref}"`);
    return image;
  }
  const matches = (await records.list()).filter((i) => i.id.startsWith(`sha256:${hex}`));
  if (matches.length === 0) throw notFound(`image "${ref}"`);
  if (matches.length > 1) throw invalid(`image id prefix "${ref}" is ambiguous: it matches ${matches.length} images`);
  return matches[0];
}
