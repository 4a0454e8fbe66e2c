/** Settings: locking, keychain unlock, approvals, notifications, proxy bindings, anomaly guard; about. */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { AppState, Settings, VerbInput } from '../../shared/contract';
import { Icon } from '../components/Icon';
import { useLifecycle } from '../components/lifecycle';
import { Button, Dialog, ErrorNote, Field, MonoText, PasswordInput, Spinner, Toggle, useToast } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { displayPath, sentence } from '../lib/format';
import { useLoad } from '../lib/hooks';
import { keychainNote } from './Gate';
import { PageHeader } from './common';
import { ProxyBindings } from './ProxyBindings';

function Row({ title, desc, control, htmlFor }: { title: string; desc?: ReactNode; control: ReactNode; htmlFor?: string }) {
  return (
    <div className="setting">
      <div className="setting-text">
        <label className="setting-title" htmlFor={htmlFor}>
          {title}
        </label>
        {desc ? <div className="setting-desc">{desc}</div> : null}
      </div>
      <div className="setting-control">{control}</div>
    </div>
  );
}

/** A number that saves on blur or Enter, within bounds. */
function NumberSetting({
  id,
  value,
  min,
  max,
  unit,
  onSave,
}: {
  id: string;
  value: number;
  min: number;
  max: number;
  unit: string;
  onSave: (n: number) => Promise<void>;
}) {
  const [text, setText] = useState(String(value));
  const [invalid, setInvalid] = useState(false);
  useEffect(() => setText(String(value)), [value]);
  const commit = () => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    if (n !== value) void onSave(n);
  };
  return (
    <div className="number-setting">
      <input
        id={id}
        className={`input input-number num ${invalid ? 'invalid' : ''}`}
        inputMode="numeric"
        value={text}
        aria-invalid={invalid || undefined}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
          if (e.key === 'Escape') {
            setText(String(value));
            setInvalid(false);
          }
        }}
      />
      <span className="unit">{unit}</span>
      {invalid ? (
        <span className="field-error inline" role="alert">
          {min}–{max}
        </span>
      ) : null}
    </div>
  );
}

export function SettingsScreen({ state }: { state: AppState }) {
  const settings = useLoad(() => api().getSettings({}));
  const [local, setLocal] = useState<Settings | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [keychainDialog, setKeychainDialog] = useState<boolean | null>(null);
  const toast = useToast();
  const ids = { autoLock: useId(), sleep: useId(), keychain: useId(), timeout: useId(), notify: useId() };

  useEffect(() => {
    if (settings.data) setLocal(settings.data);
  }, [settings.data]);

  const update = async (patch: VerbInput<'updateSettings'>) => {
    setError(null);
    const before = local;
    if (local) setLocal({ ...local, ...patch });
    try {
      setLocal(await api().updateSettings(patch));
      toast.show('Saved');
    } catch (err) {
      setLocal(before);
      setError(toUiError(err));
    }
  };

  return (
    <div className="page">
      <PageHeader title="Settings" />
      <div className="page-scroll">
        <div className="settings">
          {settings.error ? <ErrorNote error={settings.error} onRetry={() => void settings.reload()} /> : null}
          <ErrorNote error={error} />
          {!local ? (
            settings.error ? null : (
              <Spinner label="Loading settings" />
            )
          ) : (
            <>
              <section className="section" aria-labelledby="s-lock">
                <h2 className="h-section" id="s-lock">
                  Locking
                </h2>
                <div className="card">
                  <Row
                    title="Auto-lock"
                    htmlFor={ids.autoLock}
                    desc="Lock after this many minutes without keyboard or mouse input. 0 never locks automatically."
                    control={
                      <NumberSetting
                        id={ids.autoLock}
                        value={local.autoLockMinutes}
                        min={0}
                        max={1440}
                        unit="min"
                        onSave={(n) => update({ autoLockMinutes: n })}
                      />
                    }
                  />
                  <Row
                    title="Lock on screen lock and sleep"
                    htmlFor={ids.sleep}
                    desc="Lock when the screen locks, the session is suspended or the lid closes."
                    control={
                      <Toggle
                        id={ids.sleep}
                        label="Lock on screen lock and sleep"
                        checked={local.lockOnSleep}
                        onChange={(v) => void update({ lockOnSleep: v })}
                      />
                    }
                  />
                  <Row
                    title={`Unlock with ${state.keychainName}`}
                    htmlFor={ids.keychain}
                    desc={keychainNote(state)}
                    control={
                      <Toggle
                        id={ids.keychain}
                        label={`Unlock with ${state.keychainName}`}
                        checked={local.keychainUnlock}
                        onChange={(v) => setKeychainDialog(v)}
                      />
                    }
                  />
                </div>
              </section>

              <section className="section" aria-labelledby="s-approvals">
                <h2 className="h-section" id="s-approvals">
                  Approvals
                </h2>
                <div className="card">
                  <Row
                    title="Approval timeout"
                    htmlFor={ids.timeout}
                    desc="A request nobody answers is denied after this long (10–600 seconds)."
                    control={
                      <NumberSetting
                        id={ids.timeout}
                        value={local.approvalTimeoutSeconds}
                        min={10}
                        max={600}
                        unit="s"
                        onSave={(n) => update({ approvalTimeoutSeconds: n })}
                      />
                    }
                  />
                  <Row
                    title="Notifications"
                    htmlFor={ids.notify}
                    desc="Notify me when an agent asks while this window is hidden."
                    control={
                      <Toggle
                        id={ids.notify}
                        label="Notifications"
                        checked={local.notifications}
                        onChange={(v) => void update({ notifications: v })}
                      />
                    }
                  />
                </div>
              </section>
            </>
          )}

          <ProxyBindings />

          <GuardSettings />

          <section className="section" aria-labelledby="s-about">
            <h2 className="h-section" id="s-about">
              About
            </h2>
            <div className="card">
              <dl className="about">
                <dt>Version</dt>
                <dd className="num">Agent Keychain {state.version}</dd>
                <dt>Data directory</dt>
                <dd>
                  <MonoText full={state.dataDir} display={displayPath(state.dataDir, 56)} />
                </dd>
                <dt>Agent socket</dt>
                <dd>
                  <MonoText full={state.socketPath} display={displayPath(state.socketPath, 56)} />
                </dd>
                <dt>Platform</dt>
                <dd>
                  {state.platform} · {state.keychainName}
                </dd>
              </dl>
            </div>
          </section>
        </div>
      </div>
      {keychainDialog !== null ? (
        <KeychainDialog
          enable={keychainDialog}
          keychainName={state.keychainName}
          onClose={() => setKeychainDialog(null)}
          onDone={(s) => {
            setLocal(s);
            setKeychainDialog(null);
            toast.show(s.keychainUnlock ? `Unlock with ${state.keychainName} is on` : `Removed the key from ${state.keychainName}`);
          }}
        />
      ) : null}
    </div>
  );
}

function KeychainDialog({
  enable,
  keychainName,
  onClose,
  onDone,
}: {
  enable: boolean;
  keychainName: string;
  onClose: () => void;
  onDone: (s: Settings) => void;
}) {
  const pw = useRef<HTMLInputElement>(null);
  const [has, setHas] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const id = useId();
  const submit = async () => {
    const password = pw.current?.value ?? '';
    if (!password || busy) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await api().setKeychainUnlock({ enabled: enable, password }));
    } catch (err) {
      const e = toUiError(err);
      setError(e.code === 'WRONG_PASSWORD' ? { ...e, message: 'Wrong password.', hint: 'Check Caps Lock and try again.' } : e);
      if (pw.current) pw.current.value = '';
      setHas(false);
      setBusy(false);
      pw.current?.focus();
    }
  };
  return (
    <Dialog
      title={enable ? `Turn on unlock with ${keychainName}?` : `Turn off unlock with ${keychainName}?`}
      onClose={onClose}
      description={
        enable
          ? `The vault key will be stored in ${keychainName}, so the app can unlock without your password.`
          : `The vault key will be removed from ${keychainName}. You will type your master password to unlock.`
      }
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void submit()} disabled={!has} busy={busy}>
            {enable ? 'Turn on' : 'Turn off'}
          </Button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label="Master password" htmlFor={id}>
          <PasswordInput inputRef={pw} id={id} autoFocus onValue={(v) => setHas(v.length > 0)} invalid={error?.code === 'WRONG_PASSWORD'} />
        </Field>
        {error ? <ErrorNote error={error} /> : null}
        <p className="small muted with-icon">
          <Icon name="info" size={12} /> Changing this needs your password, so a program running as you cannot change it.
        </p>
      </form>
    </Dialog>
  );
}

// ------------------------------------------------------------------------------ anomaly guard

type GuardEntry = { key: string; value: unknown; default: unknown; description: string };

const GUARD_GROUPS: { title: string; keys: string[] }[] = [
  { title: 'Burst of requests', keys: ['guard.burst.enabled', 'guard.burst.limit', 'guard.burst.window', 'guard.burst.action'] },
  { title: 'Denial spike', keys: ['guard.denials.enabled', 'guard.denials.limit', 'guard.denials.window', 'guard.denials.action'] },
  { title: 'Off-hours requests', keys: ['guard.activeHours', 'guard.offHours.action'] },
  { title: 'Canary secrets', keys: ['guard.canary.action'] },
];

const KEY_LABELS: Record<string, string> = {
  enabled: 'Rule on',
  limit: 'Limit',
  window: 'Window',
  action: 'When it fires',
  activeHours: 'Active hours',
};

const ACTION_LABELS: Record<string, string> = { lock: 'Lock the vault', block: 'Block the requester' };

function keyLabel(key: string): string {
  const last = key.split('.').pop() ?? key;
  return KEY_LABELS[last] ?? last;
}

/** "burst rule: window in seconds" → "Window in seconds." */
function keyDescription(description: string): string {
  return sentence(description.replace(/^[^:]{1,40}:\s*/, ''));
}

function isHours(v: unknown): v is { from: number; to: number } {
  return typeof v === 'object' && v !== null && typeof (v as { from?: unknown }).from === 'number';
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A guard value as `akc guard set` takes it. */
function guardText(key: string, v: unknown): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (key === 'guard.activeHours') return isHours(v) ? `${pad2(v.from)}-${pad2(v.to)}` : 'off';
  return String(v);
}

function guardDisplay(key: string, v: unknown): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'string' && ACTION_LABELS[v]) return ACTION_LABELS[v].toLowerCase();
  return guardText(key, v);
}

interface GuardChange {
  key: string;
  value: string;
  summary: string;
}

function GuardSettings() {
  const { data, reload } = useLifecycle();
  const [pending, setPending] = useState<GuardChange | null>(null);
  // Remounts the controls after a cancelled change, so they show the stored value again.
  const [generation, setGeneration] = useState(0);
  const toast = useToast();
  if (!data) return null;
  const byKey = new Map(data.guard.map((g) => [g.key, g]));
  const grouped = new Set(GUARD_GROUPS.flatMap((g) => g.keys));
  const groups = [
    ...GUARD_GROUPS.map((g) => ({ title: g.title, entries: g.keys.map((k) => byKey.get(k)).filter((x): x is GuardEntry => !!x) })),
    ...data.guard.filter((g) => !grouped.has(g.key)).map((g) => ({ title: keyLabel(g.key), entries: [g] })),
  ].filter((g) => g.entries.length > 0);

  const ask = (group: string, g: GuardEntry, value: string) => {
    if (value === guardText(g.key, g.value)) return;
    setPending({ key: g.key, value, summary: `${group} · ${keyLabel(g.key)}: ${guardText(g.key, g.value)} → ${value}` });
  };

  return (
    <section className="section" aria-labelledby="s-guard">
      <h2 className="h-section" id="s-guard">
        Anomaly guard
      </h2>
      <p className="section-intro">
        Checked on every request. A rule that fires locks the vault or blocks the requester, writes an audit entry and raises an alert.
        Changes need your master password.
      </p>
      <div className="guard-groups" key={generation}>
        {groups.map((group) => (
          <GuardCard
            key={group.title}
            title={group.title}
            entries={group.entries}
            byKey={byKey}
            onChange={(g, v) => ask(group.title, g, v)}
          />
        ))}
      </div>
      {pending ? (
        <GuardDialog
          change={pending}
          onClose={() => {
            setPending(null);
            setGeneration((n) => n + 1);
          }}
          onDone={() => {
            setPending(null);
            setGeneration((n) => n + 1);
            toast.show('Guard setting saved');
            reload();
          }}
        />
      ) : null}
    </section>
  );
}

/** One sentence for a rule, with its current values ("More than 8 distinct secrets … within 60 seconds."). */
function ruleSummary(entries: GuardEntry[], byKey: Map<string, GuardEntry>): string {
  const enabled = entries.find((g) => g.key.endsWith('.enabled'));
  if (enabled) {
    const prefix = enabled.key.slice(0, -'.enabled'.length);
    const text = keyDescription(enabled.description)
      .replace(/\bLIMIT\b/g, String(byKey.get(`${prefix}.limit`)?.value ?? 'LIMIT'))
      .replace(/\bWINDOW\b/g, String(byKey.get(`${prefix}.window`)?.value ?? 'WINDOW'));
    return text;
  }
  const hours = entries.find((g) => g.key === 'guard.activeHours');
  if (hours) {
    return isHours(hours.value)
      ? `A requester’s first request for a secret outside ${guardText(hours.key, hours.value).replace('-', '–')} (local time) fires.`
      : 'Off. Set active hours (like 08-20) to flag a requester’s first request for a secret outside them.';
  }
  if (entries.some((g) => g.key === 'guard.canary.action'))
    return 'Any request for a secret marked as a canary (akc secret set NAME --canary) fires.';
  return keyDescription(entries[0]!.description);
}

function GuardCard({
  title,
  entries,
  byKey,
  onChange,
}: {
  title: string;
  entries: GuardEntry[];
  byKey: Map<string, GuardEntry>;
  onChange: (g: GuardEntry, value: string) => void;
}) {
  const enabled = entries.find((g) => g.key.endsWith('.enabled') && typeof g.value === 'boolean');
  const fields = entries.filter((g) => g !== enabled);
  const off = enabled ? enabled.value === false : false;
  const toggleId = useId();
  return (
    <div className={`card guard-card ${off ? 'guard-off' : ''}`}>
      <div className="guard-head">
        <div className="guard-head-text">
          <label className="guard-title" htmlFor={enabled ? toggleId : undefined}>
            {title}
            {off ? <span className="guard-state"> · off</span> : null}
          </label>
          <div className="guard-desc">{ruleSummary(entries, byKey)}</div>
        </div>
        {enabled ? (
          <Toggle
            id={toggleId}
            label={`${title}: rule on`}
            checked={enabled.value === true}
            onChange={(v) => onChange(enabled, v ? 'on' : 'off')}
          />
        ) : null}
      </div>
      {fields.length ? (
        <div className="guard-fields">
          {fields.map((g) => (
            <GuardField key={g.key} g={g} onChange={(v) => onChange(g, v)} />
          ))}
        </div>
      ) : null}
    </div>
  );
}

function GuardField({ g, onChange }: { g: GuardEntry; onChange: (value: string) => void }) {
  const id = useId();
  const hintId = useId();
  const label = keyLabel(g.key);
  const isDefault = JSON.stringify(g.value) === JSON.stringify(g.default);
  let control: ReactNode;
  if (typeof g.value === 'boolean') {
    control = <Toggle id={id} label={label} checked={g.value} onChange={(v) => onChange(v ? 'on' : 'off')} />;
  } else if (typeof g.value === 'number') {
    const unit = g.key.endsWith('.window') ? 's' : '';
    control = (
      <NumberSetting id={id} value={g.value} min={1} max={86_400} unit={unit} onSave={(n) => Promise.resolve(onChange(String(n)))} />
    );
  } else if (g.key.endsWith('.action')) {
    control = (
      <select
        id={id}
        className="select"
        value={String(g.value)}
        aria-describedby={hintId}
        onChange={(e) => onChange(e.currentTarget.value)}
      >
        {Object.entries(ACTION_LABELS).map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    );
  } else {
    control = <HoursSetting id={id} value={guardText(g.key, g.value)} onSave={onChange} />;
  }
  return (
    <div className="guard-field">
      <label className="guard-label" htmlFor={id}>
        {label}
      </label>
      {control}
      <div className="guard-hint" id={hintId}>
        {keyDescription(g.description)}
        {!isDefault ? <span className="muted"> Default: {guardDisplay(g.key, g.default)}.</span> : null}
      </div>
    </div>
  );
}

/** "08-20" or "off"; saves on Enter or blur. */
function HoursSetting({ id, value, onSave }: { id: string; value: string; onSave: (v: string) => void }) {
  const [text, setText] = useState(value);
  const [invalid, setInvalid] = useState(false);
  const commit = () => {
    const t = text.trim().toLowerCase() || 'off';
    if (t !== 'off' && !/^\d{1,2}-\d{1,2}$/.test(t)) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    if (t !== value) onSave(t);
  };
  return (
    <div className="number-setting">
      <input
        id={id}
        className={`input input-hours num ${invalid ? 'invalid' : ''}`}
        value={text}
        placeholder="off"
        aria-invalid={invalid || undefined}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
          if (e.key === 'Escape') {
            setText(value);
            setInvalid(false);
          }
        }}
      />
      {invalid ? (
        <span className="field-error inline" role="alert">
          like 08-20
        </span>
      ) : null}
    </div>
  );
}

function GuardDialog({ change, onClose, onDone }: { change: GuardChange; onClose: () => void; onDone: () => void }) {
  const pw = useRef<HTMLInputElement>(null);
  const [has, setHas] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const id = useId();
  const submit = async () => {
    const password = pw.current?.value ?? '';
    if (!password || busy) return;
    setBusy(true);
    setError(null);
    try {
      await api().setGuardSetting({ key: change.key, value: change.value, password });
      onDone();
    } catch (err) {
      const e = toUiError(err);
      setError(e.code === 'WRONG_PASSWORD' ? { ...e, message: 'Wrong password.', hint: 'Check Caps Lock and try again.' } : e);
      if (pw.current) pw.current.value = '';
      setHas(false);
      setBusy(false);
      pw.current?.focus();
    }
  };
  return (
    <Dialog
      title="Change the anomaly guard?"
      onClose={onClose}
      description={<span className="guard-summary">{change.summary}</span>}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void submit()} disabled={!has} busy={busy}>
            Change
          </Button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label="Master password" htmlFor={id}>
          <PasswordInput inputRef={pw} id={id} autoFocus onValue={(v) => setHas(v.length > 0)} invalid={error?.code === 'WRONG_PASSWORD'} />
        </Field>
        {error ? <ErrorNote error={error} /> : null}
        <p className="small muted with-icon">
          <Icon name="info" size={12} /> The guard protects you from a misbehaving agent, so a program running as you cannot change it.
        </p>
      </form>
    </Dialog>
  );
}
