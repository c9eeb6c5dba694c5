import type { Image } from '../../core/image.js';
import { invalid } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { imageFromManifest } from '../image-from-manifest.js';
import type { Platform } from '../oci-types.js';
import { DEFAULT_TAG, familiarRepo, normalizeTag, parseReference } from '../reference.js';
import { importDockerSave } from './docker-save.js';
import { type Found, importOciLayout } from './oci-layout.js';
import { openSource } from './source.js';

export interface ArchiveImage {
  image: Image;
  /** Normalized `repo:tag` names to point at it. */
  tags: string[];
}

/**
 * Read an OCI layout (directory or tar) or a docker-save tar into the content
 * store and build the image records it describes. Nothing is recorded in the
 * Store here. `opts.created` collects the blobs this import added, even when
 * it throws, so the caller can remove those no image ends up using.
 */
export async function importArchive(
  path: string,
  content: ContentStore,
  opts: { name?: string; platform: Platform; created: Set<string>; label?: string },
): Promise<ArchiveImage[]> {
  if (opts.name !== undefined) parseReference(opts.name); // a bad name fails before any work
  const src = await openSource(path, content, opts.created, opts.label);
  let found: Found[];
  if (await src.readFile('oci-layout')) found = await importOciLayout(src, content, opts.platform);
  else if (await src.readFile('manifest.json')) found = await importDockerSave(src, content);
  else throw invalid(`${src.what} is neither an OCI image layout (no oci-layout file) nor a docker save archive (no manifest.json)`);
  const tags = tagsFor(dedupe(found), opts.name, src.what);
  const images: ArchiveImage[] = [];
  for (const [digest, names] of tags) images.push({ image: await imageFromManifest(content, digest), tags: names });
  return images;
}

/** One entry per manifest, names merged: an index may list a manifest under several ref names. */
function dedupe(found: Found[]): Found[] {
  const byDigest = new Map<string, Found>();
  for (const f of found) {
    const seen = byDigest.get(f.manifestDigest);
    if (!seen) byDigest.set(f.manifestDigest, { ...f, names: [...f.names] });
    else seen.names.push(...f.names);
  }
  return [...byDigest.values()];
}

/**
 * The tags for each manifest. A `name` given by the caller wins; a name
 * without a tag takes the archive's bare `ref.name` tag, else `latest`.
 * Without one, only full names in the archive count: a bare tag has no
 * repository, so such an image is imported untagged, as docker load does.
 */
function tagsFor(found: Found[], name: string | undefined, what: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (name !== undefined) {
    if (found.length !== 1) throw invalid(`${what} holds ${found.length} images; a name can only be given for an archive with one`);
    const ref = parseReference(name);
    if (ref.digest) throw invalid(`"${name}" names a digest; give a name like busybox:latest`);
    out.set(found[0].manifestDigest, [`${familiarRepo(ref)}:${ref.tag ?? found[0].tag ?? DEFAULT_TAG}`]);
    return out;
  }
  for (const f of found) out.set(f.manifestDigest, [...new Set(f.names.map(normalizeTag))]);
  return out;
}
