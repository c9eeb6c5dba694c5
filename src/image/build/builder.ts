import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { HullError, invalid, isHullError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import type { Image } from '../../core/image.js';
import { Reverter } from '../../core/reverter.js';
import type { Store } from '../../store/store.js';
import type { ImageService } from '../image-service.js';
import { MediaType } from '../oci-types.js';
import { normalizeTag, parseReference } from '../reference.js';
import { BuildCache } from './cache.js';
import { copyIntoLayer, hashSources, matchSources, type Owner } from './copy.js';
import { type Dockerfile, type Instruction, parseDockerfile, type Stage } from './dockerfile.js';
import { writeLayer } from './layer-writer.js';
import { openView, resolveOwner } from './rootfs-view.js';
import { baseState, type BuildState, configBytes, type FullConfig, nextState, type RunConfig, scratchState, stateId, transientImage } from './state.js';
import { DEFAULT_SHELL, metaStep } from './metadata.js';
import { processWord, processWords, type Vars } from './words.js';

/** A build event, sent to the client as one NDJSON line. */
export type BuildEvent = { type: 'status'; message: string } | { type: 'output'; data: string };

/**
 * What a build needs from the engine: RUN steps run in real containers.
 * Kept to this small interface so image/ does not depend on engine/.
 */
export interface BuildContainers {
  /** Create and start a container of `image` (an id `resolve` knows) running `cmd`; resolves once it exited. */
  run(o: { image: string; cmd: string[]; env: string[]; onStart: (id: string) => void; onOutput: (data: Buffer) => void; signal?: AbortSignal }): Promise<{ id: string; exitCode: number }>;
  /** The container's own overlay layer (its changes), readable after it exited. */
  upperDir(id: string): string;
  remove(id: string): Promise<void>;
}

export interface BuildOptions {
  contextDir: string;
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string>;
  noCache: boolean;
  target?: string;
  onEvent: (e: BuildEvent) => void;
  signal?: AbortSignal;
}

/** Files the runtime creates in a container's upper dir as mount points; not part of what RUN changed. */
const MOUNT_STUBS = new Set(['etc/hosts', 'etc/resolv.conf', 'etc/hostname']);

/** Per-stage working state. */
interface StageRun {
  stage: Stage;
  state: BuildState;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string>;
  /** CMD set in this stage (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

/**
 * Builder: `hull build`. Parses the Dockerfile, then runs each stage's steps
 * in order (up to --target): FROM takes the base image's state; RUN runs in
 * a Hull container and its upper dir becomes a layer; COPY/ADD fill a fresh
 * dir that becomes a layer; the rest change the config. Every step is
 * looked up in the cache first. The last stage's state is written as an OCI
 * config and manifest and recorded under the tags. Temp dirs and containers
 * are removed whatever happens.
 */
export class Builder {
  private readonly cache: BuildCache;

  constructor(
    private readonly images: ImageService,
    store: Store,
    private readonly containers: BuildContainers,
  ) {
    this.cache = new BuildCache(store);
  }

  async build(o: BuildOptions): Promise<Image> {
    const df = parseDockerfile(o.dockerfile);
    const tags = o.tags.map((t) => normalizeTag(t));
    const last = o.target ? df.stages.findIndex((s) => s.name === o.target?.toLowerCase()) : df.stages.length - 1;
    if (last < 0) throw invalid(`target stage "${o.target}" could not be found`);
    const stages = df.stages.slice(0, last + 1);
    const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    const r = new Reverter();
    try {
      const run = new BuildRun(this, df, o, total, r);
      const state = await run.all(stages);
      const image = await this.commit(state, tags);
      o.onEvent({ type: 'status', message: `Successfully built ${shortId(image.id.slice(7))}` });
      for (const t of tags) o.onEvent({ type: 'status', message: `Successfully tagged ${t}` });
      return image;
    } finally {
      await r.revert();
      r.success();
    }
  }

  /** Write the config and manifest and record the image. */
  private async commit(state: BuildState, tags: string[]): Promise<Image> {
    const config = await this.images.content.writeBlob(configBytes(state));
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
      layers: state.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const m = await this.images.content.writeBlob(Buffer.from(JSON.stringify(manifest)));
    return this.images.commitPulled(m.digest, tags);
  }

  /** What each BuildRun works with. */
  get deps() {
    return { images: this.images, cache: this.cache, containers: this.containers };
  }
}

class BuildRun {
  private step = 0;
  private readonly done = new Map<string, StageRun>();
  private readonly globals: Map<string, string>;

  constructor(
    private readonly b: Builder,
    private readonly df: Dockerfile,
    private readonly o: BuildOptions,
    private readonly total: number,
    private readonly r: Reverter,
  ) {
    this.globals = new Map();
    for (const ins of df.globalArgs) this.declareArg(this.globals, ins, this.globals);
  }

  private get images() {
    return this.b.deps.images;
  }

  private say(message: string) {
    this.o.onEvent({ type: 'status', message });
  }

  async all(stages: Stage[]): Promise<BuildState> {
    let cur: StageRun | undefined;
    for (const stage of stages) {
      cur = await this.from(stage);
      for (const ins of stage.instructions) {
        if (this.o.signal?.aborted) throw new HullError('internal', 'build cancelled');
        await this.exec(cur, ins);
      }
      this.done.set(String(stage.index), cur);
      if (stage.name) this.done.set(stage.name, cur);
    }
    return cur!.state;
  }

  /** Hold the state as a transient image (resolvable, pinned) until the build ends. */
  private hold(state: BuildState): Image {
    const img = transientImage(state);
    this.r.add(this.images.holdTransient(img));
    return img;
  }

  private header(ins: Instruction) {
    this.step++;
    this.say(`Step ${this.step}/${this.total} : ${ins.text}`);
  }

  private async from(stage: Stage): Promise<StageRun> {
    this.header(stage.from);
    const base = processWord(stage.base, this.globals, this.df.escape);
    const prior = this.done.get(base.toLowerCase());
    let state: BuildState;
    if (prior) state = prior.state;
    else if (base === 'scratch') state = scratchState();
    else {
      const image = await this.baseImage(base);
      state = baseState(image, JSON.parse((await this.images.content.readBlob(image.id)).toString()) as FullConfig);
    }
    this.hold(state);
    this.say(` ---> ${short(state)}`);
    return { stage, state, args: new Map(), cmdSet: false };
  }

  private async baseImage(ref: string): Promise<Image> {
    try {
      return await this.images.resolve(ref);
    } catch (e) {
      if (!isHullError(e, 'not_found') || !hasRegistry(ref)) throw e;
      this.say(`Pulling ${ref}`);
      return (await this.images.registry.pull(ref, { signal: this.o.signal })).image;
    }
  }

  /** Variables for substitution: ARGs in scope, then ENV (which wins). */
  private vars(s: StageRun): Vars {
    const v = new Map(s.args);
    for (const e of s.state.config.config.Env ?? []) {
      const i = e.indexOf('=');
      v.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
    }
    return v;
  }

  private declareArg(into: Map<string, string>, ins: Instruction, vars: Vars) {
    for (const w of processWords(ins.args, vars, this.df.escape)) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w : w.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalid(`Dockerfile line ${ins.line}: invalid ARG name "${name}"`);
      const given = this.o.buildArgs[name];
      const dflt = eq < 0 ? this.globals.get(name) : w.slice(eq + 1);
      if (given !== undefined) into.set(name, given);
      else if (dflt !== undefined) into.set(name, dflt);
      else into.delete(name);
    }
  }

  private async exec(s: StageRun, ins: Instruction): Promise<void> {
    this.header(ins);
    try {
      await this.step1(s, ins);
    } catch (e) {
      throw isHullError(e) && e.message.startsWith('Dockerfile line') ? e : toHull(e).wrap(`Dockerfile line ${ins.line}: ${ins.keyword}`);
    }
  }

  private async step1(s: StageRun, ins: Instruction): Promise<void> {
    const vars = this.vars(s);
    const esc = this.df.escape;
    switch (ins.keyword) {
      case 'ARG':
        this.declareArg(s.args, ins, vars);
        this.say(` ---> ${short(s.state)}`);
        return;
      case 'RUN':
        return this.runStep(s, ins);
      case 'COPY':
      case 'ADD':
        return this.copyStep(s, ins, vars);
      case 'MAINTAINER': {
        const who = processWord(ins.args, vars, esc);
        return this.cached(s, `MAINTAINER ${who}`, [], async () => {
          const n = nextState(s.state, `/bin/sh -c #(nop)  MAINTAINER ${who}`, () => undefined);
          n.config.author = who;
          return n;
        });
      }
      default: {
        const m = metaStep(ins, { config: s.state.config.config, vars, escape: esc, cmdSet: s.cmdSet });
        if (ins.keyword === 'CMD') s.cmdSet = true;
        return this.meta(s, m.text, m.change);
      }
    }
  }

  /** A step that only changes the config. */
  private meta(s: StageRun, text: string, change: (c: RunConfig) => void): Promise<void> {
    return this.cached(s, text, [], async () => nextState(s.state, `/bin/sh -c #(nop)  ${text}`, change));
  }

  /** Look the step up in the cache; on a miss make it and remember it. */
  private async cached(s: StageRun, text: string, extra: string[], make: () => Promise<BuildState>): Promise<void> {
    const parent = stateId(s.state);
    const key = BuildCache.key(parent, text, extra);
    const hit = this.o.noCache ? undefined : await this.b.deps.cache.get(key, (st) => this.usable(st));
    if (hit) this.say(' ---> Using cache');
    const next = hit ?? (await make());
    if (!hit) await this.b.deps.cache.put(key, parent, next);
    s.state = next;
    this.hold(next);
    this.say(` ---> ${short(next)}`);
  }

  private async usable(st: BuildState): Promise<boolean> {
    for (const l of st.layers) if (!(await this.images.content.hasBlob(l.digest))) return false;
    return true;
  }

  private async runStep(s: StageRun, ins: Instruction): Promise<void> {
    const cfg = s.state.config.config;
    const cmd = ins.json ?? [...(cfg.Shell ?? DEFAULT_SHELL), ins.args];
    // Build args a RUN sees are part of its key (docker's `|N K=V` prefix), not of the image's ENV.
    const envNames = new Set((cfg.Env ?? []).map((e) => e.split('=')[0]));
    const argEnv = [...s.args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`).sort();
    const createdBy = `${argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${ins.json ? JSON.stringify(cmd) : cmd.join(' ')}`;
    await this.cached(s, `RUN ${JSON.stringify(cmd)}`, argEnv, async () => {
      const image = this.hold(s.state);
      if (s.state.layers.length === 0) throw invalid('RUN needs a base image with a shell: this stage starts FROM scratch');
      const { images, containers } = this.b.deps;
      await images.layerDirs(image);
      let id = '';
      const r = new Reverter();
      try {
        const res = await containers.run({
          image: image.id,
          cmd,
          env: argEnv,
          signal: this.o.signal,
          onStart: (cid) => this.say(` ---> Running in ${shortId(cid)}`),
          onOutput: (d) => this.o.onEvent({ type: 'output', data: d.toString() }),
        });
        id = res.id;
        r.add(() => containers.remove(id));
        if (res.exitCode !== 0) {
          throw new HullError('invalid', `The command '${cmd.join(' ')}' returned a non-zero code: ${res.exitCode}`, { exitCode: res.exitCode });
        }
        const layer = await writeLayer(images.content, containers.upperDir(id), {
          skip: (rel, st) => MOUNT_STUBS.has(rel) && st.isFile() && st.size === 0,
        });
        return nextState(s.state, createdBy, () => undefined, layer);
      } finally {
        await r.revert();
        if (id) this.say(`Removing intermediate container ${shortId(id)}`);
      }
    });
  }

  private async copyStep(s: StageRun, ins: Instruction, vars: Vars): Promise<void> {
    const words = ins.json ?? processWords(ins.args, vars, this.df.escape);
    const dest0 = words[words.length - 1];
    const cfg = s.state.config.config;
    const dest = posix.resolve(cfg.WorkingDir || '/', dest0) + (dest0.endsWith('/') || dest0 === '.' ? '/' : '');
    const from = ins.flags.from;
    const view = await this.sourceView(from);
    try {
      const sources = await matchSources(view.path, words.slice(0, -1), ins.keyword);
      if (sources.length > 1 && !dest.endsWith('/')) throw invalid(`when using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
      const hash = await hashSources(sources);
      const flags = Object.entries(ins.flags).map(([k, v]) => `--${k}=${v}`).join(' ');
      const text = `${ins.keyword} ${flags}${flags ? ' ' : ''}${JSON.stringify(words.slice(0, -1))} ${dest}`;
      await this.cached(s, text, [hash], () => this.copyLayer(s, ins, sources, dest, hash));
    } finally {
      await view.release();
    }
  }

  private async copyLayer(s: StageRun, ins: Instruction, sources: string[], dest: string, hash: string): Promise<BuildState> {
    const { images } = this.b.deps;
    const image = this.hold(s.state);
    const view = await openView(images.content.tmpDir, await images.layerDirs(image));
    await mkdir(images.content.tmpDir, { recursive: true });
    const dir = await mkdtemp(join(images.content.tmpDir, 'copy-'));
    try {
      const owner: Owner | undefined = ins.flags.chown ? await resolveOwner(view.path, ins.flags.chown) : undefined;
      const mode = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
      if (mode !== undefined && (Number.isNaN(mode) || mode > 0o7777)) throw invalid(`invalid --chmod ${ins.flags.chmod}`);
      await copyIntoLayer(dir, view.path, { sources, dest, owner, mode, extractTars: ins.keyword === 'ADD' });
      const layer = await writeLayer(images.content, dir);
      return nextState(s.state, `/bin/sh -c #(nop) ${ins.keyword} ${ins.keyword === 'ADD' ? 'multi' : 'file'}:${hash} in ${dest}`, () => undefined, layer);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await view.release();
    }
  }

  /** Where COPY reads: the context, an earlier stage (by name or index), or an image. */
  private async sourceView(from: string | undefined): Promise<{ path: string; release: () => Promise<void> }> {
    if (!from) return { path: this.o.contextDir, release: async () => undefined };
    const stage = this.done.get(from.toLowerCase());
    const image = stage ? this.hold(stage.state) : await this.baseImage(from);
    return openView(this.images.content.tmpDir, await this.images.layerDirs(image));
  }
}

const short = (s: BuildState) => shortId(stateId(s).slice(7));

function toHull(e: unknown): HullError {
  return e instanceof HullError ? e : new HullError('internal', e instanceof Error ? e.message : String(e));
}

/** A reference whose first component names a registry (`host.tld/...`, `host:port/...`, `localhost/...`). */
function hasRegistry(ref: string): boolean {
  try {
    const first = ref.split('/')[0];
    return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') && !!parseReference(ref);
  } catch {
    return false;
  }
}
