/**
 * Group commit for deliveries: every value is released only after its lease and audit
 * entry are committed, and concurrent deliveries share one transaction, so throughput
 * does not pay one commit per request.
 */
import type { Database, Transaction } from 'better-sqlite3';
import type { AuditFields, AuditEntry } from '../audit/chain.js';
import type { AuditLog } from '../audit/log.js';
import type { Lease, LeaseStore } from '../policy/leases.js';

interface Job {
  lease: Omit<Lease, 'revokedAt'> | null;
  audit: AuditFields[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DeliveryWriter {
  private queue: Job[] = [];
  private scheduled = false;
  /** One batch in one IMMEDIATE transaction; built once, not per flush. */
  private readonly commit: Transaction<(jobs: Job[]) => AuditEntry[]>;

  constructor(
    db: Database,
    private readonly audit: AuditLog,
    private readonly leases: LeaseStore,
    private readonly now: () => number,
    private readonly macKey: () => Buffer | null,
    private readonly onAppended: (entries: AuditEntry[]) => void,
  ) {
    this.commit = db.transaction((jobs: Job[]) => {
      for (const j of jobs) if (j.lease) this.leases.insert(j.lease);
      return this.audit.appendInTransaction(
        jobs.flatMap((j) => j.audit),
        this.now(),
        this.macKey(),
      );
    });
  }

  /** Resolves once the lease and entries are committed; rejects if the commit fails. */
  write(audit: AuditFields[], lease: Omit<Lease, 'revokedAt'> | null = null): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ lease, audit, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    let appended: AuditEntry[];
    try {
      appended = this.commit.immediate(jobs);
    } catch (err) {
      for (const j of jobs) j.reject(err);
      return;
    }
    for (const j of jobs) j.resolve();
    this.onAppended(appended);
  }
}
