import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';

/**
 * docs/cli.md is generated from the CLI's own option data, so the reference
 * cannot drift from the code (test/unit checks it is current).
 *   node dist/scripts/gen-cli-docs.js docs/cli.md
 */
export function renderCliDocs(): string {
  const program = buildProgram();
  const out: string[] = [
    '# hull CLI reference',
    '',
    'Generated from the CLI definitions by `node dist/scripts/gen-cli-docs.js docs/cli.md`; do not edit by hand.',
    '',
    'Global option: `-H, --host <url>` picks the daemon socket (env `HULL_HOST`, default `unix:///run/hull/hull.sock`).',
    '',
  ];
  const walk = (cmd: Command, prefix: string) => {
    for (const c of cmd.commands) {
      if (c.name() === 'help') continue;
      const name = `${prefix}${c.name()}`;
      const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`)).join(' ');
      out.push(`## hull ${name}`, '', c.description(), '', '```', `hull ${name}${c.options.length ? ' [options]' : ''}${args ? ` ${args}` : ''}`, '```', '');
      if (c.aliases().length) out.push(`Alias: ${c.aliases().map((a) => `\`${a}\``).join(', ')}`, '');
      if (c.options.length) {
        out.push('| option | description |', '|---|---|');
        for (const o of c.options) out.push(`| \`${o.flags}\` | ${o.description.replace(/\|/g, '\\|')}${o.defaultValue !== undefined && !Array.isArray(o.defaultValue) && o.defaultValue !== true ? ` (default: ${o.defaultValue})` : ''} |`);
        out.push('');
      }
      walk(c, `${name} `);
    }
  };
  walk(program, '');
  return out.join('\n');
}

if (process.argv[2]) writeFileSync(process.argv[2], renderCliDocs());
