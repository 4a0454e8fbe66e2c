/** Small building blocks shared by every screen. */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
  type ComponentProps,
  type KeyboardEvent,
  type ReactNode,
  type RefObject,
} from 'react';
import type { UiError } from '../lib/api';
import { formatAbsolute, formatRelative } from '../lib/format';
import { useCapsLock } from '../lib/hooks';
import { Icon, type IconName } from './Icon';

// ------------------------------------------------------------------------------ buttons

type Variant = 'primary' | 'secondary' | 'ghost' | 'danger' | 'danger-ghost';

export function Button({
  variant = 'secondary',
  size = 'md',
  icon,
  busy,
  children,
  className,
  ...rest
}: ComponentProps<'button'> & { variant?: Variant; size?: 'sm' | 'md'; icon?: IconName; busy?: boolean }) {
  return (
    <button
      type="button"
      {...rest}
      className={['btn', `btn-${variant}`, size === 'sm' ? 'btn-sm' : '', className ?? ''].join(' ').trim()}
      data-autofocus={rest.autoFocus ? '' : undefined}
      aria-busy={busy || undefined}
      disabled={rest.disabled || busy}
    >
      {busy ? <span className="spinner" aria-hidden="true" /> : icon ? <Icon name={icon} size={size === 'sm' ? 14 : 16} /> : null}
      {children}
    </button>
  );
}

export function IconButton({ icon, label, className, ...rest }: ComponentProps<'button'> & { icon: IconName; label: string }) {
  return (
    <button type="button" {...rest} className={`icon-btn ${className ?? ''}`.trim()} aria-label={label} title={label}>
      <Icon name={icon} size={16} />
    </button>
  );
}

// ------------------------------------------------------------------------------ badges

export type Tone = 'neutral' | 'green' | 'red' | 'amber' | 'grey' | 'accent';

export function Badge({ tone = 'neutral', icon, children, title }: { tone?: Tone; icon?: IconName; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {icon ? <Icon name={icon} size={12} /> : null}
      {children}
    </span>
  );
}

/** A decision from the activity log, always with an icon and a word. */
export function DecisionBadge({ decision }: { decision: string | null }) {
  switch (decision) {
    case 'allow':
      return (
        <Badge tone="green" icon="checkCircle">
          allowed
        </Badge>
      );
    case 'ok':
      return (
        <Badge tone="green" icon="check">
          ok
        </Badge>
      );
    case 'deny':
      return (
        <Badge tone="red" icon="xCircle">
          denied
        </Badge>
      );
    case 'block':
      return (
        <Badge tone="red" icon="ban">
          blocked
        </Badge>
      );
    case 'unblock':
      return (
        <Badge tone="grey" icon="unlock">
          unblocked
        </Badge>
      );
    case 'failed':
      return (
        <Badge tone="amber" icon="alert">
          failed
        </Badge>
      );
    case null:
    case undefined:
    case '':
      return <span className="muted">—</span>;
    default:
      return <Badge tone="grey">{decision}</Badge>;
  }
}

// ------------------------------------------------------------------------------ time

const NowContext = createContext<number>(Date.now());

/** Ticks every 5 s so relative times stay fresh without a timer per row. */
export function NowProvider({ children }: { children: ReactNode }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  return <NowContext.Provider value={now}>{children}</NowContext.Provider>;
}

export function useSharedNow(): number {
  return useContext(NowContext);
}

/** "2 min ago", with the absolute time on hover. */
export function RelTime({ ms, empty = 'never' }: { ms: number | null | undefined; empty?: string }) {
  const now = useSharedNow();
  if (ms === null || ms === undefined) return <span className="muted">{empty}</span>;
  return (
    <time className="num" dateTime={new Date(ms).toISOString()} title={formatAbsolute(ms)}>
      {formatRelative(ms, Math.max(now, Date.now() - 60_000))}
    </time>
  );
}

// ------------------------------------------------------------------------------ mono text

/** A path, hash or argv shortened for display; full text on hover and copyable. */
export function MonoText({
  full,
  display,
  copy = true,
  className,
}: {
  full: string;
  display?: string;
  copy?: boolean;
  className?: string;
}) {
  const toast = useToast();
  return (
    <span className={`mono-text ${className ?? ''}`.trim()}>
      <span className="mono" title={full}>
        {display ?? full}
      </span>
      {copy ? (
        <button
          type="button"
          className="copy-inline"
          aria-label={`Copy ${full}`}
          title="Copy"
          onClick={(e) => {
            e.stopPropagation();
            void navigator.clipboard?.writeText(full).then(
              () => toast.show('Copied'),
              () => toast.show('Could not copy', 'error'),
            );
          }}
        >
          <Icon name="copy" size={12} />
        </button>
      ) : null}
    </span>
  );
}

// ------------------------------------------------------------------------------ forms

export function Field({
  label,
  hint,
  error,
  children,
  htmlFor,
  optional,
}: {
  label: ReactNode;
  hint?: ReactNode;
  error?: ReactNode;
  children: ReactNode;
  htmlFor?: string;
  optional?: boolean;
}) {
  return (
    <div className="field">
      <label className="field-label" htmlFor={htmlFor}>
        {label}
        {optional ? <span className="optional"> optional</span> : null}
      </label>
      {children}
      {error ? (
        <div className="field-error" role="alert">
          <Icon name="alert" size={12} />
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint">{hint}</div>
      ) : null}
    </div>
  );
}

/**
 * A password input that React never controls: the typed text lives only in the input's
 * value property, never in an attribute (React mirrors a controlled input's value into
 * the `value` attribute, which would put it in the page's HTML).
 */
export function PasswordInput({
  inputRef,
  id,
  onValue,
  onEnter,
  autoFocus,
  placeholder,
  autoComplete = 'current-password',
  invalid,
  describedBy,
  label,
}: {
  inputRef: RefObject<HTMLInputElement | null>;
  id?: string;
  onValue?: (value: string) => void;
  onEnter?: () => void;
  autoFocus?: boolean;
  placeholder?: string;
  autoComplete?: string;
  invalid?: boolean;
  describedBy?: string;
  label?: string;
}) {
  const [caps, updateCaps] = useCapsLock();
  const [visible, setVisible] = useState(false);
  const capsId = useId();
  return (
    <>
      <div className={`input-wrap ${invalid ? 'invalid' : ''}`}>
        <input
          ref={inputRef}
          id={id}
          className="input input-password"
          type={visible ? 'text' : 'password'}
          autoFocus={autoFocus}
          data-autofocus={autoFocus ? '' : undefined}
          autoComplete={autoComplete}
          spellCheck={false}
          placeholder={placeholder}
          aria-label={label}
          aria-invalid={invalid || undefined}
          aria-describedby={[describedBy, caps ? capsId : ''].filter(Boolean).join(' ') || undefined}
          onChange={(e) => onValue?.(e.currentTarget.value)}
          onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
            updateCaps(e);
            if (e.key === 'Enter' && onEnter) {
              e.preventDefault();
              onEnter();
            }
          }}
          onKeyUp={updateCaps}
          onMouseDown={updateCaps}
          onBlur={() => setVisible(false)}
        />
        <button
          type="button"
          className="input-affix"
          aria-label={visible ? 'Hide password' : 'Show password'}
          title={visible ? 'Hide' : 'Show'}
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => setVisible((v) => !v)}
        >
          <Icon name={visible ? 'eyeOff' : 'eye'} size={16} />
        </button>
      </div>
      {caps ? (
        <div className="caps-hint" id={capsId} role="status">
          <Icon name="capsLock" size={12} /> Caps Lock is on
        </div>
      ) : null}
    </>
  );
}

export function Toggle({
  checked,
  onChange,
  label,
  disabled,
  id,
}: {
  checked: boolean;
  onChange: (next: boolean) => void;
  label: string;
  disabled?: boolean;
  id?: string;
}) {
  return (
    <button
      type="button"
      id={id}
      role="switch"
      aria-checked={checked}
      aria-label={label}
      className="switch"
      disabled={disabled}
      onClick={() => onChange(!checked)}
    >
      <span className="switch-thumb" />
    </button>
  );
}

export function ErrorNote({ error, onRetry }: { error: UiError | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="note note-error" role="alert">
      <Icon name="alert" size={16} />
      <div>
        <div>{error.message}</div>
        {error.hint ? <div className="note-hint">{error.hint}</div> : null}
      </div>
      {onRetry ? (
        <Button size="sm" variant="ghost" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function EmptyState({ icon, title, children, action }: { icon: IconName; title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-icon">
        <Icon name={icon} size={20} />
      </div>
      <div className="empty-title">{title}</div>
      {children ? <div className="empty-body">{children}</div> : null}
      {action ? <div className="empty-action">{action}</div> : null}
    </div>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}…</span>
    </div>
  );
}

// ------------------------------------------------------------------------------ dialog

/** A modal on the native <dialog> (top layer, focus containment, Esc). */
export function Dialog({
  title,
  description,
  children,
  footer,
  onClose,
  width = 440,
  tone,
}: {
  title: string;
  description?: ReactNode;
  children?: ReactNode;
  footer?: ReactNode;
  onClose: () => void;
  width?: number;
  tone?: 'danger';
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const previous = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    // React's autoFocus runs while the dialog is still closed (and showModal then focuses
    // the first focusable element, the close button): focus what the content asked for.
    const wanted =
      dialog.querySelector<HTMLElement>('[data-autofocus]') ??
      dialog.querySelector<HTMLElement>('.dialog-body :is(input:not([type=hidden]), select, textarea)') ??
      dialog.querySelector<HTMLElement>('.dialog-foot button');
    wanted?.focus();
    const cancel = (e: Event) => {
      e.preventDefault();
      onCloseRef.current();
    };
    dialog.addEventListener('cancel', cancel);
    return () => {
      dialog.removeEventListener('cancel', cancel);
      if (dialog.open) dialog.close();
      previous?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={`dialog ${tone === 'danger' ? 'dialog-danger' : ''}`}
      style={{ width }}
      aria-labelledby={titleId}
      onMouseDown={(e) => {
        if (e.target === ref.current) onClose();
      }}
    >
      <div className="dialog-inner">
        <div className="dialog-head">
          <h2 id={titleId} className="dialog-title">
            {title}
          </h2>
          <IconButton icon="x" label="Close" onClick={onClose} />
        </div>
        {description ? <div className="dialog-desc">{description}</div> : null}
        {children ? <div className="dialog-body">{children}</div> : null}
        {footer ? <div className="dialog-foot">{footer}</div> : null}
      </div>
    </dialog>
  );
}

// ------------------------------------------------------------------------------ toasts

interface ToastItem {
  id: number;
  text: string;
  tone: 'info' | 'error';
}
interface ToastApi {
  show: (text: string, tone?: 'info' | 'error') => void;
}
const ToastContext = createContext<ToastApi>({ show: () => {} });

export function useToast(): ToastApi {
  return useContext(ToastContext);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const next = useRef(1);
  const show = useCallback((text: string, tone: 'info' | 'error' = 'info') => {
    const id = next.current++;
    setItems((list) => [...list.slice(-2), { id, text, tone }]);
    setTimeout(() => setItems((list) => list.filter((t) => t.id !== id)), tone === 'error' ? 6000 : 3500);
  }, []);
  const [api] = useState<ToastApi>(() => ({ show }));
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {items.map((t) => (
          <div key={t.id} className={`toast ${t.tone === 'error' ? 'toast-error' : ''}`}>
            <Icon name={t.tone === 'error' ? 'alert' : 'check'} size={14} />
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
