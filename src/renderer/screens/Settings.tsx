/** Settings: locking, keychain unlock, approvals, notifications; about. */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { AppState, Settings, VerbInput } from '../../shared/contract';
import { Icon } from '../components/Icon';
import { Button, Dialog, ErrorNote, Field, MonoText, PasswordInput, Spinner, Toggle, useToast } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { displayPath } from '../lib/format';
import { useLoad } from '../lib/hooks';
import { keychainNote } from './Gate';
import { PageHeader } from './common';

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
                      <NumberSetting id={ids.autoLock} value={local.autoLockMinutes} min={0} max={1440} unit="min" onSave={(n) => update({ autoLockMinutes: n })} />
                    }
                  />
                  <Row
                    title="Lock on screen lock and sleep"
                    htmlFor={ids.sleep}
                    desc="Lock when the screen locks, the session is suspended or the lid closes."
                    control={
                      <Toggle id={ids.sleep} label="Lock on screen lock and sleep" checked={local.lockOnSleep} onChange={(v) => void update({ lockOnSleep: v })} />
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
                    control={<Toggle id={ids.notify} label="Notifications" checked={local.notifications} onChange={(v) => void update({ notifications: v })} />}
                  />
                </div>
              </section>
            </>
          )}

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
