import { describe, expect, it } from 'vitest';
import { lazyClient, lazySdk, SdkLoadError, sfnSdk } from '../../lib/aws/lazy.ts';

/** A stand-in SDK package: counts imports and clients, and records what each client was sent. */
function fakePackage(failures = 0) {
  const stats = { imports: 0, clients: 0, sent: [] as unknown[] };
  let failing = failures;
  class FakeClient {
    constructor() {
      stats.clients++;
    }
    async send(command: unknown): Promise<{ echo: unknown }> {
      stats.sent.push(command);
      return { echo: command };
    }
  }
  const load = async () => {
    stats.imports++;
    if (failing > 0) {
      failing--;
      throw new Error("Cannot find package '@aws-sdk/client-fake'");
    }
    return { FakeClient };
  };
  return { stats, sdk: lazySdk('@aws-sdk/client-fake', load) };
}

describe('lazySdk / lazyClient', () => {
  it('imports nothing until first used', () => {
    const { stats, sdk } = fakePackage();
    lazyClient(sdk, (m) => new m.FakeClient());
    expect(stats).toEqual({ imports: 0, clients: 0, sent: [] });
  });

  it('imports the package once and builds one client, however many calls and however concurrent', async () => {
    const { stats, sdk } = fakePackage();
    const client = lazyClient(sdk, (m) => new m.FakeClient());
    const out = await Promise.all([client.send('a'), client.send('b'), sdk()]);
    await client.send('c');
    expect(out[0]).toEqual({ echo: 'a' });
    expect(stats.imports).toBe(1);
    expect(stats.clients).toBe(1);
    expect(stats.sent).toEqual(['a', 'b', 'c']);
    expect(await client.client()).toBe(await client.client());
  });

  it('turns an import failure into an SdkLoadError naming the package, and tries again on the next call', async () => {
    const { stats, sdk } = fakePackage(1);
    const client = lazyClient(sdk, (m) => new m.FakeClient());
    const first = await client.send('a').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SdkLoadError);
    expect((first as SdkLoadError).message).toBe("could not load @aws-sdk/client-fake: Cannot find package '@aws-sdk/client-fake'");
    expect((first as SdkLoadError).cause).toBeInstanceOf(Error);
    // Not cached: the next call imports again, and works.
    await expect(client.send('b')).resolves.toEqual({ echo: 'b' });
    expect(stats.imports).toBe(2);
    expect(stats.clients).toBe(1);
  });

  it('does not cache a client that failed to build either', async () => {
    const { sdk } = fakePackage();
    let attempts = 0;
    const client = lazyClient(sdk, (m) => {
      if (attempts++ === 0) throw new Error('region is missing');
      return new m.FakeClient();
    });
    await expect(client.send('a')).rejects.toThrow('could not create a client of @aws-sdk/client-fake: region is missing');
    await expect(client.send('b')).resolves.toEqual({ echo: 'b' });
  });

  it('loads a real SDK package by its literal specifier', async () => {
    const mod = await sfnSdk();
    expect(sfnSdk.specifier).toBe('@aws-sdk/client-sfn');
    expect(typeof mod.SFNClient).toBe('function');
    expect(await sfnSdk()).toBe(mod);
  });
});
