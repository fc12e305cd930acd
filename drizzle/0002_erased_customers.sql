CREATE TABLE "erased_customers" (
	"customer_id_sha256" text PRIMARY KEY NOT NULL,
	"erased_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "erased_customers_sha256_hex" CHECK ("erased_customers"."customer_id_sha256" ~ '^[0-9a-f]{64}$')
);
