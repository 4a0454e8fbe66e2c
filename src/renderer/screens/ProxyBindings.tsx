/**
 * Settings → Proxy bindings: the brokering proxy's bindings, as `akc proxy add|list|rm`
 * manages them (the same core functions behind both). A binding names an upstream API,
 * the secret that authenticates it and how the proxy attaches it; agents call the proxy
 * without the key. Saving needs the master password (it decides where a key may go).
 */
import { useId, useRef, useState } from 'react';
import type { ProxyAuthView, ProxyBindingView, ProxyBindingsView, VerbInput } from '../../shared/contract';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Icon } from '../components/Icon';
import { Badge, Button, Dialog, ErrorNote, Field, MonoText, PasswordInput, Spinner, useToast } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { displayPath } from '../lib/format';
import { useEvent, useLoad } from '../lib/hooks';

const SECRET_PLACEHOLDER = '{{secret}}';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function describeAuth(a: ProxyAuthView): string {
  if (a.kind === 'header') return `${a.header}: ${a.template}`;
  if (a.kind === 'query') return `?${a.param}=${a.template}`;
  return `basic auth as ${a.user}`;
}

export function ProxyBindings() {
  const data = useLoad(() => api().listProxyBindings({}));
  const [editing, setEditing] = useState<ProxyBindingView | 'new' | null>(null);
  const [removing, setRemoving] = useState<ProxyBindingView | null>(null);
  const toast = useToast();
  // A binding added with `akc proxy add` shows up without a reload.
  useEvent('activityAppended', (entries) => {
    if (entries.some((e) => e.event === 'proxy.add' || e.event === 'proxy.rm')) void data.reload();
  });

  return (
    <section className="section" aria-labelledby="s-proxy">
      <div className="section-head proxy-head">
        <h2 className="h-section" id="s-proxy">
          Proxy bindings
        </h2>
        {data.data ? <span className="muted num">{data.data.bindings.length}</span> : null}
        <Button size="sm" icon="plus" className="proxy-add" onClick={() => setEditing('new')}>
          Add binding
        </Button>
      </div>
      <p className="section-intro">
        Agents call an API through the proxy instead of holding its key: the proxy attaches the secret on the way out, after your approval
        for each binding.
      </p>
      {data.error ? (
        <ErrorNote error={data.error} onRetry={() => void data.reload()} />
      ) : !data.data ? (
        <Spinner label="Loading proxy bindings" />
      ) : (
        <BindingList view={data.data} onEdit={(b) => setEditing(b)} onRemove={(b) => setRemoving(b)} onAdd={() => setEditing('new')} />
      )}
      {editing ? (
        <BindingDialog
          binding={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onDone={(b) => {
            setEditing(null);
            toast.show(editing === 'new' ? `Added ${b.name}` : `Saved ${b.name}`);
            void data.reload();
          }}
        />
      ) : null}
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          description={
            <>
              Agents can no longer reach <span className="mono">{removing.upstream}</span> through the proxy with this name. The secret{' '}
              <span className="mono">{removing.secret}</span> stays in the vault.
            </>
          }
          confirmLabel="Remove binding"
          confirmIcon="trash"
          action={() => api().removeProxyBinding({ name: removing.name })}
          onClose={() => setRemoving(null)}
          onDone={() => {
            toast.show(`Removed ${removing.name}`);
            setRemoving(null);
            void data.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function BindingList({
  view,
  onEdit,
  onRemove,
  onAdd,
}: {
  view: ProxyBindingsView;
  onEdit: (b: ProxyBindingView) => void;
  onRemove: (b: ProxyBindingView) => void;
  onAdd: () => void;
}) {
  const where = (
    <div className="proxy-where">
      <Icon name="terminal" size={12} />
      <span className="rule-k">proxy</span>
      {view.proxy.url ? <MonoText full={view.proxy.url} /> : <span className="muted">loopback TCP off</span>}
      <span className="rule-k">socket</span>
      <MonoText full={view.proxy.socket} display={displayPath(view.proxy.socket, 44)} />
      {!view.proxy.running ? (
        <Badge tone="amber" icon="alert">
          not running
        </Badge>
      ) : null}
    </div>
  );
  if (view.bindings.length === 0) {
    return (
      <div className="card card-quiet">
        <p className="quiet-line">
          No bindings yet. Add one here or with <code>akc proxy add NAME --upstream URL --secret SECRET</code>, then point the agent’s base
          URL at the proxy.
        </p>
        <div className="proxy-empty-action">
          <Button size="sm" icon="plus" onClick={onAdd}>
            Add binding
          </Button>
        </div>
        {where}
      </div>
    );
  }
  return (
    <div className="card">
      <ul className="proxy-list" aria-label="Proxy bindings">
        {view.bindings.map((b) => (
          <li key={b.name} className="setting proxy-binding">
            <div className="setting-text">
              <div className="proxy-title">
                <span className="strong">{b.name}</span>
                <Icon name="chevronRight" size={12} className="muted" />
                <span className="mono proxy-upstream" title={b.upstream}>
                  {b.upstream}
                </span>
                {b.integrity === 'refused' ? (
                  <Badge tone="red" icon="shieldAlert" title="Its row in vault.db changed outside Agent Keychain; the proxy ignores it">
                    tampered
                  </Badge>
                ) : null}
                {!b.secretExists ? (
                  <Badge tone="amber" icon="alert" title={`No secret named ${b.secret} yet`}>
                    no secret
                  </Badge>
                ) : null}
                {b.allowPrivate ? (
                  <Badge tone="amber" title="May reach addresses on this machine and your networks">
                    private network
                  </Badge>
                ) : null}
              </div>
              <div className="setting-desc proxy-facts">
                <span>
                  <span className="rule-k">secret</span> <span className="mono">{b.secret}</span>
                </span>
                <span>
                  <span className="rule-k">sends</span> <span className="mono">{describeAuth(b.auth)}</span>
                </span>
                <span>
                  <span className="rule-k">allows</span>{' '}
                  {b.allow.length ? <span className="mono">{b.allow.join(', ')}</span> : <span>every method and path</span>}
                </span>
              </div>
              {b.url ? (
                <div className="setting-desc proxy-url">
                  <span className="rule-k">agents call</span> <MonoText full={b.url} />
                </div>
              ) : null}
            </div>
            <div className="setting-control proxy-actions">
              <Button size="sm" variant="ghost" icon="edit" onClick={() => onEdit(b)}>
                Edit
              </Button>
              <Button size="sm" variant="ghost" icon="trash" onClick={() => onRemove(b)} aria-label={`Remove ${b.name}`}>
                Remove
              </Button>
            </div>
          </li>
        ))}
      </ul>
      {where}
    </div>
  );
}

type AuthKind = ProxyAuthView['kind'];

/** Add (binding null) or edit a binding; the name of an existing one stays. */
function BindingDialog({
  binding,
  onClose,
  onDone,
}: {
  binding: ProxyBindingView | null;
  onClose: () => void;
  onDone: (b: ProxyBindingView) => void;
}) {
  const a = binding?.auth;
  const [name, setName] = useState(binding?.name ?? '');
  const [upstream, setUpstream] = useState(binding?.upstream ?? 'https://');
  const [secret, setSecret] = useState(binding?.secret ?? '');
  const [kind, setKind] = useState<AuthKind>(a?.kind ?? 'header');
  const [header, setHeader] = useState(a?.kind === 'header' ? a.header : 'Authorization');
  const [headerValue, setHeaderValue] = useState(a?.kind === 'header' ? a.template : `Bearer ${SECRET_PLACEHOLDER}`);
  const [param, setParam] = useState(a?.kind === 'query' ? a.param : 'key');
  const [queryValue, setQueryValue] = useState(a?.kind === 'query' ? a.template : SECRET_PLACEHOLDER);
  const [user, setUser] = useState(a?.kind === 'basic' ? a.user : '');
  const [allow, setAllow] = useState((binding?.allow ?? []).join('\n'));
  const [allowPrivate, setAllowPrivate] = useState(binding?.allowPrivate ?? false);
  const [baseUrlEnv, setBaseUrlEnv] = useState(binding?.baseUrlEnv ?? '');
  const pw = useRef<HTMLInputElement>(null);
  const [hasPw, setHasPw] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const secrets = useLoad(() => api().listSecrets({}));
  const ids = {
    name: useId(),
    upstream: useId(),
    secret: useId(),
    secrets: useId(),
    kind: useId(),
    header: useId(),
    headerValue: useId(),
    param: useId(),
    queryValue: useId(),
    user: useId(),
    allow: useId(),
    priv: useId(),
    env: useId(),
    pw: useId(),
  };

  const nameOk = NAME_RE.test(name);
  const template = kind === 'header' ? headerValue : kind === 'query' ? queryValue : SECRET_PLACEHOLDER;
  const templateOk = kind === 'basic' || template.split(SECRET_PLACEHOLDER).length === 2;
  const ready = nameOk && upstream.trim().length > 8 && secret.trim().length > 0 && templateOk && hasPw;

  const auth = (): VerbInput<'saveProxyBinding'>['auth'] =>
    kind === 'header'
      ? { kind, header: header.trim(), template: headerValue.trim() }
      : kind === 'query'
        ? { kind, param: param.trim(), template: queryValue.trim() }
        : { kind, user: user.trim() };

  const submit = async () => {
    const password = pw.current?.value ?? '';
    if (!ready || !password || busy) return;
    setBusy(true);
    setError(null);
    try {
      onDone(
        await api().saveProxyBinding({
          name,
          upstream: upstream.trim(),
          secret: secret.trim(),
          auth: auth(),
          allow: allow
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
          allowPrivate,
          baseUrlEnv: baseUrlEnv.trim() || null,
          replace: binding !== null,
          password,
        }),
      );
    } catch (err) {
      const e = toUiError(err);
      setError(e.code === 'WRONG_PASSWORD' ? { ...e, message: 'Wrong password.', hint: 'Check Caps Lock and try again.' } : e);
      if (e.code === 'WRONG_PASSWORD' && pw.current) {
        pw.current.value = '';
        setHasPw(false);
        pw.current.focus();
      }
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={binding ? `Edit ${binding.name}` : 'Add proxy binding'}
      onClose={onClose}
      width={560}
      description="The proxy sends the secret only to this upstream, only for the requests you allow, and only after you approve an agent."
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void submit()} disabled={!ready} busy={busy}>
            {binding ? 'Save changes' : 'Add binding'}
          </Button>
        </>
      }
    >
      <form
        className="stack-16"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="grid-2">
          <Field
            label="Name"
            htmlFor={ids.name}
            hint={binding ? 'The first part of the path agents call.' : 'Agents call …/NAME/<path>.'}
            error={name && !nameOk ? 'Letters, digits, . _ - (up to 64).' : undefined}
          >
            <input
              id={ids.name}
              className="input mono proxy-name"
              value={name}
              placeholder="openai"
              autoComplete="off"
              spellCheck={false}
              readOnly={binding !== null}
              onChange={(e) => setName(e.currentTarget.value)}
            />
          </Field>
          <Field label="Secret" htmlFor={ids.secret} hint="Its value authenticates the upstream.">
            <input
              id={ids.secret}
              className="input mono"
              value={secret}
              list={ids.secrets}
              placeholder="OPENAI_API_KEY"
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => setSecret(e.currentTarget.value)}
            />
            <datalist id={ids.secrets}>
              {(secrets.data ?? []).map((s) => (
                <option key={s.name} value={s.name} />
              ))}
            </datalist>
          </Field>
        </div>
        <Field label="Upstream" htmlFor={ids.upstream} hint="https:// only, unless private addresses are allowed below.">
          <input
            id={ids.upstream}
            className="input mono"
            value={upstream}
            placeholder="https://api.openai.com"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setUpstream(e.currentTarget.value)}
          />
        </Field>
        <div className="proxy-auth">
          <Field label="Credential" htmlFor={ids.kind}>
            <select id={ids.kind} className="select" value={kind} onChange={(e) => setKind(e.currentTarget.value as AuthKind)}>
              <option value="header">Header</option>
              <option value="query">Query parameter</option>
              <option value="basic">Basic auth</option>
            </select>
          </Field>
          {kind === 'header' ? (
            <>
              <Field label="Header" htmlFor={ids.header}>
                <input id={ids.header} className="input mono" value={header} onChange={(e) => setHeader(e.currentTarget.value)} />
              </Field>
              <Field label="Value" htmlFor={ids.headerValue} error={templateOk ? undefined : `Use ${SECRET_PLACEHOLDER} once.`}>
                <input
                  id={ids.headerValue}
                  className="input mono"
                  value={headerValue}
                  onChange={(e) => setHeaderValue(e.currentTarget.value)}
                />
              </Field>
            </>
          ) : kind === 'query' ? (
            <>
              <Field label="Parameter" htmlFor={ids.param}>
                <input id={ids.param} className="input mono" value={param} onChange={(e) => setParam(e.currentTarget.value)} />
              </Field>
              <Field label="Value" htmlFor={ids.queryValue} error={templateOk ? undefined : `Use ${SECRET_PLACEHOLDER} once.`}>
                <input
                  id={ids.queryValue}
                  className="input mono"
                  value={queryValue}
                  onChange={(e) => setQueryValue(e.currentTarget.value)}
                />
              </Field>
            </>
          ) : (
            <Field label="User" htmlFor={ids.user} hint="The secret is the password.">
              <input id={ids.user} className="input mono" value={user} onChange={(e) => setUser(e.currentTarget.value)} />
            </Field>
          )}
        </div>
        <Field
          label="Allowed requests"
          htmlFor={ids.allow}
          optional
          hint="One METHOD /path-glob per line, like POST /v1/**. Empty allows everything."
        >
          <textarea
            id={ids.allow}
            className="input mono"
            rows={3}
            value={allow}
            placeholder={'POST /v1/chat/completions\nGET /v1/models'}
            spellCheck={false}
            onChange={(e) => setAllow(e.currentTarget.value)}
          />
        </Field>
        <div className="grid-2">
          <Field label="Base URL variable" htmlFor={ids.env} optional hint="Set by akc run --proxy, e.g. OPENAI_BASE_URL.">
            <input
              id={ids.env}
              className="input mono"
              value={baseUrlEnv}
              placeholder="OPENAI_BASE_URL"
              spellCheck={false}
              onChange={(e) => setBaseUrlEnv(e.currentTarget.value)}
            />
          </Field>
          <div className="check-row proxy-private">
            <input id={ids.priv} type="checkbox" checked={allowPrivate} onChange={(e) => setAllowPrivate(e.currentTarget.checked)} />
            <div>
              <label htmlFor={ids.priv} className="check-label">
                Allow private addresses
              </label>
              <p className="check-note">For a server on this machine or your LAN (plain http:// too).</p>
            </div>
          </div>
        </div>
        <Field
          label="Master password"
          htmlFor={ids.pw}
          hint="A binding decides where a key may be sent, so a program running as you cannot change it."
        >
          <PasswordInput inputRef={pw} id={ids.pw} onValue={(v) => setHasPw(v.length > 0)} invalid={error?.code === 'WRONG_PASSWORD'} />
        </Field>
        <ErrorNote error={error} />
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}
