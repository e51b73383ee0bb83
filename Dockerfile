# syntax=docker/dockerfile:1
# One image for all four services: the APP build arg (or env) picks which one runs.
#   docker build --build-arg APP=oms -t hms-oms .
# See docs/operations.md, "Containers and Kubernetes".

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS base
# package.json's allowScripts policy is read by npm 11; node 22 images ship npm 10,
# which would ignore it and run every install script.
ARG NPM_VERSION=11.19.1
RUN npm install --global npm@${NPM_VERSION} && npm cache clean --force
WORKDIR /app

# Copy only the manifests the install needs, keeping their paths (a plain COPY of
# libs/*/package.json would flatten them). The install layers below are then reused
# until a manifest changes, however often the sources change.
FROM base AS manifests
COPY . /src
RUN mkdir -p /out \
 && cd /src \
 && cp package.json package-lock.json /out/ \
 && if [ -f .npmrc ]; then cp .npmrc /out/; fi \
 && for f in libs/*/package.json; do \
      [ -f "$f" ] || continue; \
      mkdir -p "/out/$(dirname "$f")" && cp "$f" "/out/$f"; \
    done

FROM base AS build
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
RUN npm run build

FROM base AS prod-deps
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 hms \
 && useradd --system --uid 10001 --gid hms --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hms
# Files stay owned by root: the service user can read its code but not change it.
# node_modules/@hms/* are links to libs/<name>, whose entry files resolve into dist/libs,
# so libs/ (small) comes along with dist/.
COPY --from=prod-deps /app/ ./
COPY --from=build /app/libs ./libs
COPY --from=build /app/dist ./dist
# ACT's ledger checkpoint folder (ACT_LEDGER_CHECKPOINT_DIR in compose): a named volume mounted
# here starts with this owner, so the service user can write to it.
RUN mkdir -p /var/lib/hms/checkpoints && chown 10001:10001 /var/lib/hms/checkpoints
# Declared only in this last stage so the build stages above are shared by all four apps.
ARG APP
ENV APP=${APP}
USER 10001:10001
# api-gateway 3000, act 3001, oms 3002, ops 3003 (each app reads PORT).
EXPOSE 3000 3001 3002 3003
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec: node replaces the shell, so SIGTERM from Docker/Kubernetes reaches the app.
CMD ["sh", "-c", "exec node dist/apps/${APP:?set APP to act, oms, ops or api-gateway}/src/main.js"]
