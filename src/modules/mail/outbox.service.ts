// Queues an email in the caller's transaction, sealed with AES-GCM because bodies carry one-time codes.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyObject } from 'node:crypto';
import { encrypt } from '../../common/crypto';
import { MailOutbox } from './mail-outbox.entity';
import type { EmailContent, EmailKind } from './templates';

export class OutboxService {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly key: KeyObject) {}

  enqueue(tx: EntityManager, to: string, email: EmailContent & { kind: EmailKind }): void {
    const now = new Date();
    tx.create(MailOutbox, {
      recipient: to,
      kind: email.kind,
      payload: encrypt(this.key, JSON.stringify({ subject: email.subject, text: email.text, html: email.html })),
      createdAt: now,
      nextAttemptAt: now,
    });
  }

  /** Tells the sender that new mail was committed, so it need not wait for its next poll. */
  notifyCommitted(): void {
    for (const listener of this.listeners) listener();
  }

  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
