# One image for migrate, ingress, worker and dashboard; the command picks the process.
# Packages are TypeScript run by tsx (see README, "How the code runs").
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY apps/ingress/package.json apps/ingress/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
COPY packages/db/package.json packages/db/
COPY packages/queue/package.json packages/queue/
COPY packages/runtime/package.json packages/runtime/
COPY packages/billing/package.json packages/billing/
COPY packages/testing/package.json packages/testing/
# Patched postgres-js tarball the workspaces install from (see vendor/README.md).
COPY vendor/ vendor/
RUN npm ci --include=dev && npm cache clean --force
COPY . .
USER node
# npm forwards SIGTERM to the process, which drains and exits 0.
CMD ["npm", "run", "start:ingress"]
