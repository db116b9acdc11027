import { useState } from 'react';

/**
 * A dialog's one write: `run` calls `action`, then `onDone` (closing the dialog); a failure stays
 * in `error` for the dialog to show, and the dialog stays open.
 */
export function useSubmit(action: () => Promise<void>, onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      onDone();
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
  return { busy, error, run };
}
