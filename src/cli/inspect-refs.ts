import { exitWith } from './context.js';
import { checkInspectFormat, inspectOne, printJson } from './format.js';
import { inspectData } from './view/go-data.js';

/**
 * docker's inspect verbs: each name in turn; without --format (or with
 * `json`) Hull's records as one JSON array, with a template one line per
 * object over docker's document and Hull's record (view/go-data.ts). A name
 * that fails is reported (`Error: …`) and the others still print; exit 1
 * at the end if any failed.
 */
export async function inspectRefs(refs: string[], format: string | undefined, fetch: (ref: string) => Promise<{ hull: object; docker: object }>): Promise<void> {
  checkInspectFormat(format);
  const json: unknown[] = [];
  let failed = 0;
  for (const ref of refs) {
    try {
      const { hull, docker } = await fetch(ref);
      inspectOne(format, hull, () => inspectData(docker, hull), json);
    } catch (e) {
      failed++;
      process.stderr.write(`Error: ${(e as Error).message}\n`);
    }
  }
  if (!format || format === 'json') printJson(json);
  // As docker's: an empty line when the template printed nothing at all.
  else if (failed === refs.length) process.stdout.write('\n');
  if (failed) exitWith(1);
}
