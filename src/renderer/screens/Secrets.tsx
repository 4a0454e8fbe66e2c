/**
 * Secrets: a dense table with search and type filter; a side panel with metadata,
 * versions, grants and actions. Values never reach the renderer except through an
 * explicit, confirmed reveal, and are dropped again after 30 s.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { SecretDetail, SecretLifecycleView, SecretRow } from '../../shared/contract';
import { SECRET_TYPES, secretNameProblem, type SecretType } from '../../shared/secrets';
import { useAsyncAction } from '../components/ConfirmDialog';
import { Icon } from '../components/Icon';
import { LifecycleBadge, useLifecycle } from '../components/lifecycle';
import {
  Badge,
  Button,
  Dialog,
  EmptyState,
  ErrorNote,
  Field,
  IconButton,
  RelTime,
  Spinner,
  useSharedNow,
  useToast,
} from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { formatAbsolute, formatCountdown, formatCount, formatDuration, formatRelative, sentence } from '../lib/format';
import { replaceRoute, useEvent, useLoad, useNow } from '../lib/hooks';
import { GrantScope, PageHeader, TimeLeft, TYPE_LABELS } from './common';

export const REVEAL_SECONDS = 30;
/** The core's default grace period (src/core/lifecycle/policy.ts DEFAULT_GRACE_MS). */
const DEFAULT_GRACE_MS = 60 * 60 * 1000;

function UsedBy({ names }: { names: string[] }) {
  if (names.length === 0) return <span className="muted">—</span>;
  const shown = names.slice(0, 2).join(', ');
  return (
    <span title={names.join(', ')}>
      {shown}
      {names.length > 2 ? <span className="muted"> +{names.length - 2}</span> : null}
    </span>
  );
}

/** `rotateRequest`: from `#/secrets?rotate=NAME` (the tray's "Rotate ›"): opens the rotate dialog. */
export function Secrets({ rotateRequest }: { rotateRequest: string | null }) {
  const list = useLoad(() => api().listSecrets({}));
  const lifecycle = useLifecycle();
  const [query, setQuery] = useState('');
  const [type, setType] = useState<SecretType | ''>('');
  const [selected, setSelected] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [rotating, setRotating] = useState<string | null>(null);
  const toast = useToast();

  useEvent('secretsChanged', () => void list.reload());

  // A one-shot request from the tray: open the secret and its rotate dialog, then drop the
  // query so the same tray item works again.
  useEffect(() => {
    if (!rotateRequest || !list.data) return;
    replaceRoute('/secrets');
    if (list.data.some((s) => s.name === rotateRequest)) {
      setSelected(rotateRequest);
      setRotating(rotateRequest);
    } else {
      toast.show(`There is no secret named ${rotateRequest}`, 'error');
    }
  }, [rotateRequest, list.data, toast]);

  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (list.data ?? [])
      .filter((s) => !type || s.type === type)
      .filter(
        (s) =>
          !q ||
          s.name.toLowerCase().includes(q) ||
          s.description.toLowerCase().includes(q) ||
          s.owner.toLowerCase().includes(q) ||
          s.tags.some((t) => t.toLowerCase().includes(q)),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [list.data, query, type]);

  const total = list.data?.length ?? 0;
  const filtered = query !== '' || type !== '';

  return (
    <div className="page">
      <PageHeader
        title="Secrets"
        meta={list.data ? <span className="num">{formatCount(total)}</span> : null}
        actions={
          <Button variant="primary" icon="plus" onClick={() => setAdding(true)}>
            Add secret
          </Button>
        }
      />
      <div className="toolbar">
        <div className="search">
          <Icon name="search" size={14} />
          <input
            className="input"
            type="search"
            placeholder="Search names, descriptions, tags"
            aria-label="Search secrets"
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
          />
        </div>
        <select
          className="select"
          aria-label="Filter by type"
          value={type}
          onChange={(e) => setType(e.currentTarget.value as SecretType | '')}
        >
          <option value="">All types</option>
          {SECRET_TYPES.map((t) => (
            <option key={t} value={t}>
              {TYPE_LABELS[t]}
            </option>
          ))}
        </select>
      </div>
      <div className={`split ${selected ? 'split-open' : ''}`}>
        <div className="table-wrap">
          {list.error ? (
            <div className="pad">
              <ErrorNote error={list.error} onRetry={() => void list.reload()} />
            </div>
          ) : !list.data ? (
            <Spinner label="Loading secrets" />
          ) : total === 0 ? (
            <EmptyState
              icon="key"
              title="No secrets yet"
              action={
                <Button variant="primary" icon="plus" onClick={() => setAdding(true)}>
                  Add secret
                </Button>
              }
            >
              Add your first secret here, or from a terminal with <code>akc secret set NAME</code>. Agents ask for it by name.
            </EmptyState>
          ) : rows.length === 0 ? (
            <EmptyState
              icon="search"
              title="No secrets match"
              action={
                <Button
                  onClick={() => {
                    setQuery('');
                    setType('');
                  }}
                >
                  Clear filters
                </Button>
              }
            >
              Nothing matches {query ? <>“{query}”</> : 'this filter'}
              {type ? <> in {TYPE_LABELS[type]}</> : null}.
            </EmptyState>
          ) : (
            <table className="table" aria-label="Secrets">
              <thead>
                <tr>
                  <th className="col-name">Name</th>
                  <th className="col-type">Type</th>
                  <th className="col-status">Status</th>
                  <th className="col-used">Last used</th>
                  <th className="col-by">Used by</th>
                  <th className="col-ver num">Version</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => (
                  <SecretRowView
                    key={s.name}
                    s={s}
                    l={lifecycle.byName.get(s.name)}
                    selected={selected === s.name}
                    onOpen={() => setSelected(s.name)}
                  />
                ))}
              </tbody>
            </table>
          )}
          {filtered && rows.length > 0 ? (
            <div className="table-foot muted num">
              {formatCount(rows.length)} of {formatCount(total)}
            </div>
          ) : null}
        </div>
        {selected ? (
          <SecretPanel
            key={selected}
            name={selected}
            lifecycle={lifecycle.byName.get(selected)}
            onRotate={() => setRotating(selected)}
            onClose={() => setSelected(null)}
            onDeleted={() => setSelected(null)}
          />
        ) : null}
      </div>
      {adding ? (
        <SecretFormDialog
          mode="add"
          existing={new Set((list.data ?? []).map((s) => s.name))}
          onClose={() => setAdding(false)}
          onSaved={(name, version) => {
            setAdding(false);
            toast.show(`Saved ${name} · v${version}`);
            void list.reload();
            setSelected(name);
          }}
        />
      ) : null}
      {rotating ? (
        <RotateDialog
          name={rotating}
          lifecycle={lifecycle.byName.get(rotating)}
          onClose={() => setRotating(null)}
          onRotated={() => {
            void list.reload();
            lifecycle.reload();
          }}
        />
      ) : null}
    </div>
  );
}

function SecretRowView({
  s,
  l,
  selected,
  onOpen,
}: {
  s: SecretRow;
  l: SecretLifecycleView | undefined;
  selected: boolean;
  onOpen: () => void;
}) {
  return (
    <tr
      className={`row ${selected ? 'selected' : ''}`}
      tabIndex={0}
      aria-selected={selected}
      onClick={onOpen}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onOpen();
        }
      }}
    >
      <td className="col-name">
        <div className="cell-name">
          <span className="secret-name">{s.name}</span>
          {s.description ? <span className="cell-desc">{s.description}</span> : null}
        </div>
      </td>
      <td className="col-type">
        <span className="type-tag">{TYPE_LABELS[s.type]}</span>
      </td>
      <td className="col-status">
        <LifecycleBadge l={l} />
      </td>
      <td className="col-used">
        <RelTime ms={s.lastUsedAt} />
      </td>
      <td className="col-by">
        <UsedBy names={s.usedBy} />
      </td>
      <td className="col-ver num">v{s.currentVersion}</td>
    </tr>
  );
}

// ------------------------------------------------------------------------------ panel

interface Revealed {
  version: number;
  value: string;
  until: number;
}

function SecretPanel({
  name,
  lifecycle,
  onRotate,
  onClose,
  onDeleted,
}: {
  name: string;
  lifecycle: SecretLifecycleView | undefined;
  onRotate: () => void;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const detail = useLoad(() => api().getSecretDetail({ name }), [name]);
  const [confirmReveal, setConfirmReveal] = useState<number | null>(null);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [actionError, setActionError] = useState<UiError | null>(null);
  const toast = useToast();
  const now = useSharedNow();
  const headId = useId();
  const closeRef = useRef<HTMLButtonElement>(null);

  useEvent('secretsChanged', () => void detail.reload());

  // Drop the value when the time is up (and on unmount, with the component's state).
  useEffect(() => {
    if (!revealed) return;
    const t = setTimeout(() => setRevealed(null), Math.max(0, revealed.until - Date.now()));
    return () => clearTimeout(t);
  }, [revealed]);

  useEffect(() => {
    closeRef.current?.focus();
  }, []);

  const copy = async (version?: number) => {
    setActionError(null);
    try {
      const r = await api().copySecret(version ? { name, version } : { name });
      toast.show(`Copied · clears in ${r.clearsInSeconds} s`);
    } catch (err) {
      setActionError(toUiError(err));
    }
  };

  const reveal = async (version: number) => {
    setConfirmReveal(null);
    setActionError(null);
    try {
      const r = await api().revealSecret({ name, version });
      setRevealed({ version: r.version, value: r.value, until: Date.now() + REVEAL_SECONDS * 1000 });
    } catch (err) {
      setActionError(toUiError(err));
    }
  };

  const d: SecretDetail | null = detail.data;
  return (
    <aside
      className="panel"
      aria-labelledby={headId}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && !e.defaultPrevented) onClose();
      }}
    >
      <div className="panel-head">
        <div className="panel-title-wrap">
          <h2 className="panel-title" id={headId}>
            {name}
          </h2>
          {d ? (
            <div className="panel-sub">
              <span className="type-tag">{TYPE_LABELS[d.type]}</span>
              <span className="num">v{d.currentVersion}</span>
              <span className="sep">·</span>
              <span>
                updated <RelTime ms={d.updatedAt} />
              </span>
            </div>
          ) : null}
        </div>
        <IconButton ref={closeRef} icon="x" label="Close details" onClick={onClose} />
      </div>
      {detail.error ? (
        <div className="pad">
          <ErrorNote error={detail.error} onRetry={() => void detail.reload()} />
        </div>
      ) : !d ? (
        <Spinner label="Loading" />
      ) : (
        <div className="panel-body">
          {d.description ? <p className="panel-desc">{d.description}</p> : <p className="panel-desc muted">No description.</p>}

          <div className="panel-actions">
            <Button size="sm" icon="copy" onClick={() => void copy()}>
              Copy
            </Button>
            <Button size="sm" icon="edit" onClick={() => setEditing(true)}>
              Edit
            </Button>
            <Button size="sm" icon="refresh" onClick={onRotate}>
              Rotate…
            </Button>
            <span className="spacer" />
            <Button size="sm" variant="danger-ghost" icon="trash" onClick={() => setDeleting(true)}>
              Delete
            </Button>
          </div>
          <ErrorNote error={actionError} />

          <section className="panel-section">
            <h3 className="section-label">Value</h3>
            {revealed && revealed.version === d.currentVersion ? (
              <RevealedValue revealed={revealed} onHide={() => setRevealed(null)} />
            ) : (
              <div className="value-box">
                <span className="value-mask" aria-label="Hidden value">
                  ••••••••••••••••••••
                </span>
                <Button size="sm" variant="ghost" icon="eye" onClick={() => setConfirmReveal(d.currentVersion)}>
                  Reveal
                </Button>
              </div>
            )}
          </section>

          <LifecycleSection l={lifecycle} owner={d.owner} now={now} />

          <section className="panel-section">
            <h3 className="section-label">Details</h3>
            <dl className="meta">
              <dt>Tags</dt>
              <dd>
                {d.tags.length ? (
                  <span className="tags">
                    {d.tags.map((t) => (
                      <span key={t} className="tag">
                        {t}
                      </span>
                    ))}
                  </span>
                ) : (
                  <span className="muted">—</span>
                )}
              </dd>
              <dt>Created</dt>
              <dd>
                <RelTime ms={d.createdAt} />
              </dd>
              <dt>Last used</dt>
              <dd>
                <RelTime ms={d.lastUsedAt} />
              </dd>
              <dt>Used by</dt>
              <dd>
                <UsedBy names={d.usedBy} />
              </dd>
            </dl>
          </section>

          <section className="panel-section">
            <h3 className="section-label">
              Versions <span className="muted num">{d.versions.length}</span>
            </h3>
            <ul className="list">
              {[...d.versions]
                .sort((a, b) => b.version - a.version)
                .map((v) => (
                  <li key={v.version} className="list-row">
                    <span className="num ver">v{v.version}</span>
                    {v.state === 'current' ? <Badge tone="accent">current</Badge> : <Badge tone="neutral">{v.state}</Badge>}
                    <RelTime ms={v.createdAt} />
                    <span className="spacer" />
                    {v.state !== 'retired' ? (
                      <>
                        <IconButton icon="copy" label={`Copy v${v.version}`} onClick={() => void copy(v.version)} />
                        {v.state !== 'current' ? (
                          <IconButton icon="eye" label={`Reveal v${v.version}`} onClick={() => setConfirmReveal(v.version)} />
                        ) : null}
                      </>
                    ) : null}
                  </li>
                ))}
            </ul>
            {revealed && revealed.version !== d.currentVersion ? (
              <RevealedValue revealed={revealed} onHide={() => setRevealed(null)} />
            ) : null}
          </section>

          <section className="panel-section">
            <h3 className="section-label">
              Grants <span className="muted num">{d.grants.length}</span>
            </h3>
            {d.grants.length === 0 ? (
              <p className="muted small">No standing grants. Each request asks you first.</p>
            ) : (
              <ul className="list">
                {d.grants.map((g) => (
                  <li key={g.id} className="list-row">
                    {g.effect === 'deny' ? (
                      <Badge tone="red" icon="ban">
                        blocked
                      </Badge>
                    ) : null}
                    <span className="grant-who" title={g.exePath ?? undefined}>
                      {g.requester}
                    </span>
                    <span className="muted">
                      <GrantScope grant={g} />
                    </span>
                    <span className="spacer" />
                    {g.scope === 'duration' ? <TimeLeft expiresAt={g.expiresAt} now={now} /> : null}
                    <Button
                      size="sm"
                      variant="ghost"
                      onClick={() =>
                        api()
                          .revokeGrant({ id: g.id })
                          .then(() => {
                            toast.show('Grant revoked');
                            void detail.reload();
                          })
                          .catch((err: unknown) => setActionError(toUiError(err)))
                      }
                    >
                      Revoke
                    </Button>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}

      {confirmReveal !== null && d ? (
        <Dialog
          title={`Reveal ${name}?`}
          onClose={() => setConfirmReveal(null)}
          description={
            <>
              The value{confirmReveal !== d.currentVersion ? ` of version ${confirmReveal}` : ''} will be shown on screen for{' '}
              {REVEAL_SECONDS} seconds, then hidden again. Check that nobody is watching and that you are not sharing your screen.
            </>
          }
          footer={
            <>
              <Button onClick={() => setConfirmReveal(null)} autoFocus>
                Cancel
              </Button>
              <Button variant="primary" icon="eye" onClick={() => void reveal(confirmReveal)}>
                Reveal for {REVEAL_SECONDS} s
              </Button>
            </>
          }
        />
      ) : null}
      {editing && d ? (
        <SecretFormDialog
          mode="edit"
          initial={d}
          onClose={() => setEditing(false)}
          onSaved={(n, version) => {
            setEditing(false);
            setRevealed(null);
            toast.show(version > d.currentVersion ? `Saved ${n} · new version v${version}` : `Saved ${n}`);
            void detail.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <DeleteDialog
          name={name}
          onClose={() => setDeleting(false)}
          onDeleted={() => {
            setDeleting(false);
            toast.show(`Deleted ${name}`);
            onDeleted();
          }}
        />
      ) : null}
    </aside>
  );
}

function When({ ms, now, empty = '—' }: { ms: number | null; now: number; empty?: string }) {
  if (ms === null) return <span className="muted">{empty}</span>;
  return (
    <time className="num" dateTime={new Date(ms).toISOString()} title={formatAbsolute(ms)}>
      {formatRelative(ms, now)}
    </time>
  );
}

/** Owner, purpose, expiry and the rotation schedule (metadata only). */
function LifecycleSection({ l, owner, now }: { l: SecretLifecycleView | undefined; owner: string; now: number }) {
  const scheduled = l && (l.rotator !== null || l.rotateEveryMs !== null);
  return (
    <section className="panel-section" aria-label="Lifecycle">
      <h3 className="section-label">
        Lifecycle
        {l?.badge ? (
          <span className="section-label-badge">
            <LifecycleBadge l={l} quiet />
          </span>
        ) : null}
      </h3>
      <dl className="meta">
        <dt>Owner</dt>
        <dd>{l?.owner || owner || <span className="muted">—</span>}</dd>
        <dt>Purpose</dt>
        <dd>{l?.purpose ? l.purpose : <span className="muted">—</span>}</dd>
        <dt>Expires</dt>
        <dd>
          <When ms={l?.expiresAt ?? null} now={now} empty="never" />
        </dd>
        <dt>Rotator</dt>
        <dd>{l?.rotator ? <span className="mono">{l.rotator}</span> : <span className="muted">manual (you enter the new value)</span>}</dd>
        {scheduled ? (
          <>
            <dt>Every</dt>
            <dd className="num">{l.rotateEveryMs !== null ? formatDuration(l.rotateEveryMs) : <span className="muted">on demand</span>}</dd>
            <dt>Grace</dt>
            <dd className="num" title="How long the previous version stays valid after a rotation">
              {formatDuration(l.graceMs ?? DEFAULT_GRACE_MS)}
              {l.graceMs === null ? <span className="muted"> (default)</span> : null}
            </dd>
            <dt>Last rotation</dt>
            <dd>
              <When ms={l.lastRotatedAt} now={now} empty="never" />
            </dd>
            <dt>Next rotation</dt>
            <dd>
              {l.rotationPendingAt !== null ? (
                <span>
                  waiting for the new value since <When ms={l.rotationPendingAt} now={now} />
                </span>
              ) : (
                <When ms={l.nextRotationAt} now={now} empty="not scheduled" />
              )}
            </dd>
          </>
        ) : null}
        {l?.canary ? (
          <>
            <dt>Canary</dt>
            <dd>Any request for it fires the anomaly guard.</dd>
          </>
        ) : null}
      </dl>
      {!scheduled ? (
        <p className="small muted panel-note">
          No rotation schedule. Set one with <code>akc secret policy {l?.name ?? 'NAME'} --rotate-every 30d</code>.
        </p>
      ) : null}
    </section>
  );
}

/**
 * Rotate now. Manual secrets (or no rotator, or a webhook that is waiting) take
 * the new value in a masked, uncontrolled field; other rotators ask for a confirmation.
 * The result shows the new version number, never a value.
 */
function RotateDialog({
  name,
  lifecycle: l,
  onClose,
  onRotated,
}: {
  name: string;
  lifecycle: SecretLifecycleView | undefined;
  onClose: () => void;
  onRotated: () => void;
}) {
  const kind = l?.rotatorKind ?? null;
  const waiting = l?.rotationPendingAt !== null && l?.rotationPendingAt !== undefined;
  const byValue = kind === null || kind === 'manual' || (kind === 'webhook' && waiting);
  const [busy, setBusy] = useState(false);
  const [hasValue, setHasValue] = useState(false);
  const [showValue, setShowValue] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [result, setResult] = useState<{ kind: 'rotated'; version: number } | { kind: 'pending' } | null>(null);
  const valueRef = useRef<HTMLInputElement>(null);
  const id = useId();
  const grace = formatDuration(l?.graceMs ?? DEFAULT_GRACE_MS);

  const rotate = async (withValue: boolean) => {
    if (busy) return;
    const value = withValue ? (valueRef.current?.value ?? '') : '';
    if (withValue && !value) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api().rotateSecret(withValue ? { name, value } : { name });
      if (valueRef.current) valueRef.current.value = '';
      setResult(r.kind === 'rotated' ? { kind: 'rotated', version: r.version } : { kind: 'pending' });
      onRotated();
    } catch (err) {
      setError(toUiError(err));
    } finally {
      setBusy(false);
    }
  };

  if (result) {
    return (
      <Dialog
        title={result.kind === 'rotated' ? `Rotated ${name}` : `Rotation of ${name} started`}
        onClose={onClose}
        footer={
          <Button variant="primary" onClick={onClose} autoFocus>
            Done
          </Button>
        }
      >
        <div className="rotate-result" role="status">
          {result.kind === 'rotated' ? (
            <>
              <Badge tone="green" icon="checkCircle">
                now <span className="num">v{result.version}</span>
              </Badge>
              <p>
                Agents get version {result.version} from now on. The previous version stays valid for {grace}, so running agents keep
                working.
              </p>
            </>
          ) : (
            <>
              <Badge tone="amber" icon="clock">
                waiting
              </Badge>
              <p>The webhook accepted the request and will deliver the new value later. You can also enter it here when you have it.</p>
            </>
          )}
        </div>
      </Dialog>
    );
  }

  const description = byValue ? (
    kind === 'webhook' ? (
      <>The webhook has not delivered the new value yet. Paste it here, or call the webhook again.</>
    ) : (
      <>
        Create the new credential where it is issued, then paste it here. It is saved as a new version; the current one stays valid for{' '}
        {grace}.
      </>
    )
  ) : kind === 'generate' ? (
    <>
      A new random value is generated ({l?.rotator}). The current version stays valid for {grace}.
    </>
  ) : kind === 'command' ? (
    <>
      Runs <span className="mono">{l?.rotator}</span> with the current value on its input; what it prints becomes the new version. The
      current version stays valid for {grace}.
    </>
  ) : (
    <>
      Calls <span className="mono">{l?.rotator}</span>; the service answers with the new value (or sends it later). The current version
      stays valid for {grace}.
    </>
  );

  return (
    <Dialog
      title={`Rotate ${name}`}
      onClose={onClose}
      width={480}
      description={description}
      footer={
        <>
          <Button onClick={onClose} autoFocus={!byValue}>
            Cancel
          </Button>
          {byValue && kind === 'webhook' ? (
            <Button onClick={() => void rotate(false)} busy={busy}>
              Call webhook again
            </Button>
          ) : null}
          {byValue ? (
            <Button variant="primary" icon="refresh" onClick={() => void rotate(true)} disabled={!hasValue} busy={busy}>
              Save new version
            </Button>
          ) : (
            <Button variant="primary" icon="refresh" onClick={() => void rotate(false)} busy={busy}>
              Rotate now
            </Button>
          )}
        </>
      }
    >
      {byValue ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void rotate(true);
          }}
        >
          <Field label="New value" htmlFor={id} hint="Stored encrypted. It is not shown again unless you reveal it.">
            <div className="input-wrap">
              <input
                ref={valueRef}
                id={id}
                className="input mono"
                type={showValue ? 'text' : 'password'}
                autoFocus
                data-autofocus
                autoComplete="off"
                spellCheck={false}
                placeholder="Paste the new value"
                onChange={(e) => setHasValue(e.currentTarget.value.length > 0)}
              />
              <ShowValueToggle shown={showValue} onToggle={() => setShowValue((v) => !v)} />
            </div>
          </Field>
        </form>
      ) : (
        <p className="small muted">Grants for this secret ask again after the rotation, unless they were created to survive it.</p>
      )}
      <ErrorNote error={error} />
    </Dialog>
  );
}

/** The eye button at the end of a value input. */
function ShowValueToggle({ shown, onToggle }: { shown: boolean; onToggle: () => void }) {
  return (
    <button
      type="button"
      className="input-affix"
      aria-label={shown ? 'Hide value' : 'Show value'}
      title={shown ? 'Hide' : 'Show'}
      onClick={onToggle}
    >
      <Icon name={shown ? 'eyeOff' : 'eye'} size={16} />
    </button>
  );
}

function RevealedValue({ revealed, onHide }: { revealed: Revealed; onHide: () => void }) {
  const now = useNow(250);
  const left = revealed.until - now;
  const fraction = Math.max(0, Math.min(1, left / (REVEAL_SECONDS * 1000)));
  return (
    <div className="revealed">
      <pre className="revealed-value" aria-label="Revealed value">
        {revealed.value}
      </pre>
      <div className="revealed-foot">
        <span className="revealed-timer num" role="timer">
          <Icon name="timer" size={12} /> Hides in {formatCountdown(left)}
        </span>
        <span className="revealed-bar" aria-hidden="true">
          <span style={{ transform: `scaleX(${fraction})` }} />
        </span>
        <Button size="sm" variant="ghost" icon="eyeOff" onClick={onHide}>
          Hide
        </Button>
      </div>
    </div>
  );
}

// ------------------------------------------------------------------------------ dialogs

function SecretFormDialog({
  mode,
  initial,
  existing,
  onClose,
  onSaved,
}: {
  mode: 'add' | 'edit';
  initial?: SecretDetail;
  existing?: Set<string>;
  onClose: () => void;
  onSaved: (name: string, version: number) => void;
}) {
  const [name, setName] = useState(initial?.name ?? '');
  const [type, setType] = useState<SecretType>(initial?.type ?? 'api_key');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [owner, setOwner] = useState(initial?.owner ?? '');
  const [tags, setTags] = useState((initial?.tags ?? []).join(', '));
  const [hasValue, setHasValue] = useState(false);
  const [showValue, setShowValue] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [triedSubmit, setTriedSubmit] = useState(false);
  const valueRef = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const ids = { name: useId(), type: useId(), desc: useId(), owner: useId(), tags: useId(), value: useId() };

  const nameProblem =
    mode === 'add' ? (secretNameProblem(name) ?? (existing?.has(name) ? 'a secret with this name already exists' : null)) : null;
  const multiline = type === 'ssh_key';
  const ready = mode === 'edit' || (!nameProblem && hasValue);

  const save = async () => {
    setTriedSubmit(true);
    if (!ready || busy) return;
    setBusy(true);
    setError(null);
    const value = valueRef.current?.value ?? '';
    try {
      const r = await api().saveSecret({
        name,
        type,
        description: description.trim(),
        owner: owner.trim(),
        tags: tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        ...(value ? { value } : {}),
      });
      if (valueRef.current) valueRef.current.value = '';
      onSaved(r.name, r.version);
    } catch (err) {
      setError(toUiError(err));
      setBusy(false);
    }
  };

  const valueProps = {
    id: ids.value,
    className: `input mono ${showValue ? '' : 'masked'}`,
    spellCheck: false,
    autoComplete: 'off',
    placeholder: mode === 'edit' ? `Leave empty to keep v${initial?.currentVersion ?? 1}` : 'Paste the value',
    onChange: (e: { currentTarget: { value: string } }) => setHasValue(e.currentTarget.value.length > 0),
  };

  return (
    <Dialog
      title={mode === 'add' ? 'Add secret' : `Edit ${initial?.name}`}
      onClose={onClose}
      width={480}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void save()} busy={busy} disabled={mode === 'add' && triedSubmit && !ready}>
            {mode === 'add' ? 'Add secret' : hasValue ? 'Save new version' : 'Save'}
          </Button>
        </>
      }
    >
      <form
        className="stack-16"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {mode === 'add' ? (
          <Field
            label="Name"
            htmlFor={ids.name}
            hint="Letters, digits and _ . - / — agents ask for it by this name."
            error={name && nameProblem ? sentence(nameProblem) : triedSubmit && !name ? 'Enter a name.' : undefined}
          >
            <input
              id={ids.name}
              className="input mono"
              value={name}
              autoFocus
              spellCheck={false}
              autoComplete="off"
              placeholder="OPENAI_API_KEY"
              onChange={(e) => setName(e.currentTarget.value)}
            />
          </Field>
        ) : null}
        <div className="grid-2">
          <Field label="Type" htmlFor={ids.type}>
            <select id={ids.type} className="select" value={type} onChange={(e) => setType(e.currentTarget.value as SecretType)}>
              {SECRET_TYPES.map((t) => (
                <option key={t} value={t}>
                  {TYPE_LABELS[t]}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Owner" htmlFor={ids.owner} optional>
            <input
              id={ids.owner}
              className="input"
              value={owner}
              onChange={(e) => setOwner(e.currentTarget.value)}
              placeholder="you, a team…"
            />
          </Field>
        </div>
        <Field label="Description" htmlFor={ids.desc} optional>
          <input
            id={ids.desc}
            className="input"
            value={description}
            autoFocus={mode === 'edit'}
            data-autofocus={mode === 'edit' ? '' : undefined}
            maxLength={500}
            placeholder="What it is for, where it came from"
            onChange={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        <Field label="Tags" htmlFor={ids.tags} optional hint="Comma-separated.">
          <input
            id={ids.tags}
            className="input"
            value={tags}
            onChange={(e) => setTags(e.currentTarget.value)}
            placeholder="prod, billing"
          />
        </Field>
        <Field
          label={mode === 'add' ? 'Value' : 'New value'}
          htmlFor={ids.value}
          optional={mode === 'edit'}
          error={mode === 'add' && triedSubmit && !hasValue ? 'Enter the value.' : undefined}
          hint={
            mode === 'edit' ? 'A new value is saved as a new version.' : 'Stored encrypted. It is never shown again unless you reveal it.'
          }
        >
          <div className="input-wrap">
            {multiline ? (
              <textarea ref={valueRef} rows={4} {...valueProps} />
            ) : (
              <input ref={valueRef} type={showValue ? 'text' : 'password'} {...valueProps} />
            )}
            <ShowValueToggle shown={showValue} onToggle={() => setShowValue((v) => !v)} />
          </div>
        </Field>
        <ErrorNote error={error} />
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}

function DeleteDialog({ name, onClose, onDeleted }: { name: string; onClose: () => void; onDeleted: () => void }) {
  const [typed, setTyped] = useState('');
  const { busy, error, run } = useAsyncAction();
  const id = useId();
  const ok = typed === name;
  const del = async () => {
    if (!ok) return;
    await run(() => api().deleteSecret({ name }), onDeleted);
  };
  return (
    <Dialog
      title={`Delete ${name}?`}
      tone="danger"
      onClose={onClose}
      description="Every version is deleted and agents can no longer get it. This cannot be undone."
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="danger" icon="trash" onClick={() => void del()} disabled={!ok} busy={busy}>
            Delete secret
          </Button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void del();
        }}
      >
        <Field
          label={
            <>
              Type <span className="mono strong">{name}</span> to confirm
            </>
          }
          htmlFor={id}
        >
          <input
            id={id}
            className="input mono"
            value={typed}
            autoFocus
            spellCheck={false}
            autoComplete="off"
            onChange={(e) => setTyped(e.currentTarget.value)}
          />
        </Field>
        <ErrorNote error={error} />
      </form>
    </Dialog>
  );
}
