/**
 * The one import of @peculiar/x509: its 2.x builds need `reflect-metadata` loaded first (they
 * throw on import otherwise), so every module of Weft imports certificates from here.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
