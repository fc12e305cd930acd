CREATE TABLE "worker_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text,
	"expires_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
