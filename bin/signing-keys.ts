/**
 * Reading the ed25519 keys the CLI is given (`--sign-key`, `--trust-key`). Every mistake is a
 * UsageError naming the flag and what the file actually is ("this is a public key"), never an
 * OpenSSL decoder message.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from './cli.js';

/** MAX_KEY_FILE_BYTES bounds a key file: a PEM key is a few hundred bytes. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** readKeyFile returns the file's text; too large, missing or unreadable is a UsageError naming `flag`. */
function readKeyFile(flag: string, file: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO given as a key file is refused below instead of blocking the open.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${flag}: ${file} is not a file`);
    // The size is checked before reading, and the read is bounded too (a file that grows, /proc).
    if (st.size > MAX_KEY_FILE_BYTES) throw new UsageError(`${flag}: ${file} is ${st.size} bytes; a PEM key is far smaller`);
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_KEY_FILE_BYTES) throw new UsageError(`${flag}: ${file} is over ${MAX_KEY_FILE_BYTES} bytes; a PEM key is far smaller`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function tryKey<T>(make: () => T): T | null {
  try {
    return make();
  } catch {
    return null;
  }
}

/**
 * readSigningKey reads an ed25519 private key in PEM form for `flag` (`--sign-key`) and returns
 * its PEM text. A public key, another key type or something that is no key at all is a
 * UsageError that says which.
 */
export function readSigningKey(flag: string, file: string): string {
  const pem = readKeyFile(flag, file);
  const key = tryKey(() => createPrivateKey(pem));
  if (key === null) {
    if (tryKey(() => createPublicKey(pem)) !== null) throw new UsageError(`${flag}: ${file} is a public key; signing needs the private key (weft keygen writes NAME.key beside NAME.pub)`);
    throw new UsageError(`${flag}: ${file} is not a PEM private key (weft keygen makes an ed25519 key pair)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${flag}: ${file} is a ${key.asymmetricKeyType ?? 'non-ed25519'} private key; bundles are signed with ed25519 (weft keygen makes one)`);
  return pem;
}

/**
 * readTrustKey reads the ed25519 public key that bundles must be signed with (`--trust-key`).
 * A private key is refused: a proxy needs only the public half, and the private one must not be
 * spread to every machine.
 */
export function readTrustKey(flag: string, file: string): KeyObject {
  const pem = readKeyFile(flag, file);
  if (tryKey(() => createPrivateKey(pem)) !== null) throw new UsageError(`${flag}: ${file} is a private key; give proxies the public key only (NAME.pub from weft keygen)`);
  const key = tryKey(() => createPublicKey(pem));
  if (key === null) throw new UsageError(`${flag}: ${file} is not a PEM public key (weft keygen writes NAME.pub)`);
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${flag}: ${file} is a ${key.asymmetricKeyType ?? 'non-ed25519'} public key; bundles are signed with ed25519`);
  return key;
}
