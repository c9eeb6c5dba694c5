/**
 * The inodes this daemon's readers hold open, with how many times each.
 * conmon's rotation may take up the oldest file as its new one
 * (conmon-rotation.ts); a file a reader is still reading is not offered, so
 * no reader finds its file rewritten. The keepers run on a worker thread
 * (keeper-pool.ts): each change is passed on to it.
 */
const held = new Map<number, number>();
let onChange: ((ino: number, count: number) => void) | undefined;

export const isHeld = (ino: number): boolean => held.has(ino);

/** One more (+1) or one fewer (-1) reader of `ino`. */
export function hold(ino: number, delta: 1 | -1): void {
  setHeld(ino, (held.get(ino) ?? 0) + delta);
  onChange?.(ino, held.get(ino) ?? 0);
}

/** The worker's copy: the count as the main thread has it. */
export function setHeld(ino: number, count: number): void {
  if (count > 0) held.set(ino, count);
  else held.delete(ino);
}

/** Tell `cb` of every change from now on, after the holds there are now. */
export function watchHeld(cb: (ino: number, count: number) => void): void {
  onChange = cb;
  for (const [ino, n] of held) cb(ino, n);
}
