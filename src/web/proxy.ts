import http, { type IncomingMessage, type ServerResponse } from 'node:http';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);
/** Request headers the API needs; cookies and everything else stay here. */
const FORWARD = ['content-type', 'content-length', 'accept', 'transfer-encoding'];
/** Response headers the browser gets from the API. */
const BACK = ['content-type', 'content-length', 'content-disposition', 'cache-control', 'transfer-encoding'];

/**
 * The dashboard's `/v1/*`: the same REST API, passed through to the daemon's
 * socket unchanged, bodies and long streams (events, logs -f, pull progress)
 * piped both ways with their back-pressure. A browser that goes away ends the
 * API request (a followed log stops); an API that fails answers 502.
 */
export function proxyToApi(socketPath: string, req: IncomingMessage, res: ServerResponse, onError: (e: Error) => void): void {
  if (!METHODS.has(req.method ?? '')) {
    json(res, 405, { code: 'invalid', message: `method ${req.method} is not allowed` });
    req.resume();
    return;
  }
  const headers: Record<string, string> = { host: 'hull' };
  for (const h of FORWARD) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const up = http.request({ socketPath, method: req.method, path: req.url, headers }, (ans) => {
    const out: Record<string, string> = {};
    for (const h of BACK) {
      const v = ans.headers[h];
      if (typeof v === 'string') out[h] = v;
    }
    res.writeHead(ans.statusCode ?? 502, out);
    // A stream with nothing to say yet (events after a restart, a quiet followed log) still answers at once.
    res.flushHeaders();
    ans.pipe(res);
    ans.on('error', () => res.destroy());
  });
  up.on('error', (e) => {
    if (res.headersSent) res.destroy();
    else json(res, 502, { code: 'unavailable', message: `the daemon's API did not answer: ${e.message}` });
    onError(e);
  });
  // The browser went away (a closed tab, a followed log left): the API request goes too.
  res.on('close', () => up.destroy());
  req.pipe(up);
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
