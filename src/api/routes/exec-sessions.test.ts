import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { ExecSessions } from './exec-sessions.js';

const opts = { cmd: ['true'], env: [], workingDir: '', user: '', tty: false, stdin: false };

describe('ExecSessions', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('starts a session once: a second start, however close, is a conflict', () => {
    const s = new ExecSessions();
    const { id } = s.add('c1', opts);
    expect(s.start(id).started).toBe(true);
    expect(() => s.start(id)).toThrow(/already started/);
    try {
      s.start(id);
    } catch (e) {
      expect(isHullError(e, 'conflict')).toBe(true);
    }
  });

  it('drops a session nobody starts after its lifetime, and not before', () => {
    const s = new ExecSessions({ unstartedMs: 60_000, finishedMs: 10_000 });
    const { id } = s.add('c1', opts);
    vi.advanceTimersByTime(59_000);
    expect(s.get(id).id).toBe(id);
    vi.advanceTimersByTime(2_000);
    expect(() => s.get(id)).toThrow(/not found/);
    expect(s.size).toBe(0);
  });

  it('keeps a started session while it runs, then its exit code for a while', () => {
    const s = new ExecSessions({ unstartedMs: 1_000, finishedMs: 10_000 });
    const { id } = s.add('c1', opts);
    s.start(id);
    vi.advanceTimersByTime(60_000);
    expect(s.get(id).started).toBe(true);
    s.expire(id);
    vi.advanceTimersByTime(9_000);
    expect(s.get(id).id).toBe(id);
    vi.advanceTimersByTime(2_000);
    expect(() => s.get(id)).toThrow(/not found/);
  });

  it("drops a removed container's sessions, and only those", () => {
    const s = new ExecSessions();
    const a = s.add('c1', opts);
    const b = s.add('c1', opts);
    const c = s.add('c2', opts);
    s.start(b.id);
    s.dropContainer('c1');
    expect(() => s.get(a.id)).toThrow(/not found/);
    expect(() => s.get(b.id)).toThrow(/not found/);
    expect(s.get(c.id).containerId).toBe('c2');
    // A session's end after its container went does not bring it back.
    s.expire(b.id);
    expect(s.size).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
  });
});
