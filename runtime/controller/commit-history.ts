/**
 * CommitHistory: what the controller did with each commit it compiled, newest last, for the
 * dashboard's chart markers and `GET /v1/status`. Events are keyed by commit and time, never by
 * bundle digest: a revert commit that brings back an earlier digest is an event of its own
 * ("reverted"), and the earlier commit's event stays where it was.
 */
import type { CommitInfo } from './git.js';

/** CommitOutcome: new routing served, an earlier bundle served again, no routing change, or refused. */
export type CommitOutcome = 'published' | 'reverted' | 'unchanged' | 'rejected';

/** CommitEvent is one compiled commit. `at` is ISO 8601 on the controller's clock. */
export interface CommitEvent {
  at: string;
  commit: string;
  message: string;
  outcome: CommitOutcome;
  /** The bundle served after this commit (null when rejected). */
  digest: string | null;
}

/** HISTORY_LIMIT bounds the events kept (the dashboard charts the last minutes; status stays small). */
export const HISTORY_LIMIT = 50;
/** DIGESTS_REMEMBERED bounds the digests remembered for telling a revert from new routing. */
const DIGESTS_REMEMBERED = 1000;

export class CommitHistory {
  private readonly events: CommitEvent[] = [];
  private readonly served = new Set<string>();

  /** remember marks a digest as served before (e.g. the bundle a restart reloads from the store). */
  remember(digest: string): void {
    this.served.delete(digest);
    this.served.add(digest);
    if (this.served.size > DIGESTS_REMEMBERED) this.served.delete(this.served.values().next().value as string);
  }

  /**
   * published records a good compile of `commit` whose bundle is `digest`, given the digest
   * served just before it (null when none). Returns the outcome it recorded.
   */
  published(commit: CommitInfo, digest: string, previous: string | null, at: Date): CommitOutcome {
    const outcome: CommitOutcome = digest === previous ? 'unchanged' : this.served.has(digest) ? 'reverted' : 'published';
    if (previous !== null) this.remember(previous);
    this.remember(digest);
    this.push({ at: at.toISOString(), commit: commit.commit, message: commit.message, outcome, digest });
    return outcome;
  }

  /** rejected records a commit that did not compile; `digest` stays the one being served. */
  rejected(commit: CommitInfo, serving: string | null, at: Date): void {
    this.push({ at: at.toISOString(), commit: commit.commit, message: commit.message, outcome: 'rejected', digest: serving });
  }

  /** list returns the events, oldest first (a copy). */
  list(): CommitEvent[] {
    return this.events.slice();
  }

  private push(e: CommitEvent): void {
    this.events.push(e);
    if (this.events.length > HISTORY_LIMIT) this.events.shift();
  }
}
