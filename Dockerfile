# One image for migrate, ingress, worker and dashboard; the command picks the process.
# Packages are TypeScript run by tsx (see README, "How the code runs"); tsx is a production
# dependency for that reason.
# Node 24, as .nvmrc and the `node` dev dependency (which local installs run npm scripts on).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# packages/runtime/src/node-flags.ts says why (the young generation of Node 20: a third less RSS).
ENV NODE_OPTIONS=--max-semi-space-size=16
# The npm the lockfile was made with (package.json "packageManager"): it honours the root
# package.json's `allowScripts`, which lets only the install scripts listed there run; the npm
# bundled with the image's Node may predate that field (npm 11.16) and would run them all.
RUN npm install -g npm@11.19.1 && npm cache clean --force
COPY package.json package-lock.json ./
COPY apps/ingress/package.json apps/ingress/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
COPY packages/db/package.json packages/db/
COPY packages/queue/package.json packages/queue/
COPY packages/runtime/package.json packages/runtime/
COPY packages/billing/package.json packages/billing/
COPY packages/testing/package.json packages/testing/
COPY packages/stripe-simulator/package.json packages/stripe-simulator/
COPY packages/local-postgres/package.json packages/local-postgres/
COPY packages/reconcile/package.json packages/reconcile/
COPY packages/client/package.json packages/client/
# Patched postgres-js tarball the workspaces install from (see vendor/README.md).
COPY vendor/ vendor/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
# Signals: node runs directly, not under npm (npm does not reliably pass SIGTERM on to its child).
# Each app installs SIGTERM/SIGINT handlers (packages/runtime/src/shutdown.ts) that stop intake,
# drain and exit 0, so they stop cleanly even as PID 1; compose adds `init: true` as well, so
# that tini forwards the signal and reaps zombies (`docker run --init` does the same).
CMD ["node", "--import", "tsx", "apps/ingress/src/server.ts"]
