"""Gateway: partner API keys and aggregated views (gRPC), and the REST facade (HTTP)."""
