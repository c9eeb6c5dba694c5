import type { Image } from '../core/image.js';
import type { Store, WriteOp } from '../store/store.js';

/** A tag document: kind 'tag', id = normalized `repo:tag`. */
export interface TagDoc {
  name: string;
  imageId: string;
}

/**
 * ImageRecords: images and tags in the Store. Tags are their own documents
 * so that moving a tag is one atomic batch, and the tag documents are the one
 * truth about names: an image document is stored with `tags: []` and its
 * tags are filled in on every read.
 */
export class ImageRecords {
  constructor(private readonly store: Store) {}

  async get(id: string): Promise<Image | undefined> {
    const img = await this.store.get<Image>('image', id);
    return img && { ...img, tags: await this.tagsOf(id) };
  }

  async list(): Promise<Image[]> {
    const [images, tags] = await Promise.all([this.store.list<Image>('image'), this.store.list<TagDoc>('tag')]);
    return images.map((img) => ({ ...img, tags: tags.filter((t) => t.imageId === img.id).map((t) => t.name).sort() }));
  }

  getTag(name: string): Promise<TagDoc | undefined> {
    return this.store.get<TagDoc>('tag', name);
  }

  async tagsOf(imageId: string): Promise<string[]> {
    const tags = await this.store.list<TagDoc>('tag');
    return tags.filter((t) => t.imageId === imageId).map((t) => t.name).sort();
  }

  /** Store the image (once) and point `tags` at it, moving them off any other image, in one batch. */
  async save(image: Image, tags: string[]): Promise<void> {
    const ops: WriteOp[] = [];
    if (!(await this.store.get<Image>('image', image.id))) ops.push({ op: 'put', kind: 'image', id: image.id, doc: { ...image, tags: [] } });
    for (const name of tags) ops.push({ op: 'put', kind: 'tag', id: name, doc: { name, imageId: image.id } satisfies TagDoc });
    if (ops.length > 0) await this.store.batch(ops);
  }

  /** Note a `repo@digest` the image is known by in a registry (docker's RepoDigests). */
  async addRepoDigest(imageId: string, repoDigest: string): Promise<void> {
    await this.store.update<Image>('image', imageId, (cur) => {
      const have = cur.repoDigests ?? [];
      return have.includes(repoDigest) ? cur : { ...cur, repoDigests: [...have, repoDigest].sort() };
    });
  }

  async untag(names: string[]): Promise<void> {
    if (names.length > 0) await this.store.batch(names.map((id) => ({ op: 'delete', kind: 'tag', id }) as WriteOp));
  }

  /** Delete the image and every tag still on it, together. */
  async delete(imageId: string): Promise<string[]> {
    const tags = await this.tagsOf(imageId);
    await this.store.batch([
      ...tags.map((id) => ({ op: 'delete', kind: 'tag', id }) as WriteOp),
      { op: 'delete', kind: 'image', id: imageId },
    ]);
    return tags;
  }
}
