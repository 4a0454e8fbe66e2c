/**
 * A bare HTTP client process for the brokering-proxy tests: one request to the proxy over
 * loopback TCP (`--url`) or its Unix socket (`--socket` + `--path`), then one JSON line on
 * stdout: {status, headers, body} or {error}. Needs nothing but node, so it can be copied
 * into a public directory and run as another user.
 *
 *   node proxy-client.js --url http://127.0.0.1:PORT/binding/path [--method M] [--header 'K: V']… [--body B]
 *   node proxy-client.js --socket /path/proxy.sock --path /binding/path …
 */
import http from 'node:http';

const argv = process.argv.slice(2);
let url: string | undefined;
let socketPath: string | undefined;
let reqPath = '/';
let method = 'GET';
let body: string | undefined;
const headers: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const v = argv[i + 1];
  if (a === '--url') url = v;
  else if (a === '--socket') socketPath = v;
  else if (a === '--path') reqPath = v!;
  else if (a === '--method') method = v!;
  else if (a === '--body') body = v;
  else if (a === '--header') {
    const colon = v!.indexOf(':');
    headers[v!.slice(0, colon).trim().toLowerCase()] = v!.slice(colon + 1).trim();
  } else {
    process.stderr.write(`unknown argument ${a}\n`);
    process.exit(2);
  }
  i++;
}

const options: http.RequestOptions = url
  ? (() => {
      const u = new URL(url);
      return { hostname: u.hostname, port: Number(u.port), path: u.pathname + u.search };
    })()
  : { socketPath: socketPath!, path: reqPath };
const req = http.request({ ...options, method, headers, agent: false });
req.on('error', (err: NodeJS.ErrnoException) => {
  process.stdout.write(JSON.stringify({ error: err.code ?? err.message }) + '\n');
});
req.on('response', (res) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    process.stdout.write(
      JSON.stringify({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) + '\n',
    );
  });
});
req.end(body);
