CREATE TABLE "billing_access" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"has_access" boolean NOT NULL,
	"plan_slug" text,
	"reason" text NOT NULL,
	"access_until" timestamp with time zone,
	"entitlements" text[] DEFAULT '{}'::text[] NOT NULL,
	"entitlements_complete" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billing_access_reason_known" CHECK ("billing_access"."reason" in ('active', 'trialing', 'past_due_grace', 'cancellation_scheduled', 'none'))
);
--> statement-breakpoint
CREATE TABLE "billing_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"subject" text NOT NULL,
	"sequence" integer NOT NULL,
	"user_id" integer,
	"stripe_subscription_id" text,
	"stripe_customer_id" text,
	"data" jsonb NOT NULL,
	"stripe_event_ids" text[] NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"enqueued_at" timestamp with time zone,
	CONSTRAINT "billing_outbox_type_known" CHECK ("billing_outbox"."type" in ('subscription.created', 'subscription.activated', 'subscription.trial_started', 'subscription.past_due', 'subscription.recovered', 'subscription.unpaid', 'subscription.paused', 'subscription.resumed', 'subscription.cancellation_scheduled', 'subscription.cancellation_withdrawn', 'subscription.plan_changed', 'subscription.ended', 'user.access_granted', 'user.access_revoked', 'user.plan_changed', 'user.entitlements_changed')),
	CONSTRAINT "billing_outbox_sequence_positive" CHECK ("billing_outbox"."sequence" > 0)
);
--> statement-breakpoint
CREATE TABLE "billing_outbox_subjects" (
	"subject" text PRIMARY KEY NOT NULL,
	"last_sequence" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_entitlements" (
	"stripe_customer_id" text PRIMARY KEY NOT NULL,
	"lookup_keys" text[] NOT NULL,
	"summary_at" timestamp with time zone NOT NULL,
	"stripe_event_id" text NOT NULL,
	"complete" boolean NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "billing_access" ADD CONSTRAINT "billing_access_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_outbox" ADD CONSTRAINT "billing_outbox_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "billing_access_access_until_idx" ON "billing_access" USING btree ("access_until") WHERE "billing_access"."has_access" and "billing_access"."access_until" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "billing_outbox_subject_sequence" ON "billing_outbox" USING btree ("subject","sequence");--> statement-breakpoint
CREATE INDEX "billing_outbox_not_enqueued_idx" ON "billing_outbox" USING btree ("id") WHERE "billing_outbox"."enqueued_at" is null;--> statement-breakpoint
CREATE INDEX "billing_outbox_undelivered_idx" ON "billing_outbox" USING btree ("subject","sequence") WHERE "billing_outbox"."delivered_at" is null;--> statement-breakpoint
CREATE INDEX "billing_outbox_user_id_idx" ON "billing_outbox" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "billing_outbox_created_at_idx" ON "billing_outbox" USING btree ("created_at");