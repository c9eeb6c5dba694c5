import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { flagParity, PARITY } from '../src/cli/docker-parity.js';
import { buildProgram } from '../src/cli/main.js';

/**
 * docs/cli.md is generated from the CLI's own option data and from
 * src/cli/docker-parity.ts (each verb and flag beside docker's), so the
 * reference cannot drift from the code (test/unit-docs.test.ts checks it is
 * current, and a flag docker-parity.ts does not place stops the generator).
 *   node dist/scripts/gen-cli-docs.js docs/cli.md
 */
const cell = (s: string) => s.replace(/\|/g, '\\|');

function besideDocker(verb: string, long: string): string {
  const p = flagParity(verb, long);
  if (p.status === 'same') return 'same';
  return `${p.status === 'hull' ? 'Hull only' : 'differs'}${p.note ? `: ${cell(p.note)}` : ''}`;
}

function summary(cmds: Array<[string, Command]>): string[] {
  const out = ['## Beside docker', '', "Each verb beside docker's: the flags of each verb below say whether they are docker's (same), docker's with a difference, or Hull's own, and which of docker's flags Hull does not take.", '', '| hull | docker | note |', '|---|---|---|'];
  for (const [name] of cmds) {
    const p = PARITY[name];
    out.push(`| \`hull ${name}\` | ${p.docker ? `\`${p.docker}\`` : 'Hull only'} | ${cell(p.note ?? '')} |`);
  }
  return [...out, ''];
}

export function renderCliDocs(): string {
  const program = buildProgram();
  const cmds: Array<[string, Command]> = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const c of cmd.commands) {
      if (c.name() === 'help') continue;
      cmds.push([`${prefix}${c.name()}`, c]);
      walk(c, `${prefix}${c.name()} `);
    }
  };
  walk(program, '');
  const out: string[] = [
    '# hull CLI reference',
    '',
    'Generated from the CLI definitions by `node dist/scripts/gen-cli-docs.js docs/cli.md`; do not edit by hand.',
    '',
    'Global option: `-H, --host <url>` picks the daemon socket (env `HULL_HOST`, default `unix:///run/hull/hull.sock`).',
    '',
    "Errors go to stderr as `Error: …`. A command line Hull cannot take (an unknown flag, a missing argument) exits 125 with one line and a hint (`See 'hull ps --help'.`); `run` exits 125 when the container could not be made or started, 126 when its command cannot be run, 127 when it is not found, as docker's.",
    '',
    ...summary(cmds),
  ];
  for (const [name, c] of cmds) {
    const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`)).join(' ');
    out.push(`## hull ${name}`, '', c.description(), '', '```', `hull ${name}${c.options.length ? ' [options]' : ''}${args ? ` ${args}` : ''}`, '```', '');
    if (c.aliases().length) out.push(`Alias: ${c.aliases().map((a) => `\`${a}\``).join(', ')}`, '');
    const p = PARITY[name];
    out.push(p.docker ? `Beside docker: \`${p.docker}\`${p.note ? `; ${p.note}` : ''}.` : `Hull only${p.note ? `: ${p.note}` : ''}.`, '');
    if (c.options.length) {
      out.push('| option | description | beside docker |', '|---|---|---|');
      for (const o of c.options) {
        const dflt = o.defaultValue !== undefined && !Array.isArray(o.defaultValue) && o.defaultValue !== true ? ` (default: ${o.defaultValue})` : '';
        out.push(`| \`${o.flags}\` | ${cell(o.description)}${dflt} | ${besideDocker(name, o.long ?? o.short ?? '')} |`);
      }
      out.push('');
    }
    const missing = Object.entries(p.dockerOnly ?? {});
    if (missing.length) out.push(`docker's, not taken: ${missing.map(([f, why]) => `\`${f}\` (${why})`).join('; ')}.`, '');
  }
  return out.join('\n');
}

if (process.argv[2]) writeFileSync(process.argv[2], renderCliDocs());
