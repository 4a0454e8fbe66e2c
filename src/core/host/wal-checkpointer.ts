/**
 * WAL checkpoints off the host's event loop.
 *
 * vault.db runs WAL with synchronous=NORMAL: a commit only appends pages to
 * vault.db-wal, and the fsyncs happen when the WAL is checkpointed into vault.db. SQLite
 * does that in the committing connection once the WAL passes 1000 pages — for a busy host
 * every ~130 deliveries — and the copy plus two fsyncs stall the event loop for
 * milliseconds, which is most of secret.get's tail latency. A long-running host hands
 * the checkpoints to a worker thread with its own connection instead: PASSIVE
 * checkpoints never block writers or readers, the commits are the same commits, and
 * durability is unchanged (a checkpoint by another connection is the same checkpoint).
 *
 * The worker starts lazily, after `startAfterCommits` commits, so short-lived hosts
 * (tests, one-shot commands) never start a thread. Until it is ready, and for good if it
 * fails to start or dies, the connection keeps SQLite's automatic checkpoints.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { CheckpointReply, CheckpointRequest, CheckpointWorkerData } from './wal-checkpoint-worker.js';

/** SQLite's default wal_autocheckpoint, restored whenever the worker is not running. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface WalCheckpointerOptions {
  /** Commits before the worker starts. */
  startAfterCommits?: number;
  /**
   * A checkpoint is asked for after this many commits (a delivery commit writes ~8 pages),
   * one at a time. Small, frequent checkpoints keep each fsync short.
   */
  everyCommits?: number;
  /** And at least this often while anything was committed (other writers grow the WAL too). */
  intervalMs?: number;
  /**
   * WAL frames past which the host's own connection finishes a checkpoint itself. Under a
   * steady load the worker's checkpoints never catch up with the last commit, and SQLite
   * rewinds the WAL only after a checkpoint that did, so the WAL would grow for ever. The
   * worker has copied nearly everything by then, so this costs the two fsyncs, once every
   * `catchUpFrames` frames instead of a full checkpoint every 1000.
   */
  catchUpFrames?: number;
}

/** Where the worker is, for tests and diagnostics. `failed` is for good: SQLite checkpoints as it always did. */
export type WalCheckpointerState = 'idle' | 'starting' | 'running' | 'failed' | 'closed';

/**
 * The worker program, loaded by path (it is linted and type-checked like any module). From
 * dist/ it is the compiled file next to this one; the Electron main bundle ships it as its
 * own entry next to index.js (electron.vite.config.ts), where `import.meta.url` is index.js.
 */
const WORKER_URL = new URL('./wal-checkpoint-worker.js', import.meta.url);

export class WalCheckpointer {
  private readonly startAfterCommits: number;
  private readonly everyCommits: number;
  private readonly intervalMs: number;
  private readonly catchUpFrames: number;
  private worker: Worker | null = null;
  private ready = false;
  private failed = false;
  private closed = false;
  private commits = 0;
  private sinceCheckpoint = 0;
  /** A checkpoint was asked for and has not finished: never queue a second one. */
  private checkpointing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly closedFlag = new Int32Array(new SharedArrayBuffer(4));
  /** Resolved now: the worker may start after a chdir. */
  private readonly file: string;

  constructor(
    private readonly db: Database,
    opts: WalCheckpointerOptions = {},
  ) {
    this.file = path.resolve(db.name);
    this.startAfterCommits = opts.startAfterCommits ?? 200;
    this.everyCommits = opts.everyCommits ?? 16;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.catchUpFrames = opts.catchUpFrames ?? 2048;
  }

  /** The host committed a transaction on `db`. */
  committed(): void {
    if (this.closed || this.failed) return;
    this.commits += 1;
    if (!this.worker) {
      if (this.commits >= this.startAfterCommits) this.start();
      return;
    }
    if (this.ready && ++this.sinceCheckpoint >= this.everyCommits && !this.checkpointing) this.checkpoint();
  }

  /** Stops the worker (waiting briefly for it to close its connection) and restores automatic checkpoints. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const worker = this.worker;
    this.worker = null;
    this.restoreAutoCheckpoint();
    if (!worker) return;
    worker.postMessage('close' satisfies CheckpointRequest);
    // Its connection closes before ours, so ours is the last one and cleans up the WAL as
    // it always did. Bounded: at worst the worker is starting or one checkpoint is running.
    Atomics.wait(this.closedFlag, 0, 0, 2000);
    void worker.terminate();
  }

  get state(): WalCheckpointerState {
    if (this.closed) return 'closed';
    if (this.failed) return 'failed';
    if (!this.worker) return 'idle';
    return this.ready ? 'running' : 'starting';
  }

  private start(): void {
    const workerData: CheckpointWorkerData = { file: this.file, closed: this.closedFlag };
    let worker: Worker;
    try {
      worker = new Worker(WORKER_URL, { workerData });
    } catch {
      this.failed = true;
      return;
    }
    worker.unref();
    this.worker = worker;
    worker.on('message', (m: CheckpointReply) => {
      if ('done' in m) {
        this.checkpointing = false;
        if (this.worker !== worker) return;
        if (m.frames >= this.catchUpFrames) this.catchUp();
        if (this.sinceCheckpoint >= this.everyCommits) this.checkpoint();
      } else if ('ready' in m && !this.closed && this.worker === worker) {
        this.ready = true;
        // SQLite's own checkpoint stays as a backstop, far past the catch-up point.
        this.db.pragma(`wal_autocheckpoint = ${this.catchUpFrames * 4}`);
        this.timer = setInterval(() => {
          if (this.sinceCheckpoint > 0 && !this.checkpointing) this.checkpoint();
        }, this.intervalMs);
        this.timer.unref();
      } else if ('failed' in m) {
        this.fail(worker);
      }
    });
    worker.on('error', () => this.fail(worker));
    worker.on('exit', () => this.fail(worker));
  }

  /** Completes the checkpoint from this connection, between its transactions, so the next commit rewinds the WAL. */
  private catchUp(): void {
    try {
      if (this.db.open && !this.db.inTransaction) this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // busy or closing: the next round tries again
    }
  }

  private checkpoint(): void {
    this.sinceCheckpoint = 0;
    this.checkpointing = true;
    this.worker?.postMessage('checkpoint' satisfies CheckpointRequest);
  }

  /** The worker is gone: back to automatic checkpoints for the rest of this host's life. */
  private fail(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.ready = false;
    this.failed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.restoreAutoCheckpoint();
    void worker.terminate();
  }

  private restoreAutoCheckpoint(): void {
    try {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // the connection is closing; nothing to restore
    }
  }
}
