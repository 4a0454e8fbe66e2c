/**
 * Activity: the audit log, newest first. A virtualised list (fixed row height; only the
 * visible rows are in the DOM) loads older pages with `beforeSeq` as the user scrolls,
 * so 100 000 entries stay smooth. New events arrive through `activityAppended`: at the
 * top they slide in; further down they wait behind an "N new events" pill so what the
 * user is reading does not move.
 */
import { useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { ActivityEntry, VerbInput, VerifyView } from '../../shared/contract';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Icon } from '../components/Icon';
import { AlertsBanner } from '../components/lifecycle';
import { Badge, Button, DecisionBadge, Dialog, EmptyState, ErrorNote, Field, IconButton, useSharedNow, useToast } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { basename, formatAbsolute, formatCount, formatLogTime, plural } from '../lib/format';
import { useEvent } from '../lib/hooks';
import { PageHeader } from './common';

export const ROW_HEIGHT = 36;
const PAGE_SIZE = 500;
/** When the user jumps far past what is loaded (dragging the scrollbar), fetch bigger pages. */
const BIG_PAGE_SIZE = 1000;
const OVERSCAN = 8;

type Decision = NonNullable<VerbInput<'queryActivity'>['decision']>;

interface Filters {
  agent: string;
  secret: string;
  decision: Decision | '';
  range: '' | '1h' | '24h' | '7d' | '30d';
  text: string;
}
const NO_FILTERS: Filters = { agent: '', secret: '', decision: '', range: '', text: '' };
const RANGE_MS: Record<Exclude<Filters['range'], ''>, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

const EVENT_LABELS: Record<string, string> = {
  'secret.deliver': 'Secret delivered',
  'secret.create': 'Secret created',
  'secret.policy': 'Lifecycle changed',
  'secret.rotate': 'Secret rotated',
  'secret.retire': 'Version retired',
  'secret.prune': 'Versions pruned',
  'secret.webhook_key': 'Webhook key set',
  'rotation.failed': 'Rotation failed',
  'rotation.due': 'Rotation due',
  'guard.fired': 'Guard fired',
  'guard.set': 'Guard changed',
  'alert.clear': 'Alert dismissed',
  'settings.update': 'Settings changed',
  'audit.export': 'Log exported',
  'proxy.request': 'Proxied request',
  'proxy.deny': 'Proxy denied',
  'policy.import': 'Policy imported',
  'vault.keychain.enable': 'Keychain unlock on',
  'vault.keychain.disable': 'Keychain unlock off',
  'secret.deny': 'Request denied',
  'secret.update': 'Secret saved',
  'secret.delete': 'Secret deleted',
  'secret.reveal': 'Secret revealed',
  'secret.copy': 'Secret copied',
  'approval.request': 'Asked for approval',
  'approval.decide': 'Approval decided',
  'approval.timeout': 'Approval timed out',
  'approval.withdrawn': 'Approval withdrawn',
  'vault.init': 'Vault created',
  'vault.unlock': 'Vault unlocked',
  'vault.lock': 'Vault locked',
  'vault.passwd': 'Password changed',
  'agent.add': 'Agent registered',
  'agent.revoke': 'Agent revoked',
  'agent.block': 'Program blocked',
  'agent.unblock': 'Program unblocked',
  'grant.add': 'Grant added',
  'grant.revoke': 'Grant revoked',
  'lease.revoke': 'Lease revoked',
};

export function eventLabel(event: string): string {
  return EVENT_LABELS[event] ?? event;
}

function toQuery(f: Filters): VerbInput<'queryActivity'> {
  const q: VerbInput<'queryActivity'> = {};
  if (f.agent.trim()) q.agent = f.agent.trim();
  if (f.secret.trim()) q.secret = f.secret.trim();
  if (f.decision) q.decision = f.decision;
  if (f.range) q.sinceMs = Date.now() - RANGE_MS[f.range];
  if (f.text.trim()) q.text = f.text.trim();
  return q;
}

/** Whether a live entry belongs in the current view (mirrors the host's filter). */
function matches(f: Filters, e: ActivityEntry): boolean {
  const has = (hay: string | null, needle: string) => (hay ?? '').toLowerCase().includes(needle.trim().toLowerCase());
  if (f.agent.trim() && e.agent !== f.agent.trim()) return false;
  if (f.secret.trim() && e.secret !== f.secret.trim()) return false;
  if (f.decision && e.decision !== f.decision) return false;
  if (f.range && e.ts < Date.now() - RANGE_MS[f.range]) return false;
  if (f.text.trim()) {
    const hay = [e.agent, e.event, e.secret, e.exe, e.purpose, e.reason, e.decision, e.pid].join(' ');
    if (!has(hay, f.text)) return false;
  }
  return true;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function Activity() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const applied = useDebounced(filters, 200);
  const [entries, setEntries] = useState<ActivityEntry[]>([]);
  const [total, setTotal] = useState(0);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [incoming, setIncoming] = useState<ActivityEntry[]>([]);
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [verify, setVerify] = useState<VerifyView | null>(null);
  const [verifyError, setVerifyError] = useState<UiError | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [registering, setRegistering] = useState<ActivityEntry | null>(null);
  const [blocking, setBlocking] = useState<ActivityEntry | null>(null);
  const [agentNames, setAgentNames] = useState<string[]>([]);
  const [secretNames, setSecretNames] = useState<string[]>([]);
  const listRef = useRef<HTMLDivElement>(null);
  const generation = useRef(0);
  const seen = useRef(new Set<number>());
  const toast = useToast();
  const now = useSharedNow();
  const ids = { agents: useId(), secrets: useId() };

  // ---------------------------------------------------------------- loading pages
  const loadPage = useCallback(
    async (before: number | null, reset: boolean, limit = PAGE_SIZE) => {
      const gen = reset ? ++generation.current : generation.current;
      setLoading(true);
      try {
        const page = await api().queryActivity({ ...toQuery(applied), ...(before ? { beforeSeq: before } : {}), limit });
        if (gen !== generation.current) return;
        if (reset) seen.current = new Set();
        const unseen = page.entries.filter((e) => !seen.current.has(e.seq));
        for (const e of unseen) seen.current.add(e.seq);
        setEntries((prev) => (reset ? unseen : [...prev, ...unseen]));
        setTotal(page.total);
        setNextBefore(page.nextBeforeSeq);
        setError(null);
        setLoaded(true);
      } catch (err) {
        if (gen !== generation.current) return;
        setError(toUiError(err));
        setLoaded(true);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [applied],
  );

  useEffect(() => {
    setIncoming([]);
    setEntries([]);
    setLoaded(false);
    listRef.current?.scrollTo({ top: 0 });
    setScrollTop(0);
    void loadPage(null, true);
  }, [loadPage]);

  const runVerify = useCallback(async () => {
    setVerifying(true);
    try {
      setVerify(await api().verifyActivity({}));
      setVerifyError(null);
    } catch (err) {
      setVerifyError(toUiError(err));
    } finally {
      setVerifying(false);
    }
  }, []);

  useEffect(() => {
    void runVerify();
    api()
      .listAgents({})
      .then((a) => setAgentNames(a.map((x) => x.name)))
      .catch(() => {});
    api()
      .listSecrets({})
      .then((s) => setSecretNames(s.map((x) => x.name)))
      .catch(() => {});
  }, [runVerify]);

  // ---------------------------------------------------------------- viewport
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, [loaded]);

  const frame = useRef(0);
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const top = listRef.current?.scrollTop ?? 0;
      setScrollTop(top);
    });
  };

  const hasMore = nextBefore !== null;
  const rowCount = hasMore ? Math.max(total, entries.length + 1) : entries.length;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);

  // Load older pages while the visible window nears (or is past) what is loaded.
  useEffect(() => {
    if (loading || !hasMore || error) return;
    if (last > entries.length - PAGE_SIZE / 5)
      void loadPage(nextBefore, false, last - entries.length > PAGE_SIZE ? BIG_PAGE_SIZE : PAGE_SIZE);
  }, [last, entries.length, hasMore, loading, nextBefore, loadPage, error]);

  // ---------------------------------------------------------------- live updates
  const mergeIncoming = useCallback((list: ActivityEntry[]) => {
    if (list.length === 0) return;
    setEntries((prev) => [...list, ...prev]);
    setTotal((t) => t + list.length);
    setFresh(new Set(list.map((e) => e.seq)));
    setTimeout(() => setFresh(new Set()), 1600);
  }, []);

  const atTop = scrollTop < ROW_HEIGHT / 2;
  useEvent('activityAppended', (appended) => {
    const list = appended.filter((e) => !seen.current.has(e.seq) && matches(applied, e)).sort((a, b) => b.seq - a.seq);
    for (const e of list) seen.current.add(e.seq);
    if (verify && verify.ok) setVerify({ ...verify, entries: verify.entries + appended.length });
    if (list.length === 0) return;
    if ((listRef.current?.scrollTop ?? 0) < ROW_HEIGHT / 2) mergeIncoming(list);
    else setIncoming((prev) => [...list, ...prev]);
  });

  // Back at the top by hand: show what arrived meanwhile.
  useEffect(() => {
    if (atTop && incoming.length) {
      mergeIncoming(incoming);
      setIncoming([]);
    }
  }, [atTop, incoming, mergeIncoming]);

  const showIncoming = () => {
    listRef.current?.scrollTo({ top: 0 });
    setScrollTop(0);
  };

  // ---------------------------------------------------------------- actions
  const exportLog = async () => {
    setExporting(true);
    try {
      const r = await api().exportActivity({});
      if (r.path) toast.show(`Exported ${plural(r.count, 'entry', 'entries')} to ${basename(r.path)}`);
    } catch (err) {
      toast.show(toUiError(err).message, 'error');
    } finally {
      setExporting(false);
    }
  };

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const filtered = JSON.stringify(filters) !== JSON.stringify(NO_FILTERS);

  const rows = useMemo(() => {
    const out: ReactNode[] = [];
    for (let i = first; i < last; i++) {
      const e = entries[i];
      out.push(
        e ? (
          <ActivityRow
            key={e.seq}
            e={e}
            top={i * ROW_HEIGHT}
            now={now}
            fresh={fresh.has(e.seq)}
            onRegister={setRegistering}
            onBlock={setBlocking}
          />
        ) : (
          <div key={`sk-${i}`} className="log-row log-skeleton" style={{ top: i * ROW_HEIGHT }} aria-hidden="true">
            <span />
            <span />
            <span />
          </div>
        ),
      );
    }
    return out;
  }, [first, last, entries, now, fresh]);

  return (
    <div className="page">
      <PageHeader
        title="Activity"
        meta={<ChainBadge verify={verify} error={verifyError} busy={verifying} onVerify={() => void runVerify()} />}
        actions={
          <Button icon="download" onClick={() => void exportLog()} busy={exporting}>
            Export JSONL
          </Button>
        }
      />
      <AlertsBanner />
      <div className="toolbar filters" role="search" aria-label="Filter activity">
        <div className="search grow">
          <Icon name="search" size={14} />
          <input
            className="input"
            type="search"
            placeholder="Search events"
            aria-label="Search events"
            value={filters.text}
            onChange={(e) => set({ text: e.currentTarget.value })}
          />
        </div>
        <input
          className="input filter-input"
          placeholder="Agent or program"
          aria-label="Filter by agent or program"
          list={ids.agents}
          value={filters.agent}
          onChange={(e) => set({ agent: e.currentTarget.value })}
        />
        <datalist id={ids.agents}>
          {agentNames.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <input
          className="input filter-input"
          placeholder="Secret"
          aria-label="Filter by secret"
          list={ids.secrets}
          value={filters.secret}
          onChange={(e) => set({ secret: e.currentTarget.value })}
        />
        <datalist id={ids.secrets}>
          {secretNames.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <select
          className="select"
          aria-label="Filter by decision"
          value={filters.decision}
          onChange={(e) => set({ decision: e.currentTarget.value as Decision | '' })}
        >
          <option value="">Any decision</option>
          <option value="allow">Allowed</option>
          <option value="deny">Denied</option>
          <option value="block">Blocked</option>
          <option value="failed">Failed</option>
          <option value="ok">OK</option>
        </select>
        <select
          className="select"
          aria-label="Time range"
          value={filters.range}
          onChange={(e) => set({ range: e.currentTarget.value as Filters['range'] })}
        >
          <option value="">Any time</option>
          <option value="1h">Last hour</option>
          <option value="24h">Last 24 hours</option>
          <option value="7d">Last 7 days</option>
          <option value="30d">Last 30 days</option>
        </select>
        {filtered ? (
          <Button variant="ghost" size="sm" onClick={() => setFilters(NO_FILTERS)}>
            Clear
          </Button>
        ) : null}
      </div>

      <div className="log">
        <div className="log-head" role="row">
          <span className="c-time">Time</span>
          <span className="c-who">Agent / program</span>
          <span className="c-event">Event</span>
          <span className="c-secret">Secret</span>
          <span className="c-decision">Decision</span>
          <span className="c-actions" />
        </div>
        {error ? (
          <div className="pad">
            <ErrorNote error={error} onRetry={() => void loadPage(entries.length ? nextBefore : null, entries.length === 0)} />
          </div>
        ) : null}
        {loaded && entries.length === 0 && !hasMore && !error ? (
          filtered ? (
            <EmptyState
              icon="filter"
              title="No events match these filters"
              action={<Button onClick={() => setFilters(NO_FILTERS)}>Clear filters</Button>}
            >
              Try a wider time range or a shorter search.
            </EmptyState>
          ) : (
            <EmptyState icon="activity" title="No activity yet">
              Every request, approval and change is recorded here, in a tamper-evident log. Run <code>akc get NAME</code> from an agent to
              see it live.
            </EmptyState>
          )
        ) : (
          <div className="log-body">
            {incoming.length > 0 ? (
              <button type="button" className="new-pill" onClick={showIncoming}>
                <Icon name="arrowUp" size={12} /> {plural(incoming.length, 'new event')}
              </button>
            ) : null}
            <div
              ref={listRef}
              className="log-scroll"
              onScroll={onScroll}
              role="table"
              aria-label="Activity log"
              aria-rowcount={rowCount}
              tabIndex={0}
            >
              <div className="log-spacer" style={{ height: rowCount * ROW_HEIGHT }}>
                {rows}
              </div>
            </div>
          </div>
        )}
        <div className="log-foot muted num">
          {loaded ? (
            <>
              {formatCount(Math.max(total, entries.length))} {filtered ? 'matching ' : ''}
              {total === 1 ? 'event' : 'events'}
              {hasMore ? <> · {formatCount(entries.length)} loaded</> : null}
            </>
          ) : (
            'Loading…'
          )}
        </div>
      </div>

      {registering ? (
        <RegisterFromActivityDialog
          entry={registering}
          onClose={() => setRegistering(null)}
          onDone={(name) => {
            setRegistering(null);
            toast.show(`Registered ${name}`);
          }}
        />
      ) : null}
      {blocking ? (
        <BlockDialog
          entry={blocking}
          onClose={() => setBlocking(null)}
          onDone={() => {
            setBlocking(null);
            toast.show(`Blocked ${blocking.agent ?? basename(blocking.exe ?? '')}`);
          }}
        />
      ) : null}
    </div>
  );
}

function ChainBadge({
  verify,
  error,
  busy,
  onVerify,
}: {
  verify: VerifyView | null;
  error: UiError | null;
  busy: boolean;
  onVerify: () => void;
}) {
  let badge: ReactNode;
  if (error) {
    badge = (
      <Badge tone="amber" icon="alert" title={error.message}>
        could not verify
      </Badge>
    );
  } else if (!verify) {
    badge = <Badge tone="grey">verifying…</Badge>;
  } else if (verify.ok) {
    badge = (
      <Badge
        tone="green"
        icon="shieldCheck"
        title={`Hash chain intact${verify.macChecked ? ', MAC checked' : ''} · ${verify.checkpointsVerified} checkpoints verified`}
      >
        verified · {formatCount(verify.entries)} entries
      </Badge>
    );
  } else {
    badge = (
      <Badge tone="red" icon="shieldAlert" title={verify.problem ?? 'The log does not match its hash chain'}>
        altered at entry {verify.firstBadSeq !== null ? formatCount(verify.firstBadSeq) : '?'}
      </Badge>
    );
  }
  return (
    <span className="chain-status">
      {badge}
      <IconButton icon="refresh" label="Verify the log again" onClick={onVerify} disabled={busy} className={busy ? 'spinning' : ''} />
    </span>
  );
}

function ActivityRow({
  e,
  top,
  now,
  fresh,
  onRegister,
  onBlock,
}: {
  e: ActivityEntry;
  top: number;
  now: number;
  fresh: boolean;
  onRegister: (e: ActivityEntry) => void;
  onBlock: (e: ActivityEntry) => void;
}) {
  const who = e.agent ?? (e.exe ? basename(e.exe) : null);
  const program = e.exe !== null;
  const whoTitle = [e.agent, e.exe, e.pid !== null ? `pid ${e.pid}` : null].filter(Boolean).join(' · ');
  return (
    <div className={`log-row ${fresh ? 'log-row-new' : ''}`} style={{ top }} role="row" data-seq={e.seq}>
      <span className="c-time num" title={formatAbsolute(e.ts)}>
        {formatLogTime(e.ts, now)}
      </span>
      <span className="c-who" title={whoTitle || undefined}>
        {who ? (
          <>
            {e.agent ? <span className="strong">{e.agent}</span> : <span className="mono">{who}</span>}
            {e.pid !== null ? <span className="muted num"> · {e.pid}</span> : null}
          </>
        ) : (
          <span className="muted">you</span>
        )}
      </span>
      <span className="c-event" title={e.event}>
        {eventLabel(e.event)}
      </span>
      <span
        className="c-secret"
        title={[e.secret, e.purpose ? `“${e.purpose}” (claimed)` : null, e.reason].filter(Boolean).join(' — ') || undefined}
      >
        {e.secret ? <span className="secret-name">{e.secret}</span> : <span className="muted">—</span>}
        {e.version !== null ? <span className="muted num"> v{e.version}</span> : null}
        {e.purpose ? <span className="claimed-inline"> “{e.purpose}”</span> : null}
      </span>
      <span className="c-decision">
        <DecisionBadge decision={e.decision} />
      </span>
      <span className="c-actions">
        {program ? (
          <>
            {!e.agent ? <IconButton icon="userPlus" label="Register as agent…" onClick={() => onRegister(e)} /> : null}
            <IconButton icon="ban" label="Block program" onClick={() => onBlock(e)} />
          </>
        ) : null}
      </span>
    </div>
  );
}

function suggestName(e: ActivityEntry): string {
  const base = basename(e.exe ?? 'agent')
    .replace(/\.[a-z]+$/i, '')
    .replace(/[^A-Za-z0-9_.-]/g, '-');
  return /^[A-Za-z0-9]/.test(base) ? base.slice(0, 64) : `agent-${base}`.slice(0, 64);
}

function RegisterFromActivityDialog({
  entry,
  onClose,
  onDone,
}: {
  entry: ActivityEntry;
  onClose: () => void;
  onDone: (name: string) => void;
}) {
  const [name, setName] = useState(() => suggestName(entry));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const id = useId();
  const ok = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name);
  const submit = async () => {
    if (!ok || busy) return;
    setBusy(true);
    try {
      const a = await api().registerAgentFromActivity({ auditSeq: entry.seq, name });
      onDone(a.name);
    } catch (err) {
      setError(toUiError(err));
      setBusy(false);
    }
  };
  return (
    <Dialog
      title="Register as agent"
      onClose={onClose}
      description={
        <>
          Future requests from <span className="mono">{entry.exe}</span> with the same SHA-256 will show this name.
        </>
      }
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void submit()} disabled={!ok} busy={busy}>
            Register
          </Button>
        </>
      }
    >
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          void submit();
        }}
      >
        <Field
          label="Agent name"
          htmlFor={id}
          error={name && !ok ? 'Letters, digits, _ . - (starting with a letter or digit).' : undefined}
        >
          <input id={id} className="input" value={name} autoFocus spellCheck={false} onChange={(ev) => setName(ev.currentTarget.value)} />
        </Field>
        {error ? <ErrorNote error={error} /> : null}
      </form>
    </Dialog>
  );
}

function BlockDialog({ entry, onClose, onDone }: { entry: ActivityEntry; onClose: () => void; onDone: () => void }) {
  const who = entry.agent ?? basename(entry.exe ?? 'this program');
  return (
    <ConfirmDialog
      title={`Block ${who}?`}
      onClose={onClose}
      description={
        <>
          Every request from {entry.agent ? 'this agent' : <span className="mono">{entry.exe}</span>} will be denied without asking you. You
          can unblock it in Agents.
        </>
      }
      confirmIcon="ban"
      confirmLabel="Block program"
      action={() => api().blockRequester({ auditSeq: entry.seq })}
      onDone={onDone}
    />
  );
}
