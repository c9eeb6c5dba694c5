/**
 * The CLI's entry point. Set-up bundles it with esbuild into one CommonJS file
 * (dist/hull-cli.cjs) that bin/hull loads: one file instead of a graph of ES
 * modules takes about 30 ms off every command.
 */
import { main } from './main.js';

void main(process.argv);
