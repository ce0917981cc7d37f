"""One log format for every process: UTC timestamps, service name, level, message, and the
request id of the call being served. LOG_FORMAT=json writes one JSON object a line (for log
pipelines), with the trace and span ids when tracing is on; text is for people. Nothing logs
request bodies, so secrets in requests never reach a log line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

from services.kit import tracing

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        line = f"{_utc(record)} {self.service} {record.levelname} {record.name}: {record.getMessage()}"
        line += f" [request {rid}]" if rid else ""
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _utc(record), "service": self.service, "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if request_id.get():
            entry["request_id"] = request_id.get()
        ids = tracing.ids()  # inside a span (tracing on): this line joins its trace
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", fmt: str = "text") -> None:
    fmt = fmt.lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else _TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiosqlite", "sqlalchemy.engine", "nats", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
