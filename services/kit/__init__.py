"""The shared runtime every copytrade service is built on: configuration, the gRPC server
bootstrap (health, reflection, interceptors), authentication, the NATS JetStream bus and the
database. One small package; anything used by a single service stays in that service."""
