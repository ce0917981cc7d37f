# One image for every copytrade service; the compose file picks the service with its command.

# The web app, built once; only its static files go into the image (the gateway serves them at /).
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN ./node_modules/.bin/vite build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY services ./services
# Not venue_sim/ or demo/: the services run without them (tests/test_boundaries.py), and the
# `copytrade` command offers `sim` and `up --demo` only where they are installed.
RUN pip install --no-cache-dir .
COPY --from=web /web/dist ./web/dist
ENV GATEWAY_STATIC_DIR=/app/web/dist
# The certs volume takes this ownership when compose first mounts it (services/kit/tls.py writes there).
RUN mkdir -m 0700 /certs && chown nobody:nogroup /certs
USER nobody
# Overridden per service in docker-compose.yml: copytrade serve <service>
CMD ["copytrade", "serve", "gateway"]
