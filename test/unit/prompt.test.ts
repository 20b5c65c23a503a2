import { describe, expect, it } from 'vitest';
import { confirmPlan, rerunWithYes, shellQuote } from '../../src/lib/io/prompt.js';

describe('confirmPlan', () => {
  it('refuses without a TTY: exit 3 and the exact command to rerun', async () => {
    const refusal = confirmPlan({ yes: false, canPrompt: false, question: 'Apply?', rerunCommand: 'retailctl cdn failover storefront --yes' });
    await expect(refusal).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', exitCode: 3, hint: expect.stringContaining('retailctl cdn failover storefront --yes') });
  });

  it('--yes goes ahead without asking, TTY or not', async () => {
    await expect(confirmPlan({ yes: true, canPrompt: false, question: 'Apply?', rerunCommand: '' })).resolves.toBeUndefined();
  });
});

describe('rerunWithYes', () => {
  it('quotes arguments for a shell and adds --yes once', () => {
    expect(rerunWithYes(['cdn', 'shift', '--weights', 'cloudfront=90,fastly=10', '-y'])).toBe('retailctl cdn shift --weights cloudfront=90,fastly=10 --yes');
    expect(rerunWithYes(['images', 'migrate', './My Images', '--prefix', "it's"])).toBe(`retailctl images migrate './My Images' --prefix 'it'\\''s' --yes`);
    expect(shellQuote('')).toBe("''");
  });
});
