/** Agents: registered agents and their rules, standing grants, blocked programs. */
import { useId, useState, type ReactNode } from 'react';
import type { AgentView, GrantView } from '../../shared/contract';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Badge, Button, Dialog, EmptyState, ErrorNote, Field, MonoText, RelTime, Spinner, useToast } from '../components/ui';
import { api, toUiError, type UiError } from '../lib/api';
import { displayPath, shortHash } from '../lib/format';
import { useEvent, useLoad, useNow } from '../lib/hooks';
import { GrantScope, PageHeader, TimeLeft } from './common';

export function Agents() {
  const agents = useLoad(() => api().listAgents({}));
  const grants = useLoad(() => api().listGrants({}));
  const [registering, setRegistering] = useState(false);
  const [revoking, setRevoking] = useState<AgentView | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const toast = useToast();
  const now = useNow(1000);

  const reload = () => {
    void agents.reload();
    void grants.reload();
  };
  // Grants and agents change with approvals and with activity (registrations, blocks).
  useEvent('approvalsChanged', () => void grants.reload());
  useEvent('activityAppended', (entries) => {
    if (entries.some((e) => e.event.startsWith('agent.') || e.event.startsWith('grant.') || e.event === 'approval.decide')) reload();
  });

  const allowGrants = (grants.data ?? []).filter((g) => g.effect === 'allow');
  const blocked = (grants.data ?? []).filter((g) => g.effect === 'deny');

  const revokeGrant = async (g: GrantView, what: 'revoke' | 'unblock') => {
    setError(null);
    try {
      await api().revokeGrant({ id: g.id });
      toast.show(what === 'unblock' ? `Unblocked ${g.requester}` : 'Grant revoked');
      void grants.reload();
    } catch (err) {
      setError(toUiError(err));
    }
  };

  return (
    <div className="page">
      <PageHeader
        title="Agents"
        actions={
          <Button variant="primary" icon="plus" onClick={() => setRegistering(true)}>
            Register agent
          </Button>
        }
      />
      <div className="page-scroll">
        <ErrorNote error={error} />

        <section className="section" aria-labelledby="agents-h">
          <div className="section-head">
            <h2 className="h-section" id="agents-h">
              Registered agents
            </h2>
            {agents.data ? <span className="muted num">{agents.data.length}</span> : null}
            <p className="section-sub">Requests that match an agent&apos;s program and rules are shown under its name.</p>
          </div>
          {agents.error ? (
            <ErrorNote error={agents.error} onRetry={() => void agents.reload()} />
          ) : !agents.data ? (
            <Spinner label="Loading agents" />
          ) : agents.data.length === 0 ? (
            <div className="card">
              <EmptyState
                icon="agents"
                title="No agents yet"
                action={
                  <Button icon="plus" onClick={() => setRegistering(true)}>
                    Register agent
                  </Button>
                }
              >
                Run <code>akc get NAME</code> from an agent and approve it, or register a program here so its requests show its name.
              </EmptyState>
            </div>
          ) : (
            <div className="card">
              <table className="table" aria-label="Registered agents">
                <thead>
                  <tr>
                    <th className="w-name">Name</th>
                    <th className="w-program">Program</th>
                    <th className="w-fp">Fingerprint</th>
                    <th className="w-rules">Rules</th>
                    <th className="w-when">Last seen</th>
                    <th className="col-actions">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {agents.data.map((a) => (
                    <tr key={a.id}>
                      <td className="strong">{a.name}</td>
                      <td>
                        <MonoText full={a.exePath} display={displayPath(a.exePath, 30)} />
                      </td>
                      <td>
                        {a.exeSha256 ? (
                          <MonoText full={a.exeSha256} display={`sha256 ${shortHash(a.exeSha256)}`} />
                        ) : (
                          <span className="muted" title="Any build of this program matches">
                            any version
                          </span>
                        )}
                      </td>
                      <td>
                        <Rules agent={a} />
                      </td>
                      <td>
                        <RelTime ms={a.lastSeenAt} />
                      </td>
                      <td className="col-actions">
                        <Button size="sm" variant="ghost" onClick={() => setRevoking(a)}>
                          Revoke
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>

        <section className="section" aria-labelledby="grants-h">
          <div className="section-head">
            <h2 className="h-section" id="grants-h">
              Grants
            </h2>
            {grants.data ? <span className="muted num">{allowGrants.length}</span> : null}
            <p className="section-sub">
              Standing permissions you gave from approval prompts. Revoking one makes the next request ask again.
            </p>
          </div>
          {grants.error ? (
            <ErrorNote error={grants.error} onRetry={() => void grants.reload()} />
          ) : !grants.data ? (
            <Spinner label="Loading grants" />
          ) : allowGrants.length === 0 ? (
            <div className="card card-quiet">
              <p className="quiet-line">
                No standing grants. Choose “15 min”, “1 h”, “until lock” or “always” in an approval prompt to create one.
              </p>
            </div>
          ) : (
            <div className="card">
              <table className="table" aria-label="Grants">
                <thead>
                  <tr>
                    <th className="w-requester">Requester</th>
                    <th className="w-secrets">Secrets</th>
                    <th className="w-scope">Scope</th>
                    <th className="w-left">Time left</th>
                    <th className="w-when">Granted</th>
                    <th className="col-actions">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {allowGrants.map((g) => (
                    <GrantRow key={g.id} g={g} actionLabel="Revoke" onAction={() => void revokeGrant(g, 'revoke')}>
                      <td>
                        <GrantScope grant={g} />
                      </td>
                      <td>{g.scope === 'duration' ? <TimeLeft expiresAt={g.expiresAt} now={now} /> : <span className="muted">—</span>}</td>
                    </GrantRow>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>

        <section className="section" aria-labelledby="blocked-h">
          <div className="section-head">
            <h2 className="h-section" id="blocked-h">
              Blocked programs
            </h2>
            {grants.data ? <span className="muted num">{blocked.length}</span> : null}
            <p className="section-sub">Requests from these are denied without asking you.</p>
          </div>
          {grants.data && blocked.length === 0 ? (
            <div className="card card-quiet">
              <p className="quiet-line">Nothing blocked. Use “Deny &amp; block” in a prompt or “Block program” in Activity.</p>
            </div>
          ) : grants.data ? (
            <div className="card">
              <table className="table" aria-label="Blocked programs">
                <thead>
                  <tr>
                    <th className="w-requester">Requester</th>
                    <th className="w-secrets">Secrets</th>
                    <th className="w-scope">Status</th>
                    <th className="w-when">Blocked</th>
                    <th className="col-actions">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {blocked.map((g) => (
                    <GrantRow key={g.id} g={g} actionLabel="Unblock" onAction={() => void revokeGrant(g, 'unblock')}>
                      <td>
                        <Badge tone="red" icon="ban">
                          blocked
                        </Badge>
                      </td>
                    </GrantRow>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </section>
      </div>

      {registering ? (
        <RegisterAgentDialog
          onClose={() => setRegistering(false)}
          onDone={(a) => {
            setRegistering(false);
            toast.show(`Registered ${a.name}`);
            void agents.reload();
          }}
        />
      ) : null}
      {revoking ? (
        <RevokeAgentDialog
          agent={revoking}
          onClose={() => setRevoking(null)}
          onDone={() => {
            toast.show(`Revoked ${revoking.name}`);
            setRevoking(null);
            reload();
          }}
        />
      ) : null}
    </div>
  );
}

/** A grants-table row: requester and secrets, the table's own cells, then when and one action. */
function GrantRow({
  g,
  children,
  actionLabel,
  onAction,
}: {
  g: GrantView;
  children: ReactNode;
  actionLabel: string;
  onAction: () => void;
}) {
  return (
    <tr>
      <td>
        <Requester g={g} />
      </td>
      <td>
        <span className="mono">{g.secretPattern}</span>
      </td>
      {children}
      <td>
        <RelTime ms={g.createdAt} />
      </td>
      <td className="col-actions">
        <Button size="sm" variant="ghost" onClick={onAction}>
          {actionLabel}
        </Button>
      </td>
    </tr>
  );
}

function Requester({ g }: { g: GrantView }) {
  return (
    <div className="requester">
      <span className="strong">{g.requester}</span>
      {g.exePath ? <MonoText full={g.exePath} display={displayPath(g.exePath, 28)} className="sub" /> : null}
    </div>
  );
}

function Rules({ agent }: { agent: AgentView }) {
  if (!agent.argPattern && !agent.cwdPattern) return <span className="muted">program only</span>;
  return (
    <span className="rules">
      {agent.argPattern ? (
        <span className="rule" title={`Arguments match ${agent.argPattern}`}>
          <span className="rule-k">args</span> <span className="mono">{agent.argPattern}</span>
        </span>
      ) : null}
      {agent.cwdPattern ? (
        <span className="rule" title={`Working directory matches ${agent.cwdPattern}`}>
          <span className="rule-k">cwd</span> <span className="mono">{displayPath(agent.cwdPattern, 24)}</span>
        </span>
      ) : null}
    </span>
  );
}

export function RegisterAgentDialog({
  onClose,
  onDone,
  initial,
}: {
  onClose: () => void;
  onDone: (a: AgentView) => void;
  initial?: { exePath?: string };
}) {
  const [name, setName] = useState('');
  const [exePath, setExePath] = useState(initial?.exePath ?? '');
  const [pin, setPin] = useState(true);
  const [argPattern, setArgPattern] = useState('');
  const [cwdPattern, setCwdPattern] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const ids = { name: useId(), exe: useId(), pin: useId(), arg: useId(), cwd: useId() };
  const nameOk = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name);
  const ready = nameOk && exePath.trim().length > 0;

  const submit = async () => {
    if (!ready || busy) return;
    setBusy(true);
    setError(null);
    try {
      const a = await api().registerAgent({
        name,
        exePath: exePath.trim(),
        pinSha256: pin,
        ...(argPattern.trim() ? { argPattern: argPattern.trim() } : {}),
        ...(cwdPattern.trim() ? { cwdPattern: cwdPattern.trim() } : {}),
      });
      onDone(a);
    } catch (err) {
      setError(toUiError(err));
      setBusy(false);
    }
  };

  return (
    <Dialog
      title="Register agent"
      onClose={onClose}
      width={500}
      description="Give a program a name. Its requests then show that name, and grants follow it."
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" onClick={() => void submit()} disabled={!ready} busy={busy}>
            Register
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
        <Field
          label="Name"
          htmlFor={ids.name}
          error={name && !nameOk ? 'Letters, digits, _ . - (up to 64, starting with a letter or digit).' : undefined}
        >
          <input
            id={ids.name}
            className="input"
            value={name}
            autoFocus
            placeholder="claude-code"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field label="Executable" htmlFor={ids.exe} hint="The absolute path of the program (for node or python agents, the interpreter).">
          <input
            id={ids.exe}
            className="input mono"
            value={exePath}
            placeholder="/usr/local/bin/claude"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setExePath(e.currentTarget.value)}
          />
        </Field>
        <div className="check-row">
          <input id={ids.pin} type="checkbox" checked={pin} onChange={(e) => setPin(e.currentTarget.checked)} />
          <div>
            <label htmlFor={ids.pin} className="check-label">
              Pin to the current SHA-256
            </label>
            <p className="check-note">If the program changes (an update, or tampering), its requests are treated as new and ask again.</p>
          </div>
        </div>
        <div className="grid-2">
          <Field label="Arguments match" htmlFor={ids.arg} optional>
            <input
              id={ids.arg}
              className="input mono"
              value={argPattern}
              placeholder="*eval*"
              onChange={(e) => setArgPattern(e.currentTarget.value)}
            />
          </Field>
          <Field label="Working directory" htmlFor={ids.cwd} optional>
            <input
              id={ids.cwd}
              className="input mono"
              value={cwdPattern}
              placeholder="~/src/*"
              onChange={(e) => setCwdPattern(e.currentTarget.value)}
            />
          </Field>
        </div>
        <ErrorNote error={error} />
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}

function RevokeAgentDialog({ agent, onClose, onDone }: { agent: AgentView; onClose: () => void; onDone: () => void }) {
  return (
    <ConfirmDialog
      title={`Revoke ${agent.name}?`}
      onClose={onClose}
      description={
        <>
          Its grants and leases end now. Its program can still ask, as an unregistered program, and every request will need your approval
          again.
        </>
      }
      confirmLabel="Revoke agent"
      action={() => api().revokeAgent({ name: agent.name })}
      onDone={onDone}
    />
  );
}
