/**
 * IPC generated from the contract: one `akc:<verb>` handler per verb, each validating its
 * input through DesktopService.dispatch. Only our own windows' main frames may call, and
 * the approval popup only the few verbs it needs. Replies carry errors inside the value
 * (`{ ok, value | error }`) because Electron keeps only an error's message.
 */
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { VERBS, type EventName, type EventPayloads, type Verb } from '../shared/contract';
import type { DesktopService } from '../core/desktop/service';

export type CallerKind = 'main' | 'popup' | null;

const POPUP_VERBS: ReadonlySet<Verb> = new Set<Verb>(['getAppState', 'listApprovals', 'decideApproval', 'getSettings']);

export function registerIpc(service: DesktopService, callerOf: (e: IpcMainInvokeEvent) => CallerKind): void {
  for (const verb of VERBS) {
    ipcMain.handle('akc:' + verb, (e, input: unknown) => {
      const caller = callerOf(e);
      if (caller === null || (caller === 'popup' && !POPUP_VERBS.has(verb))) {
        return { ok: false, error: { code: 'DENIED', message: `denied: ${verb} is not available here` } };
      }
      return service.dispatchEnvelope(verb, input);
    });
  }
}

/** Forwards every contract event to the given windows' web contents. */
export function forwardEvents(service: DesktopService, targets: () => (WebContents | null | undefined)[]): void {
  const send = <E extends EventName>(name: E, payload: EventPayloads[E]): void => {
    for (const wc of targets()) if (wc && !wc.isDestroyed()) wc.send('akc:event', name, payload);
  };
  service.on('stateChanged', (p) => send('stateChanged', p));
  service.on('approvalsChanged', (p) => send('approvalsChanged', p));
  service.on('activityAppended', (p) => send('activityAppended', p));
  service.on('secretsChanged', (p) => send('secretsChanged', p));
}
