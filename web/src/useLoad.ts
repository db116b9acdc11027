import { useEffect, useRef, useState } from 'react';

/** Loading state of one API read, with `reload` for after a write or a retry. */
export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `key` changes; the latest call wins, so switching clusters never shows stale data. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  // The latest `load` is read through a ref: a stable function (e.g. api.listTokens) must still rerun on reload.
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let current = true;
    setState((s) => ({ data: s.data, loading: true }));
    latest.current().then(
      (data) => current && setState({ data, loading: false }),
      (error: Error) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  return { ...state, data: state.data, error: state.error, reload: () => setGeneration((g) => g + 1) };
}
