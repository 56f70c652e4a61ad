// Work that must happen only once a change is committed (kicking the mail sender, evicting cached sessions,
// counting metrics): queued on the EntityManager that writes the change, run by MikroORM's afterTransactionCommit,
// dropped by afterTransactionRollback. So a rolled-back transaction sends nothing, evicts nothing and counts nothing.
import type { EntityManager, EventSubscriber, MikroORM, TransactionEventArgs } from '@mikro-orm/core';

export type Task = () => void;

export class AfterCommit implements EventSubscriber {
  private readonly pending = new WeakMap<EntityManager, Task[]>();

  /** A queue registered with `orm`'s events. */
  static attach(orm: MikroORM, onError: (err: unknown) => void): AfterCommit {
    const afterCommit = new AfterCommit(onError);
    orm.em.getEventManager().registerSubscriber(afterCommit);
    return afterCommit;
  }

  /** `onError` hears of a task that threw (the change is committed by then; the other tasks still run). */
  constructor(private readonly onError: (err: unknown) => void) {}

  /**
   * Runs `task` when the transaction `em` is in commits: the callback's `tx` of `em.transactional`, or, outside
   * one, the transaction of `em`'s next flush. Nested transactions are not used here: only a root commit runs tasks.
   */
  add(em: EntityManager, task: Task): void {
    const tasks = this.pending.get(em);
    if (tasks === undefined) this.pending.set(em, [task]);
    else tasks.push(task);
  }

  afterTransactionCommit({ em }: TransactionEventArgs): void {
    const tasks = this.pending.get(em);
    if (tasks === undefined) return;
    this.pending.delete(em);
    for (const task of tasks) {
      try {
        task();
      } catch (err) {
        this.onError(err);
      }
    }
  }

  afterTransactionRollback({ em }: TransactionEventArgs): void {
    this.pending.delete(em);
  }
}
