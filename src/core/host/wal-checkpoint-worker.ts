/**
 * The WAL checkpoint worker (see wal-checkpointer.ts): a worker thread with its own
 * connection to vault.db that only ever checkpoints, never writes.
 *
 * Loaded by path, `new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url))`: from
 * dist/ it sits next to wal-checkpointer.js, and the Electron build emits it as a second
 * entry next to out/main/index.js (electron.vite.config.ts). It therefore imports nothing
 * from this repository, only Node and better-sqlite3 (an external in both), so that the
 * bundler never splits a shared chunk out of it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

export interface CheckpointWorkerData {
  /** The absolute path of vault.db. */
  file: string;
  /** Set to 1 (and notified) once the connection is closed or was never opened. */
  closed: Int32Array;
}

/** Parent → worker. */
export type CheckpointRequest = 'checkpoint' | 'close';

/** Worker → parent. */
export type CheckpointReply = { ready: true } | { done: true; frames: number } | { failed: string };

function markClosed(data: CheckpointWorkerData): void {
  Atomics.store(data.closed, 0, 1);
  Atomics.notify(data.closed, 0);
}

async function open(file: string): Promise<Database> {
  // Imported here, not at the top: a missing or broken native module must become a
  // `failed` reply (the host keeps SQLite's own checkpoints), not a worker that dies
  // before it can say why.
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(file, { fileMustExist: true, timeout: 1000 });
  try {
    db.pragma('wal_autocheckpoint = 0');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

async function run(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('wal-checkpoint-worker.js runs only as a worker thread');
  const data = workerData as CheckpointWorkerData;
  const reply = (m: CheckpointReply): void => port.postMessage(m);
  let db: Database;
  try {
    db = await open(data.file);
  } catch (err) {
    markClosed(data);
    reply({ failed: err instanceof Error ? err.message : String(err) });
    return;
  }
  reply({ ready: true });
  port.on('message', (m: CheckpointRequest) => {
    if (m === 'checkpoint') {
      let frames = 0;
      try {
        const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
        frames = result?.log ?? 0;
      } catch {
        // busy or closing: report nothing copied, the host asks again later
      }
      reply({ done: true, frames });
    } else if (m === 'close') {
      try {
        db.close();
      } catch {
        // already closed
      }
      markClosed(data);
      port.close();
    }
  });
}

await run();
