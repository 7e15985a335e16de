import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { IdentityError } from '../identity/errors.js';
import type { JoinTokenClaims } from '../identity/join-token.js';
import { ControllerError, messageOf } from './errors.js';

/**
 * TokenLedger counts join-token uses durably, so a one-use token works once, across controller
 * restarts. The ledger is `<store>/join-tokens.json`: `{"<token id>": {"used": n, "exp": <epoch s>}}`.
 * A use is written (temp file, fsync, rename) before the certificate is issued: a crash between
 * the two wastes a use, never grants a second one. Entries of expired tokens are dropped (an
 * expired token is refused anyway). Consumes are serialised.
 */
export class TokenLedger {
  private used = new Map<string, { used: number; exp: number }>();
  private loaded = false;
  private chain: Promise<unknown> = Promise.resolve();
  readonly file: string;

  constructor(storeDir: string) {
    this.file = path.join(storeDir, 'join-tokens.json');
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ControllerError('WEFT_CTL_TOKEN_LEDGER', `cannot read ${this.file}: ${messageOf(err)}`);
      text = '{}';
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      // Refusing every token is the safe answer to a damaged ledger: it cannot tell used from unused.
      throw new ControllerError('WEFT_CTL_TOKEN_LEDGER', `${this.file} is not JSON (${messageOf(err)}); move it aside to accept tokens again (used tokens would then work once more)`);
    }
    for (const [id, v] of Object.entries(value as Record<string, { used?: unknown; exp?: unknown }>)) {
      if (typeof v?.used === 'number' && typeof v.exp === 'number') this.used.set(id, { used: v.used, exp: v.exp });
    }
    this.loaded = true;
  }

  /**
   * check throws IdentityError WEFT_ID_TOKEN_USED when `claims` has no use left, without spending
   * one (consume decides for good; this only lets a spent token be refused before other work).
   */
  async check(claims: JoinTokenClaims, now = new Date()): Promise<void> {
    await this.chain;
    await this.load();
    const rec = this.used.get(claims.id);
    if (rec && rec.exp >= now.getTime() / 1000 && rec.used >= claims.uses) throw usedUp(claims, rec.used);
  }

  /**
   * consume spends one use of `claims` (durably) or throws IdentityError WEFT_ID_TOKEN_USED when
   * none is left; ControllerError WEFT_CTL_TOKEN_LEDGER when the ledger cannot be read or written.
   */
  consume(claims: JoinTokenClaims, now = new Date()): Promise<void> {
    const p = this.chain.then(() => this.consumeNow(claims, now));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async consumeNow(claims: JoinTokenClaims, now: Date): Promise<void> {
    await this.load();
    const nowS = now.getTime() / 1000;
    for (const [id, v] of this.used) if (v.exp < nowS) this.used.delete(id);
    const rec = this.used.get(claims.id) ?? { used: 0, exp: Math.ceil(claims.expiresAt.getTime() / 1000) };
    if (rec.used >= claims.uses) {
      throw usedUp(claims, rec.used);
    }
    const next = new Map(this.used).set(claims.id, { used: rec.used + 1, exp: rec.exp });
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(next)) + '\n', 0o600);
    } catch (err) {
      throw new ControllerError('WEFT_CTL_TOKEN_LEDGER', `cannot record the use of join token ${claims.id.slice(0, 8)} in ${this.file}: ${messageOf(err)}`);
    }
    this.used = next;
  }
}

function usedUp(claims: JoinTokenClaims, used: number): IdentityError {
  return new IdentityError('WEFT_ID_TOKEN_USED', `join token ${claims.id.slice(0, 8)} has been used ${used} time(s) of ${claims.uses}`, 401);
}
