// bcrypt at the configured cost, on a SHA-256 pre-hash so that nothing past bcrypt's 72 bytes is ignored.
// bcrypt's async API runs on libuv's thread pool, never on the event loop.
import bcrypt from 'bcrypt';
import { createHash, randomBytes } from 'node:crypto';

function prehash(password: string): string {
  // 44 base64 characters: under bcrypt's 72-byte limit and free of NUL bytes.
  return createHash('sha256').update(password, 'utf8').digest('base64');
}

export class PasswordService {
  private readonly dummyHash: Promise<string>;

  constructor(private readonly cost: number) {
    // Compared against when an account has no password, so unknown emails take as long as wrong passwords.
    this.dummyHash = bcrypt.hash(randomBytes(16).toString('hex'), cost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(prehash(password), this.cost);
  }

  /** Always spends one bcrypt comparison, whether or not there is a hash to compare with. */
  async verify(password: string, hash: string | null): Promise<boolean> {
    if (hash === null) {
      await bcrypt.compare(prehash(password), await this.dummyHash);
      return false;
    }
    return bcrypt.compare(prehash(password), hash);
  }
}
