/**
 * Build Hull's built-in busybox:latest image as an OCI image layout.
 *
 *   node dist/scripts/build-busybox-image.js <outDir>
 *
 * Uses the host's static busybox (Debian: busybox-static). Idempotent: when
 * <outDir> already holds this exact image it writes nothing.
 */
import { buildBusyboxLayout } from '../src/image/busybox-layout.js';

async function main(): Promise<void> {
  const [outDir, busybox] = process.argv.slice(2);
  if (!outDir) {
    process.stderr.write('usage: build-busybox-image <outDir> [path to busybox, default /bin/busybox]\n');
    process.exit(2);
  }
  const r = await buildBusyboxLayout(outDir, busybox);
  process.stdout.write(r.changed ? `built busybox:latest in ${outDir} (${r.manifestDigest})\n` : `${outDir} is up to date (${r.manifestDigest})\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`build-busybox-image: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
