import { Injectable } from '@nestjs/common';
import { TypedConfigService } from '../../../config';
import { SecretBox } from './secret-box';
import { UrlGuard } from './url-guard';

/** What webhooks need from configuration: the box their secrets are sealed in, and the SSRF guard. */
@Injectable()
export class WebhookSecurity {
  readonly box: SecretBox;
  readonly guard: UrlGuard;

  constructor(config: TypedConfigService) {
    const events = config.getOrThrow('events', { infer: true });
    this.box = new SecretBox(events.secretKey ?? config.getOrThrow('auth', { infer: true }).jwtSecret);
    this.guard = new UrlGuard(config.getOrThrow('app', { infer: true }).production, events.allowedHosts);
  }
}
