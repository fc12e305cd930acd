ALTER TABLE "billing_outbox_subjects" ADD COLUMN "state" jsonb;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "status_since" timestamp with time zone;