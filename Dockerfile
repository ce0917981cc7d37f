# One image for every copytrade service; the compose file picks the service with its command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY services ./services
COPY venue_sim ./venue_sim
RUN pip install --no-cache-dir .
USER nobody
# Overridden per service in docker-compose.yml: copytrade serve <service>
CMD ["copytrade", "serve", "gateway"]
