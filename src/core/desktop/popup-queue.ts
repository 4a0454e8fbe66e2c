/**
 * One approval popup at a time: which pending request the popup shows, what
 * to show next when it ends, and which ids to deny when the popup is closed or cannot be
 * shown. Pure state; the Electron main performs the returned actions.
 */

export type PopupAction =
  /** No popup: nothing pending. */
  | { kind: 'none' }
  /** Open the popup for `id` (none is open). */
  | { kind: 'open'; id: string; waiting: number }
  /** The popup is open: show `id` in it instead. */
  | { kind: 'switch'; id: string; waiting: number }
  /** Still `id`; only the number of waiting requests may have changed. */
  | { kind: 'keep'; id: string; waiting: number }
  /** Close the popup: nothing left to show. */
  | { kind: 'close' };

export interface PopupUpdate {
  action: PopupAction;
  /** Requests that were not pending at the previous update (for notifications). */
  arrived: string[];
}

export class PopupQueue {
  private current: string | null = null;
  private pending: string[] = [];
  /** Requests being denied because their popup was closed or failed: never shown again. */
  private readonly dropped = new Set<string>();

  /** The request the popup shows, or null when it is closed. */
  get showing(): string | null {
    return this.current;
  }

  /** Requests waiting behind the one shown. */
  get waiting(): number {
    return this.candidates().filter((id) => id !== this.current).length;
  }

  /** The pending requests changed (ids oldest first). */
  update(pendingIds: readonly string[]): PopupUpdate {
    const before = new Set(this.pending);
    this.pending = pendingIds.slice();
    for (const id of [...this.dropped]) if (!pendingIds.includes(id)) this.dropped.delete(id);
    const arrived = pendingIds.filter((id) => !before.has(id));
    return { action: this.plan(), arrived };
  }

  /** Show this request now (e.g. picked from the tray menu). */
  focus(id: string): PopupAction {
    if (!this.pending.includes(id) || this.dropped.has(id)) return this.plan();
    const wasOpen = this.current !== null;
    const same = this.current === id;
    this.current = id;
    const waiting = this.waiting;
    return same ? { kind: 'keep', id, waiting } : wasOpen ? { kind: 'switch', id, waiting } : { kind: 'open', id, waiting };
  }

  /** The human closed the popup: returns the request to deny (closing = deny). */
  closed(): string | null {
    return this.drop();
  }

  /** The popup could not be shown: returns the request to deny. */
  failed(): string | null {
    return this.drop();
  }

  /** After `closed`/`failed` and the deny: what to show next. */
  next(): PopupAction {
    return this.plan();
  }

  private drop(): string | null {
    const id = this.current;
    this.current = null;
    if (id !== null) this.dropped.add(id);
    return id;
  }

  private candidates(): string[] {
    return this.pending.filter((id) => !this.dropped.has(id));
  }

  private plan(): PopupAction {
    const candidates = this.candidates();
    if (this.current !== null && candidates.includes(this.current)) {
      return { kind: 'keep', id: this.current, waiting: candidates.length - 1 };
    }
    const wasOpen = this.current !== null;
    const next = candidates[0] ?? null;
    this.current = next;
    if (next === null) return wasOpen ? { kind: 'close' } : { kind: 'none' };
    return { kind: wasOpen ? 'switch' : 'open', id: next, waiting: candidates.length - 1 };
  }
}
