import { request } from './api.js';
import { readJsonLines } from './stream.js';
import type { HullEvent } from './types.js';

/**
 * The one events stream the whole dashboard shares (GET /v1/events). It
 * starts 10 minutes back, keeps the newest 500 events for the Events page,
 * tells subscribers of each new one, and reconnects with back-off (1 s
 * doubling to 30 s) when it drops, resuming from the last event it saw
 * (repeats the daemon replays are dropped by key).
 */
export const EVENT_CAP = 500;
type Listener = (ev: HullEvent) => void;
type StateListener = (live: boolean) => void;

const recent: HullEvent[] = [];
const seen = new Set<string>();
const listeners = new Set<Listener>();
const stateListeners = new Set<StateListener>();
let sinceSeconds = Date.now() / 1000 - 600;
let backoff = 1000;

export const recentEvents = (): readonly HullEvent[] => recent;

export function onEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStreamState(fn: StateListener): () => void {
  stateListeners.add(fn);
  return () => stateListeners.delete(fn);
}

const keyOf = (ev: HullEvent): string => `${ev.timeNano}|${ev.Type}|${ev.Action}|${ev.Actor?.ID}`;

function receive(ev: HullEvent): void {
  const key = keyOf(ev);
  if (seen.has(key)) return;
  seen.add(key);
  recent.unshift(ev);
  if (recent.length > EVENT_CAP) seen.delete(keyOf(recent.pop() as HullEvent));
  if (ev.timeNano) sinceSeconds = Math.max(sinceSeconds, ev.timeNano / 1e9);
  for (const fn of listeners) fn(ev);
}

const setLive = (live: boolean): void => stateListeners.forEach((fn) => fn(live));

async function connectOnce(): Promise<void> {
  const res = await request('GET', `/v1/events?since=${(Math.floor(sinceSeconds * 1000) / 1000).toFixed(3)}`);
  setLive(true);
  backoff = 1000;
  await readJsonLines<HullEvent>(res, receive);
}

/** Run the stream for the page's life; a 401 stops it (the banner says why). */
export async function startEvents(): Promise<void> {
  for (;;) {
    try {
      await connectOnce();
    } catch (err) {
      if ((err as { status?: number }).status === 401) return setLive(false);
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 30_000);
  }
}
