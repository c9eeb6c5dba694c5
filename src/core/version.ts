/** Hull's version: the daemon's and the CLI's (one build makes both). */
export const VERSION = '0.1.0';
