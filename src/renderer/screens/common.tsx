/** Pieces shared by the main-window screens: the page header and labels. */
import type { ReactNode } from 'react';
import type { GrantView } from '../../shared/contract';
import type { SecretType } from '../../shared/secrets';
import { Badge } from '../components/ui';
import { formatCountdown, formatDuration } from '../lib/format';

export function PageHeader({ title, meta, actions }: { title: string; meta?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-head">
      <div className="page-title-row">
        <h1 className="h-title">{title}</h1>
        {meta ? <div className="page-meta">{meta}</div> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

export const TYPE_LABELS: Record<SecretType, string> = {
  api_key: 'API key',
  token: 'Token',
  oauth: 'OAuth',
  password: 'Password',
  db_credential: 'Database',
  webhook_secret: 'Webhook secret',
  ssh_key: 'SSH key',
  generic: 'Generic',
};

/** "until lock", "for 14:32", "once", "always". */
export function GrantScope({ grant }: { grant: GrantView }) {
  if (grant.scope === 'once') return <span>once{grant.usesLeft !== null ? ` · ${grant.usesLeft} left` : ''}</span>;
  if (grant.scope === 'until_lock') return <span>until lock</span>;
  if (grant.scope === 'always') return <span>always</span>;
  return <span>{grant.expiresAt !== null ? `for ${formatDuration(grant.expiresAt - grant.createdAt)}` : 'timed'}</span>;
}

/** Time left on a grant as a live countdown (amber when under a minute). */
export function TimeLeft({ expiresAt, now }: { expiresAt: number | null; now: number }) {
  if (expiresAt === null) return <span className="muted">no expiry</span>;
  const left = expiresAt - now;
  if (left <= 0) return <Badge tone="grey">expired</Badge>;
  if (left < 60_000)
    return (
      <Badge tone="amber" icon="timer">
        {formatCountdown(left)}
      </Badge>
    );
  return (
    <span className="num countdown-plain" title={new Date(expiresAt).toLocaleString()}>
      {formatCountdown(left)}
    </span>
  );
}
