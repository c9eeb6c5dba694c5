import { describe, expect, it } from 'vitest';
import { Reverter } from './reverter.js';

describe('Reverter', () => {
  it('runs the undo steps in reverse order, each after the last has finished', async () => {
    const r = new Reverter();
    const log: string[] = [];
    r.add(() => log.push('a'));
    r.add(async () => {
      await new Promise((res) => setTimeout(res, 10));
      log.push('b');
    });
    r.add(() => log.push('c'));
    await r.revert();
    expect(log).toEqual(['c', 'b', 'a']);
  });

  it('drops the steps on success', async () => {
    const r = new Reverter();
    let ran = 0;
    r.add(() => ran++);
    r.add(() => ran++);
    r.success();
    await r.revert();
    expect(ran).toBe(0);
  });

  it('keeps undoing when a step throws or rejects', async () => {
    const r = new Reverter();
    const log: string[] = [];
    r.add(() => log.push('first'));
    r.add(() => {
      throw new Error('sync failure');
    });
    r.add(() => log.push('middle'));
    r.add(async () => {
      throw new Error('async failure');
    });
    r.add(() => log.push('last'));
    await expect(r.revert()).resolves.toBeUndefined();
    expect(log).toEqual(['last', 'middle', 'first']);
  });

  it('runs each step once, however often revert is called', async () => {
    const r = new Reverter();
    let ran = 0;
    r.add(() => ran++);
    await r.revert();
    await r.revert();
    expect(ran).toBe(1);
  });

  it('is the try/finally pattern of its doc comment: a failed operation leaves nothing', async () => {
    const made = new Set<string>();
    const op = async (fail: boolean) => {
      const r = new Reverter();
      try {
        made.add('dir');
        r.add(() => made.delete('dir'));
        made.add('mount');
        r.add(() => made.delete('mount'));
        if (fail) throw new Error('step 3 failed');
        r.success();
      } finally {
        await r.revert();
      }
    };
    await expect(op(true)).rejects.toThrow('step 3 failed');
    expect([...made]).toEqual([]);
    await op(false);
    expect([...made].sort()).toEqual(['dir', 'mount']);
  });
});
