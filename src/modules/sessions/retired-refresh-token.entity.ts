// Hashes of refresh tokens that were rotated away: presenting one again is reuse, and ends its session.
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Session } from './session.entity';

@Entity({ tableName: 'retired_refresh_tokens' })
export class RetiredRefreshToken {
  @PrimaryKey({ type: 'text' })
  tokenHash!: string;

  @ManyToOne(() => Session, { deleteRule: 'cascade', index: true })
  session!: Session;

  @Property({ type: 'timestamptz' })
  retiredAt!: Date;
}
