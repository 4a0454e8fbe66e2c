/**
 * The approval prompt: who asks (verified by the kernel) for which secret,
 * what it claims, and the decision. Used full-window at `#/approval` and inside the
 * main window's pending dialog.
 */
import { useEffect, useId, useRef, useState } from 'react';
import type { ApprovalView, ProcessView, UiScope } from '../../shared/contract';
import { AppMark, Icon } from '../components/Icon';
import { Badge, Button, MonoText, PasswordInput } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { basename, displayPath, formatCountdown, learnHome, shortHash } from '../lib/format';
import { useEvent, useNow } from '../lib/hooks';

const SCOPES: { value: UiScope; label: string }[] = [
  { value: 'once', label: 'once' },
  { value: '15m', label: '15 min' },
  { value: '1h', label: '1 h' },
  { value: 'until_lock', label: 'until lock' },
  { value: 'always', label: 'always for this program' },
];

/** Allow stays disabled this long after a prompt appears, so a stray click cannot allow. */
export const ALLOW_DELAY_MS = 1000;

function requesterName(a: ApprovalView): string {
  return a.agent ?? a.program;
}

function ProgramBadge({ badge }: { badge: ApprovalView['badge'] }) {
  if (badge === 'known')
    return (
      <Badge tone="green" icon="check" title="This exact program (same SHA-256) was approved before">
        known
      </Badge>
    );
  if (badge === 'changed')
    return (
      <Badge tone="amber" icon="alert" title="Same path, different SHA-256 than when you last approved it">
        changed
      </Badge>
    );
  return (
    <Badge tone="accent" icon="dot" title="First request from this program">
      new
    </Badge>
  );
}

function ProcessLine({ p }: { p: ProcessView }) {
  const path = p.script ?? p.exe;
  return (
    <li className="chain-item">
      <span className="chain-pid num">pid {p.pid}</span>
      {path ? <MonoText full={path} display={displayPath(path, 40)} /> : <span className="muted">unknown executable</span>}
      {p.script && p.exe ? <span className="muted chain-via">via {basename(p.exe)}</span> : null}
    </li>
  );
}

export type Decision = 'allowed' | 'denied' | 'blocked';

export function ApprovalPanel({
  approval: a,
  waiting,
  variant,
  onDecided,
}: {
  approval: ApprovalView;
  /** Other requests waiting behind this one. */
  waiting: number;
  variant: 'popup' | 'inline';
  onDecided?: (id: string, decision: Decision) => void;
}) {
  const now = useNow(250);
  const [scope, setScope] = useState<UiScope>('once');
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState<'allow' | 'deny' | 'block' | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [hasPassword, setHasPassword] = useState(false);
  const pw = useRef<HTMLInputElement>(null);
  const denyRef = useRef<HTMLButtonElement>(null);
  const headId = useId();
  const pwId = useId();

  // A new prompt: reset, focus Deny, arm Allow after the delay.
  useEffect(() => {
    setScope('once');
    setError(null);
    setBusy(null);
    setArmed(false);
    setHasPassword(false);
    if (pw.current) pw.current.value = '';
    denyRef.current?.focus();
    const t = setTimeout(() => setArmed(true), ALLOW_DELAY_MS);
    return () => clearTimeout(t);
  }, [a.id]);

  const left = a.expiresAt - now;
  const expired = left <= 0;
  const unlockOnly = a.needsUnlock && a.coveredByGrant;
  const needsPassword = a.needsUnlock || scope === 'always';

  const decide = async (allow: boolean, block: boolean) => {
    if (busy) return;
    const password = pw.current?.value ?? '';
    if (allow && needsPassword && !password) {
      setError({ code: 'INVALID_ARGUMENT', message: 'Enter the master password first.', hint: null });
      pw.current?.focus();
      return;
    }
    setBusy(allow ? 'allow' : block ? 'block' : 'deny');
    setError(null);
    try {
      await api().decideApproval({
        approvalId: a.id,
        allow,
        scope: allow ? scope : 'once',
        block,
        ...(allow && needsPassword ? { password } : {}),
      });
      onDecided?.(a.id, allow ? 'allowed' : block ? 'blocked' : 'denied');
    } catch (err) {
      const e = toUiError(err);
      setError(e.code === 'WRONG_PASSWORD' ? { ...e, message: 'Wrong password.', hint: 'Check Caps Lock and try again.' } : e);
      if (e.code === 'WRONG_PASSWORD' && pw.current) {
        pw.current.value = '';
        pw.current.focus();
        setHasPassword(false);
      }
      setBusy(null);
    }
  };

  // Esc = Deny in the popup window (the inline dialog uses Esc to close).
  const decideRef = useRef(decide);
  decideRef.current = decide;
  useEffect(() => {
    if (variant !== 'popup') return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        void decideRef.current(false, false);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [variant]);

  const path = a.script ?? a.exe;
  const secretsLabel = a.secrets.length <= 1 ? (a.secrets[0] ?? 'a secret') : `${a.secrets[0]} +${a.secrets.length - 1}`;
  const urgent = left <= 10_000;

  return (
    <section className={`approval approval-${variant}`} aria-labelledby={headId}>
      <header className="approval-head">
        {variant === 'popup' ? <AppMark size={20} /> : null}
        <h1 id={headId} className="approval-title">
          <span className="who">{requesterName(a)}</span> <span className="wants">wants</span>{' '}
          <span className="what" title={a.secrets.join(', ')}>
            {secretsLabel}
          </span>
          {a.count > 1 ? <span className="muted approval-count"> ×{a.count}</span> : null}
        </h1>
        {a.needsUnlock ? (
          <Badge tone="grey" icon="lock" title="The vault is locked: allowing also unlocks it">
            locked
          </Badge>
        ) : null}
        <span
          className={`countdown ${urgent ? 'countdown-urgent' : ''}`}
          role="timer"
          aria-label={expired ? 'Timed out' : `Time left ${formatCountdown(left)}`}
          title="Denied automatically when the time runs out"
        >
          <Icon name="timer" size={14} />
          <span className="num">{expired ? '0:00' : formatCountdown(left)}</span>
        </span>
      </header>

      <dl className="approval-grid">
        <dt>Program</dt>
        <dd>
          <div className="program-line">
            {a.script && a.exe ? (
              <span className="program-name" title={a.exe}>
                {basename(a.exe)}
              </span>
            ) : null}
            {path ? (
              <MonoText full={path} display={displayPath(path, a.script ? 30 : 38)} />
            ) : (
              <span className="muted">executable unknown</span>
            )}
            <span className="spacer" />
            <ProgramBadge badge={a.badge} />
          </div>
          <div className="program-meta num">
            {a.exeSha256 ? (
              <>
                <MonoText full={a.exeSha256} display={`sha256 ${shortHash(a.exeSha256)}`} />
                <span className="sep">·</span>
              </>
            ) : null}
            <span>
              pid <span className="mono">{a.pid}</span>
            </span>
            <span className="sep">·</span>
            <span>
              uid <span className="mono">{a.uid}</span>
            </span>
          </div>
          {a.badge === 'changed' ? (
            <p className="changed-note">
              <Icon name="alert" size={12} /> This program changed since you last allowed it (same path, different SHA-256). Allow only if
              you updated it yourself.
            </p>
          ) : null}
        </dd>

        {a.http ? (
          <>
            <dt>Request</dt>
            <dd>
              <span className="mono">
                {a.http.method} {a.http.host}
                {a.http.path}
              </span>
            </dd>
          </>
        ) : null}

        {a.command ? (
          <>
            <dt>Command</dt>
            <dd>
              {/* In full (it may scroll): a cut-off line could hide what the command really does. */}
              <pre className="argv command-line" title="The command that gets the value in its environment">
                {a.command.line}
              </pre>
              <div className="program-meta">
                {a.command.exe ? (
                  <MonoText full={a.command.exe} display={`runs ${displayPath(a.command.exe, 36)}`} />
                ) : (
                  <span className="muted">executable not resolved</span>
                )}
                <span className="sep">·</span>
                <span>gets the value</span>
                {a.command.agentChosen ? (
                  <Badge tone="amber" icon="alert" title="The agent chose this command (MCP run_with_secrets); it gets the raw value">
                    agent-chosen
                  </Badge>
                ) : null}
              </div>
            </dd>
          </>
        ) : null}

        <dt>Purpose</dt>
        <dd>
          {a.purpose ? (
            <span className="claimed">
              <q>{a.purpose}</q> <span className="claimed-tag">claimed</span>
            </span>
          ) : (
            <span className="muted">none given</span>
          )}
        </dd>

        <dt className="sr-only">Details</dt>
        <dd className="details-dd">
          <details className="details">
            <summary>
              <Icon name="chevronRight" size={12} className="details-chevron" />
              Details <span className="muted">parent chain · argv · cwd</span>
            </summary>
            <div className="details-body">
              <div className="details-label">Parent chain</div>
              {a.parents.length ? (
                <ol className="chain">
                  {a.parents.map((p) => (
                    <ProcessLine key={p.pid} p={p} />
                  ))}
                </ol>
              ) : (
                <div className="muted">not available</div>
              )}
              <div className="details-label">Arguments</div>
              {a.argv.length ? (
                <pre className="argv">{a.argv.map((x) => (/[\s"']/.test(x) ? JSON.stringify(x) : x)).join(' ')}</pre>
              ) : (
                <div className="muted">none</div>
              )}
              <div className="details-label">Working directory</div>
              {a.cwd ? <MonoText full={a.cwd} display={displayPath(a.cwd, 48)} /> : <div className="muted">unknown</div>}
            </div>
          </details>
        </dd>
      </dl>

      {unlockOnly ? (
        <p className="approval-note">
          <Icon name="info" size={14} /> A grant already allows this request. Unlock the vault to deliver it.
        </p>
      ) : (
        <fieldset className="scopes">
          <legend>Allow for</legend>
          <div className="scope-options">
            {SCOPES.map((s) => (
              <label key={s.value} className={`scope ${scope === s.value ? 'checked' : ''}`}>
                <input type="radio" name={`scope-${a.id}`} value={s.value} checked={scope === s.value} onChange={() => setScope(s.value)} />
                <span>{s.label}</span>
                {s.value === 'always' ? (
                  <span className="scope-lock" title="Needs the master password">
                    <Icon name="lock" size={12} />
                    <span className="sr-only">needs the master password</span>
                  </span>
                ) : null}
              </label>
            ))}
          </div>
        </fieldset>
      )}

      {needsPassword ? (
        <div className="approval-password">
          <label htmlFor={pwId} className="approval-password-label">
            {a.needsUnlock ? 'Unlock' : 'Password'}
          </label>
          <div className="approval-password-field">
            <PasswordInput
              inputRef={pw}
              id={pwId}
              label={
                a.needsUnlock
                  ? 'Master password (the vault is locked: allowing also unlocks it)'
                  : 'Master password (needed to allow always)'
              }
              placeholder={a.needsUnlock ? 'Master password — the vault is locked' : 'Master password, to allow always'}
              onValue={(v) => setHasPassword(v.length > 0)}
              invalid={error?.code === 'WRONG_PASSWORD'}
            />
          </div>
        </div>
      ) : null}

      {error ? (
        <div className="approval-error" role="alert">
          <Icon name="alert" size={14} /> {error.message}
          {error.hint ? <span className="muted"> {error.hint}</span> : null}
        </div>
      ) : null}

      <div className="approval-actions">
        <Button
          variant="danger-ghost"
          onClick={() => void decide(false, true)}
          busy={busy === 'block'}
          disabled={!!busy && busy !== 'block'}
          icon="ban"
        >
          Deny &amp; block
        </Button>
        <span className="spacer" />
        <Button
          ref={denyRef}
          onClick={() => void decide(false, false)}
          busy={busy === 'deny'}
          disabled={!!busy && busy !== 'deny'}
          autoFocus
        >
          Deny
        </Button>
        <Button
          variant="primary"
          onClick={() => void decide(true, false)}
          disabled={!armed || expired || (!!busy && busy !== 'allow') || (needsPassword && !hasPassword)}
          busy={busy === 'allow'}
          title={!armed ? 'Available in a moment' : undefined}
        >
          {a.needsUnlock ? 'Unlock & allow' : 'Allow'}
        </Button>
      </div>

      <div className="approval-foot">
        {waiting > 0 ? (
          <span className="queue">
            <Icon name="inbox" size={12} /> {waiting} more {waiting === 1 ? 'request' : 'requests'} waiting
          </span>
        ) : (
          <span className="muted">Closing this window denies the request.</span>
        )}
      </div>
    </section>
  );
}

type Outcome = Decision | 'timeout' | 'elsewhere';

const OUTCOMES: Record<Outcome, { icon: 'checkCircle' | 'xCircle' | 'ban' | 'timer' | 'info'; tone: string; title: string; body: string }> =
  {
    allowed: { icon: 'checkCircle', tone: 'green', title: 'Allowed', body: 'The secret was delivered.' },
    denied: { icon: 'xCircle', tone: 'red', title: 'Denied', body: 'The agent was told no.' },
    blocked: {
      icon: 'ban',
      tone: 'red',
      title: 'Denied and blocked',
      body: 'Future requests from this program are denied without asking. Unblock it in Agents.',
    },
    timeout: { icon: 'timer', tone: 'amber', title: 'Timed out', body: 'Nobody answered in time, so the request was denied.' },
    elsewhere: {
      icon: 'info',
      tone: 'grey',
      title: 'No longer pending',
      body: 'The request was answered elsewhere or withdrawn by the agent.',
    },
  };

function oldest(list: ApprovalView[]): ApprovalView | undefined {
  let best: ApprovalView | undefined;
  for (const a of list) if (!best || a.createdAt < best.createdAt) best = a;
  return best;
}

/**
 * The `#/approval?id=<id>` window (the Electron popup shows one request per window and
 * closes it when it ends). Without `id` (tests, a stray open) it shows the oldest pending
 * request and moves on to the next one.
 */
export function ApprovalWindow({ requestId }: { requestId: string | null }) {
  const [approvals, setApprovals] = useState<ApprovalView[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const decided = useRef(new Map<string, Decision>());
  const lastShown = useRef<ApprovalView | null>(null);

  useEffect(() => {
    document.title = 'Approve request — Agent Keychain';
    api()
      .getAppState({})
      .then((s) => learnHome(s.dataDir))
      .catch(() => {});
    api()
      .listApprovals({})
      .then(setApprovals)
      .catch((err: unknown) => setError(toUiError(err)));
  }, []);
  useEvent('approvalsChanged', setApprovals);

  if (error) {
    return (
      <main className="approval-window approval-empty">
        <Icon name="alert" size={20} />
        <p>{error.message}</p>
      </main>
    );
  }
  if (!approvals) return <main className="approval-window" aria-busy="true" />;

  const current = requestId ? approvals.find((x) => x.id === requestId) : oldest(approvals);
  if (current) {
    lastShown.current = current;
    return (
      <main className="approval-window">
        <ApprovalPanel
          key={current.id}
          approval={current}
          waiting={Math.max(0, approvals.length - 1)}
          variant="popup"
          onDecided={(id, decision) => {
            decided.current.set(id, decision);
            setApprovals((list) => (list ?? []).filter((x) => x.id !== id));
          }}
        />
      </main>
    );
  }

  const last = lastShown.current && (!requestId || lastShown.current.id === requestId) ? lastShown.current : null;
  if (!last) {
    return (
      <main className="approval-window approval-empty">
        <div className="empty-icon">
          <Icon name="check" size={20} />
        </div>
        <p className="empty-title">No pending requests</p>
        <p className="muted">{requestId ? 'This request is no longer pending. ' : ''}You can close this window.</p>
      </main>
    );
  }
  const outcome: Outcome = decided.current.get(last.id) ?? (Date.now() >= last.expiresAt - 1500 ? 'timeout' : 'elsewhere');
  const o = OUTCOMES[outcome];
  return (
    <main className="approval-window approval-empty" data-outcome={outcome}>
      <div className={`outcome-icon outcome-${o.tone}`}>
        <Icon name={o.icon} size={20} />
      </div>
      <p className="empty-title" role="status">
        {o.title}
      </p>
      <p className="outcome-what">
        <span className="strong">{requesterName(last)}</span> <span className="muted">→</span>{' '}
        <span className="strong">{last.secrets.join(', ')}</span>
      </p>
      <p className="muted outcome-body">{o.body}</p>
      {approvals.length > 0 ? (
        <p className="queue">
          <Icon name="inbox" size={12} /> {approvals.length} more {approvals.length === 1 ? 'request' : 'requests'} waiting
        </p>
      ) : (
        <p className="muted small">You can close this window.</p>
      )}
    </main>
  );
}
