/** Read one line from stdin (or all of it, up to EOF, when it has no newline). */
export function readStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let buf = '';
    const done = (text: string) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      resolve(text);
    };
    const onData = (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', reject);
    stdin.resume();
  });
}

/** All of stdin, to EOF. */
export async function readStdinAll(): Promise<string> {
  let text = '';
  for await (const c of process.stdin) text += (c as Buffer).toString();
  return text;
}

/** Ask on the terminal; without `echo` the typed text is not shown (passwords). */
export async function readSecret(prompt: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new Error('cannot ask for a login on a non-terminal stdin: use -u and --password-stdin');
  process.stderr.write(prompt);
  if (echo) return (await readStdinLine()).replace(/\r$/, '');
  stdin.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (b: Buffer) => {
        for (const ch of b.toString()) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(text);
          }
          if (ch === '\u0003') return reject(new Error('interrupted'));
          if (ch === '\u007f') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** docker's prune prompt on stderr: "WARNING! This will remove WHAT. … [y/N]"; true only for y or yes. */
export async function confirmRemoval(what: string): Promise<boolean> {
  process.stderr.write(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
  return /^y(es)?$/i.test((await readStdinLine()).trim());
}
