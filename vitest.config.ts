import { defineConfig } from 'vitest/config';

// Integration tests drive real crun/runc, conmon and overlayfs as root; they
// start their own daemon per file. Files run one at a time: the machines this
// runs on have 2 cores, and timing-sensitive checks (--cpus) need quiet.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
