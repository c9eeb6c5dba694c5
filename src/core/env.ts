/** Merge KEY=VALUE lists: later entries replace earlier ones with the same key. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...m.values()];
}
