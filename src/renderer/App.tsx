/** Routing by hash: `#/approval` is the approval popup; everything else is the main window. */
import { useCallback, useEffect, useState } from 'react';
import type { AppState, ApprovalView } from '../shared/contract';
import { AppMark, Icon, type IconName } from './components/Icon';
import { LifecycleProvider, useLifecycle } from './components/lifecycle';
import { Button, Dialog, ErrorNote, NowProvider, Spinner, ToastProvider, useToast } from './components/ui';
import { api, hasApi, toUiError, type UiError } from './lib/api';
import { learnHome } from './lib/format';
import { parseRoute, useEvent, useHashRoute } from './lib/hooks';
import { Activity } from './screens/Activity';
import { Agents } from './screens/Agents';
import { ApprovalPanel, ApprovalWindow } from './screens/Approval';
import { HostConflictBanner, Setup, Unlock } from './screens/Gate';
import { Secrets } from './screens/Secrets';
import { SettingsScreen } from './screens/Settings';

export function App() {
  const route = useHashRoute();
  if (!hasApi()) {
    return (
      <main className="gate">
        <div className="gate-card">
          <ErrorNote
            error={{ code: 'INTERNAL', message: 'This page must run inside Agent Keychain.', hint: 'Start the app with `npm start`.' }}
          />
        </div>
      </main>
    );
  }
  return (
    <NowProvider>
      <ToastProvider>
        {route.startsWith('/approval') ? <ApprovalWindow requestId={parseRoute(route).params.get('id')} /> : <MainWindow route={route} />}
      </ToastProvider>
    </NowProvider>
  );
}

function MainWindow({ route }: { route: string }) {
  const [state, setState] = useState<AppState | null>(null);
  const [error, setError] = useState<UiError | null>(null);

  const load = useCallback(() => {
    setError(null);
    api()
      .getAppState({})
      .then(setState)
      .catch((err: unknown) => setError(toUiError(err)));
  }, []);
  useEffect(load, [load]);
  useEvent('stateChanged', setState);
  useEffect(() => {
    if (state) learnHome(state.dataDir);
  }, [state]);

  if (error && !state) {
    return (
      <main className="gate">
        <div className="gate-card">
          <ErrorNote error={error} onRetry={load} />
        </div>
      </main>
    );
  }
  if (!state) return <Spinner label="Opening Agent Keychain" />;

  const banner = state.hostConflict ? <HostConflictBanner message={state.hostConflict} /> : null;
  if (state.vault === 'uninitialized') {
    document.title = 'Set up — Agent Keychain';
    return (
      <>
        {banner}
        <Setup state={state} onState={setState} />
      </>
    );
  }
  if (state.vault === 'locked') {
    document.title = 'Locked — Agent Keychain';
    return (
      <>
        {banner}
        <Unlock state={state} onState={setState} />
      </>
    );
  }
  return (
    <>
      {banner}
      <Shell state={state} route={route} onState={setState} />
    </>
  );
}

const NAV: { path: string; label: string; icon: IconName }[] = [
  { path: '/secrets', label: 'Secrets', icon: 'key' },
  { path: '/agents', label: 'Agents', icon: 'agents' },
  { path: '/activity', label: 'Activity', icon: 'activity' },
  { path: '/settings', label: 'Settings', icon: 'settings' },
];

function Shell(props: { state: AppState; route: string; onState: (s: AppState) => void }) {
  return (
    <LifecycleProvider>
      <ShellInner {...props} />
    </LifecycleProvider>
  );
}

function ShellInner({ state, route, onState }: { state: AppState; route: string; onState: (s: AppState) => void }) {
  const { path, params } = parseRoute(route);
  const screen = NAV.find((n) => path.startsWith(n.path))?.path ?? '/secrets';
  const lifecycle = useLifecycle();
  const alertCount = lifecycle.data?.alerts.length ?? 0;
  const [approvals, setApprovals] = useState<ApprovalView[]>([]);
  const [showPending, setShowPending] = useState(false);
  const [locking, setLocking] = useState(false);
  const toast = useToast();

  useEffect(() => {
    api()
      .listApprovals({})
      .then(setApprovals)
      .catch(() => {});
  }, []);
  useEvent('approvalsChanged', setApprovals);
  const pending = Math.max(approvals.length, 0);

  useEffect(() => {
    document.title = `${NAV.find((n) => n.path === screen)?.label ?? 'Secrets'} — Agent Keychain`;
  }, [screen]);

  const lock = async () => {
    setLocking(true);
    try {
      onState(await api().lock({}));
    } catch (err) {
      toast.show(toUiError(err).message, 'error');
      setLocking(false);
    }
  };

  return (
    <div className="shell">
      <nav className="rail" aria-label="Main">
        <div className="rail-brand">
          <AppMark size={24} />
          <span>Agent Keychain</span>
        </div>
        {pending > 0 ? (
          <button type="button" className="rail-pending" onClick={() => setShowPending(true)}>
            <Icon name="clock" size={16} />
            <span>
              {pending} pending {pending === 1 ? 'approval' : 'approvals'}
            </span>
            <Icon name="chevronRight" size={14} className="rail-pending-go" />
          </button>
        ) : null}
        <ul className="rail-nav">
          {NAV.map((n) => (
            <li key={n.path}>
              <a
                href={`#${n.path}`}
                className={`rail-link ${screen === n.path ? 'active' : ''}`}
                aria-current={screen === n.path ? 'page' : undefined}
              >
                <Icon name={n.icon} size={16} />
                <span className="rail-label">{n.label}</span>
                {n.path === '/activity' && alertCount > 0 ? (
                  <span className="rail-count" title={`${alertCount} open ${alertCount === 1 ? 'alert' : 'alerts'}`}>
                    <Icon name="alert" size={12} />
                    <span className="num">{alertCount}</span>
                    <span className="sr-only">{alertCount === 1 ? 'open alert' : 'open alerts'}</span>
                  </span>
                ) : null}
              </a>
            </li>
          ))}
        </ul>
        <div className="rail-foot">
          <div className="lock-state" title="Agents can get secrets (subject to your approval) while the vault is unlocked">
            <Icon name="unlock" size={14} />
            <span>Unlocked</span>
          </div>
          <Button
            size="sm"
            icon="lock"
            onClick={() => void lock()}
            busy={locking}
            className="rail-lock"
            title="Lock now (agents will wait for unlock)"
          >
            Lock
          </Button>
        </div>
      </nav>
      <div className="content">
        {screen === '/secrets' ? <Secrets rotateRequest={params.get('rotate')} /> : null}
        {screen === '/agents' ? <Agents /> : null}
        {screen === '/activity' ? <Activity /> : null}
        {screen === '/settings' ? <SettingsScreen state={state} /> : null}
      </div>
      {showPending && approvals.length > 0 ? (
        <Dialog title="Pending approval" onClose={() => setShowPending(false)} width={520}>
          <ApprovalPanel
            key={approvals[0]!.id}
            approval={approvals[0]!}
            waiting={approvals.length - 1}
            variant="inline"
            onDecided={(id) => {
              const rest = approvals.filter((x) => x.id !== id);
              setApprovals(rest);
              if (rest.length === 0) setShowPending(false);
            }}
          />
        </Dialog>
      ) : null}
    </div>
  );
}
