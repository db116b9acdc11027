import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** The PEM CA in KAAS_CA_FILE: the CA of kaas' own certificate (clusters and the CLI trust it). */
export function readCaFile(path: string): string {
  let caPem: string;
  try {
    caPem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read KAAS_CA_FILE ${path}`, { field: 'KAAS_CA_FILE', cause: error });
  }
  if (!caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new InputError('KAAS_CA_FILE must hold a PEM certificate', { field: 'KAAS_CA_FILE' });
  return caPem;
}
