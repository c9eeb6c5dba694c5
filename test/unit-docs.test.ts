import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCliDocs } from '../scripts/gen-cli-docs.js';

describe('docs/cli.md', () => {
  it('matches the CLI definitions (regenerate: node dist/scripts/gen-cli-docs.js docs/cli.md)', () => {
    expect(readFileSync(join(__dirname, '..', 'docs', 'cli.md'), 'utf8')).toBe(renderCliDocs());
  });
});
