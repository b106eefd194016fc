import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reservations: the held quantity on each level, reservations and their lines, the sequence their ids
 * come from, and audit entries without an actor (an expiry).
 */
export class Reservations1796188076065 implements MigrationInterface {
  name = 'Reservations1796188076065';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `sequences` (`name` varchar(64) NOT NULL, `next_value` bigint NOT NULL, PRIMARY KEY (`name`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query("INSERT INTO `sequences` (`name`, `next_value`) VALUES ('reservations', 1)");
    await queryRunner.query(
      'CREATE TABLE `reservation_lines` (`reservation_id` int NOT NULL, `line_no` int NOT NULL, `product_id` int NOT NULL, `warehouse_id` int NOT NULL, `quantity` int NOT NULL, INDEX `IDX_reservation_lines_product` (`product_id`, `reservation_id`), PRIMARY KEY (`reservation_id`, `line_no`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'CREATE TABLE `reservations` (`id` int NOT NULL, `status` varchar(16) NOT NULL, `reference` varchar(128) NULL DEFAULT NULL, `note` varchar(500) NULL DEFAULT NULL, `expires_at` datetime(3) NOT NULL, `created_at` datetime(3) NOT NULL, `created_by_id` int NOT NULL, `created_by_username` varchar(64) NOT NULL, `closed_at` datetime(3) NULL DEFAULT NULL, INDEX `IDX_reservations_reference` (`reference`), INDEX `IDX_reservations_due` (`status`, `expires_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query(
      'ALTER TABLE `stock_levels` ADD `reserved` bigint NOT NULL DEFAULT 0, ADD CONSTRAINT `CHK_stock_levels_reserved` CHECK (`reserved` >= 0)',
    );
    // an expiry is the service's own change: no actor
    await queryRunner.query('ALTER TABLE `audit_logs` MODIFY `actor_username` varchar(128) NULL DEFAULT NULL');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `audit_logs` MODIFY `actor_username` varchar(128) NOT NULL');
    await queryRunner.query(
      'ALTER TABLE `stock_levels` DROP CONSTRAINT `CHK_stock_levels_reserved`, DROP COLUMN `reserved`',
    );
    await queryRunner.query('DROP TABLE `reservations`');
    await queryRunner.query('DROP TABLE `reservation_lines`');
    await queryRunner.query('DROP TABLE `sequences`');
  }
}
