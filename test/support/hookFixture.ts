import type { EngineHooks } from '../../src/provisioner/engine.ts';

/** Engine hooks that kill a run right after `stepId` is checkpointed: it rejects with `killed`, as if its process died there. */
export function killedAfter(stepId: string | undefined): EngineHooks {
  return {
    afterCheckpoint: (_job, checkpointed) => {
      if (checkpointed === stepId) throw new Error('killed');
    },
  };
}
