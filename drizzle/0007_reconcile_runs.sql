CREATE TABLE "reconcile_run_subscriptions" (
	"run_id" bigint NOT NULL,
	"stripe_subscription_id" text NOT NULL,
	CONSTRAINT "reconcile_run_subscriptions_run_id_stripe_subscription_id_pk" PRIMARY KEY("run_id","stripe_subscription_id")
);
--> statement-breakpoint
CREATE TABLE "reconcile_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"sweep" text NOT NULL,
	"scope" text NOT NULL,
	"repair" boolean NOT NULL,
	"since" timestamp with time zone,
	"cursor" text,
	"pages" integer DEFAULT 0 NOT NULL,
	"drifts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"skipped" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"repaired" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "reconcile_runs_sweep_known" CHECK ("reconcile_runs"."sweep" in ('state', 'events'))
);
--> statement-breakpoint
ALTER TABLE "reconcile_run_subscriptions" ADD CONSTRAINT "reconcile_run_subscriptions_run_id_reconcile_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."reconcile_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "reconcile_runs_unfinished_idx" ON "reconcile_runs" USING btree ("sweep","scope") WHERE "reconcile_runs"."finished_at" is null;