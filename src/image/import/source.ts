import { stat } from 'node:fs/promises';
import { notFound } from '../../core/errors.js';
import type { BlobInfo, ContentStore } from '../content/content-store.js';
import { openDirSource } from './dir-source.js';
import { openTarSource } from './tar-source.js';

/** What a descriptor promises about a file: its digest and, when known, its size. */
export interface Expected {
  digest: string;
  size?: number;
}

/**
 * ImportSource: an image archive (a directory or a tar) seen as named files.
 * Every byte that matters reaches Hull through `ingest`, which puts the file
 * into the content store, verified against `expected` when the caller knows
 * a digest. `created` lists blobs this import added to the store, so the
 * caller can remove the ones no image ended up using.
 */
export interface ImportSource {
  /** For messages: `OCI layout "/path"`-style description of the archive. */
  readonly what: string;
  readonly created: Set<string>;
  /** A small metadata file (oci-layout, index.json, manifest.json), or undefined if absent. */
  readFile(path: string): Promise<Buffer | undefined>;
  ingest(path: string, expected?: Expected): Promise<BlobInfo>;
}

/** Metadata files are small; anything larger is not one and is refused. */
export const MAX_METADATA = 4 * 1024 * 1024;

/**
 * Open a directory or tar archive; blobs it adds to the store are recorded in `created` as they are written.
 * `label` names a tar in messages instead of its path (a spooled upload's path means nothing to the sender).
 */
export async function openSource(path: string, content: ContentStore, created: Set<string>, label?: string): Promise<ImportSource> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw notFound(`image archive "${path}"`);
  return st.isDirectory() ? openDirSource(path, content, created) : openTarSource(path, content, created, label);
}

/** The path of a blob inside an OCI layout. */
export const layoutBlobPath = (digest: string): string => `blobs/${digest.replace(':', '/')}`;
