/**
 * A bare protocol peer for tests that run it as another user: only node builtins, so it
 * can be copied anywhere and run without access to the project. Connects to the socket
 * in argv[2], sends hello (and secret.get for argv[3] if given) and prints one JSON line:
 *   {"connected":true,"lines":["…"],"closed":true,"error":null}
 * It stops once every request was answered or the host closed the connection.
 */
import net from 'node:net';

const [socketPath, secret] = process.argv.slice(2);
const summary = { connected: false, lines: [] as string[], closed: false, error: null as string | null };
const unanswered = new Set<number>([1]);
let buffered = '';
let finished = false;

const socket = net.createConnection({ path: socketPath! });
const timer = setTimeout(() => finish(), 10_000);

function finish(): void {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  if (buffered) summary.lines.push(buffered);
  process.stdout.write(JSON.stringify(summary) + '\n');
  socket.destroy();
}

socket.on('connect', () => {
  summary.connected = true;
  socket.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: {} }) + '\n');
  if (secret) {
    unanswered.add(2);
    socket.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'secret.get', params: { name: secret } }) + '\n');
  }
});
socket.on('data', (chunk: Buffer) => {
  buffered += chunk.toString('utf8');
  let nl;
  while ((nl = buffered.indexOf('\n')) !== -1) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    summary.lines.push(line);
    try {
      const msg = JSON.parse(line) as { id?: unknown; result?: unknown; error?: unknown };
      if (typeof msg.id === 'number' && ('result' in msg || 'error' in msg)) unanswered.delete(msg.id);
    } catch {
      // recorded as is
    }
  }
  if (unanswered.size === 0) finish();
});
socket.on('error', (err: NodeJS.ErrnoException) => {
  summary.error = err.code ?? err.message;
});
socket.on('close', () => {
  summary.closed = true;
  finish();
});
