// Queues an email in the caller's transaction, branded with APP_NAME (templates.ts `branded`) and sealed
// (common/sealing.ts) because bodies carry one-time codes.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Sealer } from '../../common/sealing';
import type { AfterCommit } from '../../database/after-commit';
import { MailOutbox } from './mail-outbox.entity';
import { branded, type Email } from './templates';

export class OutboxService {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly sealer: Sealer,
    private readonly afterCommit: AfterCommit,
    private readonly appName: string,
  ) {}

  enqueue(tx: EntityManager, to: string, template: Email): void {
    const email = branded(this.appName, template);
    const now = new Date();
    tx.create(MailOutbox, {
      recipient: to,
      kind: email.kind,
      payload: this.sealer.seal(JSON.stringify({ subject: email.subject, text: email.text, html: email.html })),
      createdAt: now,
      nextAttemptAt: now,
    });
    this.afterCommit.add(tx, () => {
      for (const listener of this.listeners) listener();
    });
  }

  /**
   * A security notice to an account (templates.ts): sent only to an address the account proved, never to one a
   * stranger may have typed (an unverified sign-up, a provider that did not vouch for the address).
   */
  notify(
    tx: EntityManager,
    account: { readonly email: string; readonly emailVerified: boolean },
    template: Email,
  ): void {
    if (account.emailVerified) this.enqueue(tx, account.email, template);
  }

  /** `listener` hears that new mail was committed (the sender then need not wait for its next poll). */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
