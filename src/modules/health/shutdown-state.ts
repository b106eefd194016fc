import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/**
 * Set the moment shutdown begins (main.ts on SIGTERM, or `app.close()`): readiness turns 503 so a load
 * balancer stops sending, and the HTTP hooks in app.factory.ts answer what still arrives 503 and close
 * each connection after its response, so the drain ends when the in-flight requests do.
 */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  shuttingDown = false;

  begin(): void {
    this.shuttingDown = true;
  }

  beforeApplicationShutdown(): void {
    this.begin();
  }
}
