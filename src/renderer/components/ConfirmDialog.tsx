/** A danger confirmation whose action is one async call, and the busy/error state behind it. */
import { useCallback, useRef, useState, type ReactNode } from 'react';
import { toUiError, type UiError } from '../lib/api';
import type { IconName } from './Icon';
import { Button, Dialog, ErrorNote } from './ui';

/**
 * Busy and error state for one async action. `run` ignores calls while one is under way;
 * on success it calls `onDone`, on failure it keeps the error and clears busy so the user
 * can try again.
 */
export function useAsyncAction(): {
  busy: boolean;
  error: UiError | null;
  run: (action: () => Promise<unknown>, onDone: () => void) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const busyRef = useRef(false);
  const run = useCallback(async (action: () => Promise<unknown>, onDone: () => void) => {
    if (busyRef.current) return;
    busyRef.current = true;
    setBusy(true);
    try {
      await action();
      onDone();
    } catch (err) {
      setError(toUiError(err));
      busyRef.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

/** "Are you sure?" with Cancel (focused) and a danger button that runs `action`. */
export function ConfirmDialog({
  title,
  description,
  confirmLabel,
  confirmIcon,
  action,
  onClose,
  onDone,
}: {
  title: string;
  description: ReactNode;
  confirmLabel: ReactNode;
  confirmIcon?: IconName;
  action: () => Promise<unknown>;
  onClose: () => void;
  onDone: () => void;
}) {
  const { busy, error, run } = useAsyncAction();
  return (
    <Dialog
      title={title}
      tone="danger"
      onClose={onClose}
      description={description}
      footer={
        <>
          <Button onClick={onClose} autoFocus>
            Cancel
          </Button>
          <Button variant="danger" icon={confirmIcon} busy={busy} onClick={() => void run(action, onDone)}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      {error ? <ErrorNote error={error} /> : null}
    </Dialog>
  );
}
