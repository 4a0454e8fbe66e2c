/**
 * The tray menu as a pure function of state (tested in Node). The Electron main turns the
 * items into a `Menu` and calls `setContextMenu` again on every change (Linux trays only
 * show the menu; they ignore clicks on the icon).
 */
import type { VaultStatus } from '../../shared/contract.js';

export type TrayAction = 'lock' | 'unlock' | 'setup' | 'open' | 'activity' | 'quit' | `approval:${string}` | `rotate:${string}`;

export type TrayItem =
  | { kind: 'action'; label: string; action: TrayAction; enabled: boolean }
  | { kind: 'label'; label: string }
  | { kind: 'submenu'; label: string; enabled: boolean; items: TrayItem[] }
  | { kind: 'separator' };

export interface TrayApproval {
  id: string;
  /** Agent name or program label. */
  program: string;
  secrets: string[];
  count: number;
}

export interface TrayState {
  vault: VaultStatus;
  hostConflict: boolean;
  approvals: readonly TrayApproval[];
  /** Secret names (known only while unlocked). */
  secrets: readonly string[];
}

export type TrayIcon = 'locked' | 'unlocked' | 'pending';

/** Items shown per submenu before "n more…". */
export const TRAY_LIST_MAX = 12;

export function trayIconFor(state: Pick<TrayState, 'vault' | 'approvals'>): TrayIcon {
  if (state.approvals.length > 0) return 'pending';
  return state.vault === 'unlocked' ? 'unlocked' : 'locked';
}

export function trayTooltip(state: TrayState): string {
  if (state.hostConflict) return 'Agent Keychain — another host is running';
  const vault = state.vault === 'uninitialized' ? 'not set up' : state.vault;
  const n = state.approvals.length;
  return `Agent Keychain — ${vault}${n ? ` · ${n} pending ${n === 1 ? 'approval' : 'approvals'}` : ''}`;
}

function approvalLabel(a: TrayApproval): string {
  const secrets = a.secrets.length > 2 ? `${a.secrets.slice(0, 2).join(', ')} +${a.secrets.length - 2}` : a.secrets.join(', ');
  return `${a.program} → ${secrets}${a.count > 1 ? ` (×${a.count})` : ''}`;
}

function capped<T>(list: readonly T[], item: (x: T) => TrayItem): TrayItem[] {
  const items = list.slice(0, TRAY_LIST_MAX).map(item);
  if (list.length > TRAY_LIST_MAX) items.push({ kind: 'label', label: `${list.length - TRAY_LIST_MAX} more…` });
  return items;
}

export function trayMenuModel(state: TrayState): TrayItem[] {
  const tail: TrayItem[] = [
    { kind: 'separator' },
    { kind: 'action', label: 'Open Agent Keychain', action: 'open', enabled: true },
    { kind: 'action', label: 'Activity log', action: 'activity', enabled: state.vault === 'unlocked' && !state.hostConflict },
    { kind: 'separator' },
    { kind: 'action', label: 'Quit Agent Keychain', action: 'quit', enabled: true },
  ];
  if (state.hostConflict) {
    return [{ kind: 'label', label: 'Another Agent Keychain host is running' }, ...tail];
  }
  if (state.vault === 'uninitialized') {
    return [{ kind: 'action', label: 'Set up Agent Keychain…', action: 'setup', enabled: true }, ...tail];
  }
  const unlocked = state.vault === 'unlocked';
  const items: TrayItem[] = [
    { kind: 'label', label: unlocked ? 'Vault unlocked' : 'Vault locked' },
    unlocked
      ? { kind: 'action', label: 'Lock', action: 'lock', enabled: true }
      : { kind: 'action', label: 'Unlock…', action: 'unlock', enabled: true },
    { kind: 'separator' },
  ];
  const n = state.approvals.length;
  items.push(
    n === 0
      ? { kind: 'label', label: 'No pending approvals' }
      : {
          kind: 'submenu',
          label: `Pending approvals (${n})`,
          enabled: true,
          items: capped(state.approvals, (a) => ({ kind: 'action', label: approvalLabel(a), action: `approval:${a.id}`, enabled: true })),
        },
  );
  items.push({
    kind: 'submenu',
    label: 'Rotate',
    enabled: unlocked,
    items:
      !unlocked || state.secrets.length === 0
        ? [{ kind: 'label', label: unlocked ? 'No secrets' : 'Unlock to rotate' }]
        : capped(state.secrets, (name) => ({ kind: 'action', label: `${name}…`, action: `rotate:${name}`, enabled: true })),
  });
  return [...items, ...tail];
}

/** Parses an action id back (for the click handler). */
export function parseTrayAction(action: TrayAction): { kind: 'approval' | 'rotate'; arg: string } | { kind: TrayAction; arg: null } {
  if (action.startsWith('approval:')) return { kind: 'approval', arg: action.slice('approval:'.length) };
  if (action.startsWith('rotate:')) return { kind: 'rotate', arg: action.slice('rotate:'.length) };
  return { kind: action, arg: null };
}
