import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events out: the outbox (events, positioned in commit order by the sequencer), webhooks and their
 * deliveries, the cursors of in-order destinations (RabbitMQ), and the sequence of feed positions.
 */
export class Events1796192131167 implements MigrationInterface {
  name = 'Events1796192131167';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `outbox_cursors` (`name` varchar(64) NOT NULL, `position` bigint NOT NULL, `lease_owner` varchar(64) NULL DEFAULT NULL, `lease_until` datetime(3) NULL DEFAULT NULL, PRIMARY KEY (`name`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `events` (`id` bigint NOT NULL AUTO_INCREMENT, `position` bigint NULL DEFAULT NULL, `type` varchar(32) NOT NULL, `products` text NOT NULL, `occurred_at` datetime(3) NOT NULL, `data` mediumtext NOT NULL, INDEX `IDX_events_occurred_at` (`occurred_at`), INDEX `IDX_events_position` (`position`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `webhook_deliveries` (`id` bigint NOT NULL AUTO_INCREMENT, `webhook_id` int NOT NULL, `event_position` bigint NOT NULL, `event_type` varchar(32) NOT NULL, `status` varchar(16) NOT NULL, `attempts` int NOT NULL, `waits` int NOT NULL, `last_status_code` int NULL DEFAULT NULL, `last_error` varchar(500) NULL DEFAULT NULL, `next_attempt_at` datetime(3) NULL DEFAULT NULL, `delivered_at` datetime(3) NULL DEFAULT NULL, `created_at` datetime(3) NOT NULL, UNIQUE INDEX `UQ_webhook_deliveries_event` (`webhook_id`, `event_position`), INDEX `IDX_webhook_deliveries_webhook` (`webhook_id`, `status`, `id`), INDEX `IDX_webhook_deliveries_due` (`status`, `waits`, `next_attempt_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `webhook_delivery_keys` (`webhook_id` int NOT NULL, `product_id` int NOT NULL, `event_position` bigint NOT NULL, INDEX `IDX_webhook_delivery_keys_delivery` (`webhook_id`, `event_position`), PRIMARY KEY (`webhook_id`, `product_id`, `event_position`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `webhooks` (`id` int NOT NULL AUTO_INCREMENT, `url` varchar(2048) NOT NULL, `events` text NOT NULL, `description` varchar(2000) NULL DEFAULT NULL, `enabled` tinyint NOT NULL, `sealed_secret` varchar(255) NOT NULL, `event_cursor` bigint NOT NULL, `created_at` datetime(3) NOT NULL, `updated_at` datetime(3) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query("INSERT INTO `sequences` (`name`, `next_value`) VALUES ('events', 1)");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DELETE FROM `sequences` WHERE `name` = 'events'");
    await queryRunner.query('DROP TABLE `webhooks`');
    await queryRunner.query('DROP TABLE `webhook_delivery_keys`');
    await queryRunner.query('DROP TABLE `webhook_deliveries`');
    await queryRunner.query('DROP TABLE `events`');
    await queryRunner.query('DROP TABLE `outbox_cursors`');
  }
}
