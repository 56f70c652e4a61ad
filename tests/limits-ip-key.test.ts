// IP-keyed limits count by the client's network (common/ip.ts networkKey), the same key as the per-IP request
// limit: an IPv6 client rotating addresses inside its /64 is one client, and an IPv4 client is one client
// whether a dual-stack socket or proxy writes it ::ffff:a.b.c.d or a.b.c.d. Played through HTTP behind a
// trusted proxy (TRUST_PROXY=loopback), which is how a client's address reaches the server from X-Forwarded-For.
import { networkKey } from '../src/common/ip';
import { clientKey } from '../src/rate-limit/ip-limit';
import { PASSWORD, uniqueEmail } from './helpers/flows';
import { errorCode, startTestApp, type TestApp } from './helpers/test-server';

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { expiresIn retryAfter } }';

describe('IP-keyed operation limits behind a trusted proxy (RATE_LIMIT_REGISTER_IP=10/1h)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { TRUST_PROXY: 'loopback', RATE_LIMIT_REGISTER_IP: '10/1h' } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function registerFrom(ip: string, email = uniqueEmail('ipkey')): Promise<string | undefined> {
    return errorCode(
      await app.gql(REGISTER, { i: { email, password: PASSWORD } }, { headers: { 'x-forwarded-for': ip } }),
    );
  }

  const hex = () => Math.floor(Math.random() * 0x10000).toString(16);

  it('30 registers from 30 addresses inside one IPv6 /64 pass 10 times, not 30', async () => {
    const addresses = Array.from(
      { length: 30 },
      (_, i) => `2001:db8:7:7:${hex()}:${hex()}:${hex()}:${(i + 1).toString(16)}`,
    );
    const emails = addresses.map(() => uniqueEmail('rotating'));
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 30; i++) codes.push(await registerFrom(addresses[i]!, emails[i]));
    expect(codes).toEqual([...Array(10).fill(undefined), ...Array(20).fill('RATE_LIMITED')]);
    const rows = await app.sql<{ n: number }>(
      `select count(*)::int as n from users where email in (${emails.map(() => '?').join(',')})`,
      emails,
    );
    expect(Number(rows[0]!.n)).toBe(10);
    // The neighbouring /64 is another subscriber: not limited by this one's count.
    expect(await registerFrom('2001:db8:7:8::1')).toBeUndefined();
  });

  it('counts ::ffff:198.51.100.7 and 198.51.100.7 as one client', async () => {
    const spellings = ['198.51.100.7', '::ffff:198.51.100.7'];
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 12; i++) codes.push(await registerFrom(spellings[i % 2]!));
    expect(codes).toEqual([...Array(10).fill(undefined), 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});

describe('one key for every IP-keyed limit', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::FFFF:c633:6407', '198.51.100.7'], // the same mapped address in hex
    ['2001:db8:7:7:1:2:3:4', '2001:db8:7:7::/64'],
    ['2001:DB8:7:7::ffff', '2001:db8:7:7::/64'],
    ['2001:db8:7:8::1', '2001:db8:7:8::/64'],
  ])('%s counts as %s, for the per-IP request limit and the operation limits alike', (ip, key) => {
    expect(networkKey(ip)).toBe(key);
    expect(clientKey(ip)).toBe(key);
  });
});
