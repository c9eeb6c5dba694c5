import { describe, expect, it } from 'vitest';
import { splitCommand } from './run-parse.js';
import { shellJoin, statusClass } from './format.js';

describe('format', () => {
  it('quotes command words so that splitting them again gives them back', () => {
    const words = ['sh', '-c', `echo "it's"; sleep 1`, '', 'plain'];
    expect(shellJoin(words)).toBe(`sh -c 'echo "it'\\''s"; sleep 1' '' plain`);
    expect(splitCommand(shellJoin(words))).toEqual(words);
  });

  it('colours a failure red, a clean exit grey, a running one green', () => {
    expect(statusClass('exited', 1)).toContain('st-failed');
    expect(statusClass('running', 0, 'unhealthy')).toContain('st-failed');
    expect(statusClass('exited', 0)).toContain('st-exited');
    expect(statusClass('running')).toContain('st-running');
  });

  it('colours an exit the user asked for grey, whatever its code (137: killed at the stop timeout)', () => {
    expect(statusClass('exited', 137, '', true)).toContain('st-exited');
    expect(statusClass('exited', 137)).toContain('st-failed');
    expect(statusClass('running', 0, 'unhealthy', true)).toContain('st-failed');
  });
});
