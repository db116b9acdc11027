import type { Command } from 'commander';

/**
 * One top-level command: its name and one-line summary (what `kaas --help` lists without loading
 * it) and how to register the real command, imported only when it runs, so `kaas credential`
 * (run by kubectl on every call) does not load the server, the store or the Kubernetes client.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  register(program: Command): Promise<void>;
}

/** Every top-level command, in `kaas --help` order; summaries match the commands' descriptions (program.test.ts). */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'dev',
    summary: 'run kaas with its embedded cloud (cloudsim) and job worker on 127.0.0.1',
    register: async (program) => (await import('./dev.ts')).registerDevCommand(program),
  },
  {
    name: 'login',
    summary: 'log in with your OpenStack (Keystone) credentials and save an API token for kubectl',
    register: async (program) => void (await import('./login.ts')).registerLoginCommand(program),
  },
  {
    name: 'token',
    summary: 'manage your kaas API tokens',
    register: async (program) => void (await import('./token.ts')).registerTokenCommand(program),
  },
  {
    name: 'credential',
    summary: 'print a kubectl ExecCredential with your kaas token (kubectl exec plugin)',
    register: async (program) => void (await import('./credential.ts')).registerCredentialCommand(program),
  },
  {
    name: 'cluster',
    summary: 'create and operate Kubernetes clusters',
    register: async (program) => (await import('./cluster.ts')).registerClusterCommands(program),
  },
  {
    name: 'secrets',
    summary: 'manage the key that seals cluster secrets at rest',
    register: async (program) => void (await import('./secrets.ts')).registerSecretsCommand(program),
  },
  {
    name: 'serve',
    summary: 'run a kaas replica: API, TokenReview webhook, control panel and job worker',
    register: async (program) => (await import('./serve.ts')).registerServeCommand(program),
  },
];
