import { TypedConfigService } from '../../config';
import { ApiError } from '../../common/errors/api-error';
import { PasswordService } from './password.service';

/**
 * A login for a user that does not exist must cost what a real check costs (contract: unknown user and
 * wrong password answer alike). The equaliser hash is made by the first such login rather than at start,
 * so both the first miss and the later ones are held to it here: each takes a password slot like a check.
 */
describe('PasswordService: a missing user costs a password check', () => {
  // one slot, eight waiting: a ninth piece of password work beyond them is refused at once
  const config = {
    getOrThrow: () => ({ loginConcurrency: 1, passwordHash: { memoryCost: 19_456, timeCost: 2 } }),
  } as unknown as TypedConfigService;

  it('checks a real hash: the right password true, another false', async () => {
    const passwords = new PasswordService(config);
    const hash = await passwords.hash('right-password-123');
    expect(hash).toMatch(/^\$argon2id\$/);
    await expect(passwords.verify(hash, 'right-password-123')).resolves.toBe(true);
    await expect(passwords.verify(hash, 'wrong-password-123')).resolves.toBe(false);
  });

  it.each([
    ['the first miss (it makes the equaliser hash)', 0],
    ['a later miss (it checks against that hash)', 1],
  ])('%s is false and holds a slot as a check does', async (_, earlierMisses) => {
    const passwords = new PasswordService(config);
    for (let i = 0; i < earlierMisses; i++) await expect(passwords.verify(null, 'x-password-123')).resolves.toBe(false);
    // nine misses fill the slot and its queue, so a tenth is refused: each miss is queued password work
    const misses = Array.from({ length: 9 }, () => passwords.verify(null, 'x-password-123'));
    await expect(passwords.verify(null, 'x-password-123')).rejects.toEqual(
      expect.objectContaining<Partial<ApiError>>({ code: 'SERVICE_UNAVAILABLE' }),
    );
    await expect(Promise.all(misses)).resolves.toEqual(Array(9).fill(false));
  });
});
