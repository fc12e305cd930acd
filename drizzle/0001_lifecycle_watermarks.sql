ALTER TABLE "subscriptions" ADD COLUMN "stripe_price_id" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "cancel_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "trial_end" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "status_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "status_from" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "snapshot_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "snapshot_status" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "snapshot_from" jsonb;--> statement-breakpoint
ALTER TABLE "webhook_events" ADD COLUMN "event_created_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhook_events" ADD COLUMN "unresolved_input" jsonb;--> statement-breakpoint
-- Rows written before these watermarks: the status dates from the newest event applied, and a row
-- with a period end has seen a snapshot (checkout and invoices carry none), so its status is not provisional.
UPDATE "subscriptions" SET "status_at" = "last_event_at" WHERE "status_at" IS NULL;--> statement-breakpoint
UPDATE "subscriptions" SET "snapshot_at" = "last_event_at", "snapshot_status" = "status" WHERE "snapshot_at" IS NULL AND "current_period_end" IS NOT NULL;
