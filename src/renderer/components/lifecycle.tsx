/**
 * Secret lifecycle in the UI: one shared copy of `getLifecycle` (badges,
 * schedules, open alerts, guard settings — never a value), the badge next to a secret,
 * and the open-alerts banner with "Dismiss".
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { AlertView, LifecycleView, SecretLifecycleView } from '../../shared/contract';
import { api, toUiError } from '../lib/api';
import { formatAbsolute, formatRelative, sentence } from '../lib/format';
import { useEvent } from '../lib/hooks';
import { Icon } from './Icon';
import { Badge, Button, RelTime, useSharedNow, useToast } from './ui';

interface LifecycleApi {
  data: LifecycleView | null;
  byName: Map<string, SecretLifecycleView>;
  reload: () => void;
}

const LifecycleContext = createContext<LifecycleApi>({ data: null, byName: new Map(), reload: () => {} });

export function useLifecycle(): LifecycleApi {
  return useContext(LifecycleContext);
}

/** Audit events after which badges, schedules, alerts or guard settings may have changed. */
const RELOAD_ON = /^(rotation\.|guard\.|alert\.|secret\.(create|update|delete|policy|rotate|retire|prune)|vault\.)/;

export function LifecycleProvider({ children }: { children: ReactNode }) {
  const [data, setData] = useState<LifecycleView | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const seq = useRef(0);

  const load = useCallback(() => {
    const mine = ++seq.current;
    api()
      .getLifecycle({})
      .then((v) => {
        if (mine === seq.current) setData(v);
      })
      .catch(() => {
        // Locked meanwhile: the gate takes over; keep what we had.
      });
  }, []);

  /** Coalesces bursts of events into one load. */
  const reload = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      load();
    }, 120);
  }, [load]);

  useEffect(() => {
    load();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, [load]);
  useEvent('secretsChanged', reload);
  useEvent('activityAppended', (entries) => {
    if (entries.some((e) => RELOAD_ON.test(e.event))) reload();
  });

  const value = useMemo<LifecycleApi>(
    () => ({ data, byName: new Map((data?.secrets ?? []).map((s) => [s.name, s])), reload }),
    [data, reload],
  );
  return <LifecycleContext.Provider value={value}>{children}</LifecycleContext.Provider>;
}

// ------------------------------------------------------------------------------ badge

/** The most urgent lifecycle state of a secret, always as an icon and a word. */
export function LifecycleBadge({ l, quiet = false }: { l: SecretLifecycleView | undefined; quiet?: boolean }) {
  const now = useSharedNow();
  if (!l) return null;
  switch (l.badge) {
    case 'expired':
      return (
        <Badge tone="red" icon="xCircle" title={l.expiresAt ? `Expired ${formatAbsolute(l.expiresAt)} — agents are refused` : undefined}>
          expired
        </Badge>
      );
    case 'expiring':
      return (
        <Badge tone="amber" icon="clock" title={l.expiresAt ? `Expires ${formatAbsolute(l.expiresAt)}` : undefined}>
          expires {l.expiresAt ? formatRelative(l.expiresAt, now) : 'soon'}
        </Badge>
      );
    case 'rotation-failed':
      return (
        <Badge tone="red" icon="alert" title="The last scheduled rotation failed; see the alert in Activity">
          rotation failed
        </Badge>
      );
    case 'rotation-due':
      return (
        <Badge tone="amber" icon="refresh" title="A rotation is due and needs you (manual rotator)">
          rotation due
        </Badge>
      );
    case 'rotation-pending':
      return (
        <Badge
          tone="amber"
          icon="clock"
          title={
            l.rotationPendingAt ? `Waiting for the new value since ${formatAbsolute(l.rotationPendingAt)}` : 'Waiting for the new value'
          }
        >
          rotation pending
        </Badge>
      );
    case 'canary':
      return (
        <Badge tone="neutral" icon="bell" title="A canary: any request for it fires the anomaly guard">
          canary
        </Badge>
      );
    default:
      if (quiet) return null;
      if (l.nextRotationAt !== null) {
        return (
          <span className="lc-quiet num" title={`Next rotation ${formatAbsolute(l.nextRotationAt)}`}>
            <Icon name="refresh" size={12} /> rotates {formatRelative(l.nextRotationAt, now)}
          </span>
        );
      }
      if (l.expiresAt !== null) {
        return (
          <span className="lc-quiet num" title={`Expires ${formatAbsolute(l.expiresAt)}`}>
            <Icon name="clock" size={12} /> expires {formatRelative(l.expiresAt, now)}
          </span>
        );
      }
      return null;
  }
}

// ------------------------------------------------------------------------------ alerts

const ALERT_TITLES: Record<AlertView['kind'], string> = {
  'rotation.failed': 'Rotation failed',
  'rotation.due': 'Rotation due',
  'guard.fired': 'Guard fired',
  'tamper.row': 'Tampered row ignored',
};

/** Open alerts, newest first, each with Dismiss. Renders nothing when there are none. */
export function AlertsBanner({ max = 3 }: { max?: number }) {
  const { data, reload } = useLifecycle();
  const [expanded, setExpanded] = useState(false);
  const [busy, setBusy] = useState<number | 'all' | null>(null);
  const toast = useToast();
  const alerts = data?.alerts ?? [];
  if (alerts.length === 0) return null;
  const shown = expanded ? alerts : alerts.slice(0, max);

  const clear = async (which: { id: number } | { all: true }) => {
    setBusy('all' in which ? 'all' : which.id);
    try {
      const r = await api().clearAlert(which);
      toast.show(r.cleared === 1 ? 'Alert dismissed' : `${r.cleared} alerts dismissed`);
      reload();
    } catch (err) {
      toast.show(toUiError(err).message, 'error');
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="alerts" aria-label="Open alerts">
      <ul className="alerts-list">
        {shown.map((a) => (
          <li key={a.id} className={`alert alert-${a.kind === 'rotation.due' ? 'amber' : 'red'}`}>
            <Icon
              name={a.kind === 'guard.fired' ? 'shieldAlert' : a.kind === 'rotation.due' ? 'refresh' : 'alert'}
              size={16}
              className="alert-icon"
            />
            <div className="alert-text">
              <div className="alert-title">
                <strong>{ALERT_TITLES[a.kind]}</strong>
                {a.secret ? <span className="secret-name"> · {a.secret}</span> : null}
                {a.agent ? <span className="muted"> · {a.agent}</span> : null}
                <span className="muted alert-time">
                  {' · '}
                  <RelTime ms={a.ts} />
                </span>
              </div>
              <div className="alert-message" title={a.message}>
                {sentence(a.message)}
              </div>
            </div>
            {a.kind !== 'guard.fired' && a.secret ? (
              <a className="btn btn-secondary btn-sm" href={`#/secrets?rotate=${encodeURIComponent(a.secret)}`}>
                <Icon name="refresh" size={14} />
                Rotate…
              </a>
            ) : null}
            <Button
              size="sm"
              variant="ghost"
              onClick={() => void clear({ id: a.id })}
              busy={busy === a.id}
              disabled={busy !== null && busy !== a.id}
            >
              Dismiss
            </Button>
          </li>
        ))}
      </ul>
      {alerts.length > max || alerts.length > 1 ? (
        <div className="alerts-foot">
          {alerts.length > max ? (
            <Button size="sm" variant="ghost" onClick={() => setExpanded((v) => !v)}>
              {expanded ? 'Show fewer' : `Show all ${alerts.length}`}
            </Button>
          ) : null}
          <span className="spacer" />
          <Button
            size="sm"
            variant="ghost"
            onClick={() => void clear({ all: true })}
            busy={busy === 'all'}
            disabled={busy !== null && busy !== 'all'}
          >
            Dismiss all
          </Button>
        </div>
      ) : null}
    </section>
  );
}
