import { z } from 'zod';
import { HullError, invalid } from '../../core/errors.js';
import { isDigest, sha256 } from '../content/digest.js';
import { type Descriptor, INDEX_TYPES, indexSchema, MANIFEST_TYPES, MediaType, parseDoc, type Platform } from '../oci-types.js';
import { readBytes } from './auth.js';
import type { RegistryClient } from './client.js';

/** A manifest or index as the registry sent it: the exact bytes, verified against `digest`. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export const MAX_MANIFEST = 4 * 1024 * 1024;
const ACCEPT = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerList].join(', ');
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1/;

const indexOrManifest = z.object({ schemaVersion: z.number(), mediaType: z.string().optional() });

export const pullScope = (repo: string) => `repository:${repo}:pull`;

/**
 * GET a manifest by tag or digest. The bytes are hashed here: asked by
 * digest, they must hash to it; asked by tag, they must hash to the
 * registry's Docker-Content-Digest when it sends one. Docker's schema 1 is
 * refused (registries have converted it for years).
 */
export async function fetchManifest(client: RegistryClient, repo: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
  const what = `manifest ${repo}:${reference}`;
  const res = await client.send({ method: 'GET', path: `/v2/${repo}/manifests/${reference}`, scopes: [pullScope(repo)], headers: { accept: ACCEPT }, follow: true, signal });
  await client.check(res, what, [200]);
  const raw = await readBytes(res.body, MAX_MANIFEST);
  const digest = sha256(raw);
  const sent = String(res.headers['docker-content-digest'] ?? '');
  if (isDigest(reference) && digest !== reference) throw new HullError('invalid', `registry ${client.host}: ${what}: content is ${digest}, not the digest asked for: refused`);
  if (!isDigest(reference) && isDigest(sent) && sent !== digest) throw new HullError('invalid', `registry ${client.host}: ${what}: content is ${digest}, but the registry says ${sent}: refused`);
  const declared = (parseDoc(indexOrManifest, raw, `${what}`) as { mediaType?: string }).mediaType;
  const mediaType = declared ?? String(res.headers['content-type'] ?? '').split(';')[0].trim();
  if (SCHEMA1.test(mediaType)) throw invalid(`registry ${client.host}: ${what} is a Docker schema 1 manifest, which Hull does not support`);
  if (!INDEX_TYPES.includes(mediaType) && !MANIFEST_TYPES.includes(mediaType)) throw invalid(`registry ${client.host}: ${what}: unsupported media type "${mediaType}"`);
  return { digest, mediaType, bytes: raw };
}

/**
 * Resolve a reference to one image manifest: an index (multi-platform
 * image) is followed to the entry for `platform`. Returns both the top
 * document (whose digest is what `name@digest` means) and the manifest.
 */
export async function resolveManifest(
  client: RegistryClient,
  repo: string,
  reference: string,
  platform: Platform,
  signal?: AbortSignal,
): Promise<{ top: FetchedManifest; manifest: FetchedManifest }> {
  const top = await fetchManifest(client, repo, reference, signal);
  if (!INDEX_TYPES.includes(top.mediaType)) return { top, manifest: top };
  const index = parseDoc(indexSchema, top.bytes, `index ${repo}@${top.digest}`);
  const pick = choosePlatform(index.manifests, platform);
  if (!pick) {
    const have = index.manifests.filter((d) => d.platform).map((d) => platformString(d.platform!));
    throw new HullError('not_found', `${client.host}/${repo}:${reference} has no image for ${platformString(platform)} (it has: ${have.join(', ') || 'none'})`);
  }
  if (!MANIFEST_TYPES.includes(pick.mediaType)) throw invalid(`index ${repo}@${top.digest}: the ${platformString(platform)} entry is a ${pick.mediaType}, not an image manifest`);
  const manifest = await fetchManifest(client, repo, pick.digest, signal);
  if (manifest.bytes.length !== pick.size) throw invalid(`registry ${client.host}: manifest ${pick.digest} is ${manifest.bytes.length} bytes, but the index says ${pick.size}`);
  return { top, manifest };
}

/** The entry for `want`: os and architecture must match; a variant asked for must match too. */
export function choosePlatform(entries: Descriptor[], want: Platform): Descriptor | undefined {
  const fits = entries.filter((d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture);
  if (want.variant) return fits.find((d) => d.platform!.variant === want.variant);
  // Without a variant, prefer an entry without one (or the newest arm's "v8"), else the first.
  return fits.find((d) => !d.platform!.variant) ?? fits.find((d) => d.platform!.variant === 'v8') ?? fits[0];
}

export const platformString = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** `linux/amd64`, `linux/arm64/v8`; `os` defaults to linux. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length === 1 && parts[0]) return { os: 'linux', architecture: parts[0] };
  if ((parts.length === 2 || parts.length === 3) && parts.every(Boolean)) return { os: parts[0], architecture: parts[1], variant: parts[2] };
  throw invalid(`invalid platform "${s}": expected os/arch[/variant], like linux/amd64`);
}
