import { LineSplitter, parseLines } from './lines.js';

/** Read a response body chunk by chunk until it ends (or the signal aborts it). */
export async function readChunks(res: Response, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value) onChunk(value);
  }
}

/** Read a newline-delimited JSON body, one parsed item at a time. */
export async function readJsonLines<T>(res: Response, onItem: (item: T) => void): Promise<void> {
  const decoder = new TextDecoder();
  const lines = new LineSplitter();
  await readChunks(res, (chunk) => {
    for (const item of parseLines<T>(lines.push(decoder.decode(chunk, { stream: true })))) onItem(item);
  });
  for (const item of parseLines<T>(lines.push(decoder.decode()).concat(lines.end()))) onItem(item);
}
