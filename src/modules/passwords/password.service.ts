// bcrypt at the configured cost, on a SHA-256 pre-hash so that nothing past bcrypt's 72 bytes is ignored.
// It runs on low-priority worker threads (bcrypt-pool.ts), never on the event loop.
import { createHash, randomBytes } from 'node:crypto';
import { BcryptPool } from './bcrypt-pool';

function prehash(password: string): string {
  // 44 base64 characters: under bcrypt's 72-byte limit and free of NUL bytes.
  return createHash('sha256').update(password, 'utf8').digest('base64');
}

export class PasswordService {
  private readonly pool = new BcryptPool();
  /** Compared against when an account has no password, so unknown emails take as long as wrong passwords. */
  private readonly dummyHash: Promise<string>;

  constructor(private readonly cost: number) {
    this.dummyHash = this.pool.hash(randomBytes(16).toString('hex'), cost);
    this.dummyHash.catch(() => {}); // a pool closed before it was needed
  }

  hash(password: string): Promise<string> {
    return this.pool.hash(prehash(password), this.cost);
  }

  /** Always spends one bcrypt comparison, whether or not there is a hash to compare with. */
  async verify(password: string, hash: string | null): Promise<boolean> {
    if (hash === null) {
      await this.pool.compare(prehash(password), await this.dummyHash);
      return false;
    }
    return this.pool.compare(prehash(password), hash);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
