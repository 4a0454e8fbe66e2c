/** The two screens before the vault is open: first-run setup and unlock. */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { AppState } from '../../shared/contract';
import { keychainExposure, keychainUnlockByDefault } from '../../shared/keychain-default';
import { AppMark, Icon } from '../components/Icon';
import { Button, ErrorNote, Field, PasswordInput } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { estimateStrength } from '../lib/strength';

const MIN_CHARS = 8;

/** What storing the unlock key in the OS keychain means on this platform. */
export function keychainNote(state: Pick<AppState, 'platform' | 'keychainName'>): string {
  return keychainExposure(state.platform, state.keychainName);
}

function GateFrame({ children }: { children: ReactNode }) {
  return (
    <main className="gate">
      <div className="gate-card">{children}</div>
      <p className="gate-foot">Agent Keychain keeps secrets for your AI agents, encrypted on this machine.</p>
    </main>
  );
}

export function Setup({ state, onState }: { state: AppState; onState: (s: AppState) => void }) {
  const pw = useRef<HTMLInputElement>(null);
  const confirm = useRef<HTMLInputElement>(null);
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  // Off by default where any same-user program can read the keychain entry (shared/keychain-default.ts).
  const [keychain, setKeychain] = useState(() => keychainUnlockByDefault(state.platform));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [touchedConfirm, setTouchedConfirm] = useState(false);
  const strength = estimateStrength(password);
  const meterId = useId();
  const noteId = useId();

  const tooShort = password.length > 0 && password.length < MIN_CHARS;
  const mismatch = confirmation.length > 0 && confirmation !== password;
  const ready = password.length >= MIN_CHARS && confirmation === password;

  const create = async () => {
    if (!ready || busy) return;
    setBusy(true);
    setError(null);
    try {
      const next = await api().setupVault({ password: pw.current!.value, keychain });
      onState(next);
    } catch (err) {
      setError(toUiError(err));
      setBusy(false);
    }
  };

  return (
    <GateFrame>
      <div className="gate-head">
        <AppMark size={40} />
        <h1 className="h-title">Create your vault</h1>
        <p className="gate-sub">
          Your master password encrypts every secret on this machine. It cannot be recovered, so choose one you will remember.
        </p>
      </div>
      <form
        className="stack-16"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <Field label="Master password" htmlFor="setup-password" error={tooShort ? `Use at least ${MIN_CHARS} characters.` : undefined}>
          <PasswordInput
            inputRef={pw}
            id="setup-password"
            autoFocus
            autoComplete="new-password"
            onValue={setPassword}
            describedBy={meterId}
            onEnter={() => confirm.current?.focus()}
          />
          <div className="meter" id={meterId} aria-live="polite">
            <div className={`meter-bars score-${password ? strength.score : 'none'}`} aria-hidden="true">
              {[0, 1, 2, 3].map((i) => (
                <span key={i} className={password && i < Math.max(1, strength.score) ? 'on' : ''} />
              ))}
            </div>
            <div className="meter-text">
              {password ? (
                <>
                  <strong>{strength.label}</strong>
                  {strength.hint ? <span className="muted"> · {strength.hint}</span> : null}
                </>
              ) : (
                <span className="muted">A few unrelated words make a strong, memorable password.</span>
              )}
            </div>
          </div>
        </Field>
        <Field
          label="Confirm password"
          htmlFor="setup-confirm"
          error={mismatch && touchedConfirm ? 'The passwords do not match.' : undefined}
        >
          <PasswordInput
            inputRef={confirm}
            id="setup-confirm"
            autoComplete="new-password"
            onValue={(v) => {
              setConfirmation(v);
              if (v.length >= password.length) setTouchedConfirm(true);
            }}
            invalid={mismatch && touchedConfirm}
            onEnter={() => void create()}
          />
        </Field>
        <div className="check-row">
          <input
            id="setup-keychain"
            type="checkbox"
            checked={keychain}
            onChange={(e) => setKeychain(e.currentTarget.checked)}
            aria-describedby={noteId}
          />
          <div>
            <label htmlFor="setup-keychain" className="check-label">
              Unlock with {state.keychainName}
            </label>
            <p className="check-note" id={noteId}>
              {keychainNote(state)}
            </p>
          </div>
        </div>
        <ErrorNote error={error} />
        <Button variant="primary" type="submit" className="btn-block" disabled={!ready} busy={busy}>
          Create vault
        </Button>
      </form>
    </GateFrame>
  );
}

export function Unlock({ state, onState }: { state: AppState; onState: (s: AppState) => void }) {
  const pw = useRef<HTMLInputElement>(null);
  const [hasText, setHasText] = useState(false);
  const [busy, setBusy] = useState<'password' | 'keychain' | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const errorId = useId();

  useEffect(() => {
    pw.current?.focus();
  }, []);

  const unlock = async () => {
    const password = pw.current?.value ?? '';
    if (!password || busy) return;
    setBusy('password');
    setError(null);
    try {
      onState(await api().unlock({ password }));
    } catch (err) {
      const e = toUiError(err);
      setError(
        e.code === 'WRONG_PASSWORD'
          ? { code: e.code, message: 'Wrong password.', hint: 'Check Caps Lock and your keyboard layout, then try again.' }
          : e,
      );
      if (pw.current) {
        pw.current.value = '';
        pw.current.focus();
      }
      setHasText(false);
      setBusy(null);
    }
  };

  const unlockKeychain = async () => {
    setBusy('keychain');
    setError(null);
    try {
      onState(await api().unlockWithKeychain({}));
    } catch (err) {
      setError(toUiError(err));
      setBusy(null);
    }
  };

  return (
    <GateFrame>
      <div className="gate-head">
        <div className="gate-lock">
          <Icon name="lock" size={20} />
        </div>
        <h1 className="h-title">Agent Keychain is locked</h1>
        <p className="gate-sub">Enter your master password to unlock. Agents wait while the vault is locked.</p>
        {state.pendingApprovals > 0 ? (
          <p className="gate-waiting" role="status">
            <Icon name="clock" size={14} />
            {state.pendingApprovals === 1 ? 'A request is waiting for unlock' : `${state.pendingApprovals} requests are waiting for unlock`}
          </p>
        ) : null}
      </div>
      <form
        className="stack-16"
        onSubmit={(e) => {
          e.preventDefault();
          void unlock();
        }}
      >
        <Field label="Master password" htmlFor="unlock-password">
          <PasswordInput
            inputRef={pw}
            id="unlock-password"
            autoFocus
            onValue={(v) => setHasText(v.length > 0)}
            invalid={error?.code === 'WRONG_PASSWORD'}
            describedBy={error ? errorId : undefined}
          />
        </Field>
        {error ? (
          <div id={errorId}>
            <ErrorNote error={error} />
          </div>
        ) : null}
        <Button variant="primary" type="submit" className="btn-block" disabled={!hasText} busy={busy === 'password'}>
          Unlock
        </Button>
        {state.keychainUnlock ? (
          <>
            <div className="divider-text">
              <span>or</span>
            </div>
            <Button
              className="btn-block"
              icon="key"
              onClick={() => void unlockKeychain()}
              busy={busy === 'keychain'}
              disabled={busy === 'password'}
            >
              Unlock with {state.keychainName}
            </Button>
          </>
        ) : null}
      </form>
    </GateFrame>
  );
}

export function HostConflictBanner({ message }: { message: string }) {
  const [error, setError] = useState<UiError | null>(null);
  return (
    <div className="banner banner-amber" role="alert">
      <Icon name="alert" size={16} />
      <div className="banner-text">
        <strong>Another Agent Keychain is already running.</strong> {message}
        {error ? <div className="note-hint">{error.message}</div> : null}
      </div>
      <Button
        size="sm"
        icon="power"
        onClick={() =>
          api()
            .quitApp({})
            .catch((err: unknown) => setError(toUiError(err)))
        }
      >
        Quit
      </Button>
    </div>
  );
}
