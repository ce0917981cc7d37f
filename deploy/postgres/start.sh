#!/bin/sh
# docker-compose.yml's PostgreSQL on TLS: the server's key from the certs volume (root's, 0600)
# copied where the postgres user owns it, as PostgreSQL insists, then the image's own entrypoint
# with TLS on and deploy/postgres/pg_hba.conf (TLS or nothing over the network).
set -eu
install -d -o postgres -g postgres -m 700 /var/lib/postgresql/tls
install -o postgres -g postgres -m 600 /certs/postgres.pem /var/lib/postgresql/tls/server.pem
install -o postgres -g postgres -m 600 /certs/postgres-key.pem /var/lib/postgresql/tls/server-key.pem
exec docker-entrypoint.sh postgres \
  -c ssl=on \
  -c ssl_cert_file=/var/lib/postgresql/tls/server.pem \
  -c ssl_key_file=/var/lib/postgresql/tls/server-key.pem \
  -c ssl_min_protocol_version=TLSv1.2 \
  -c hba_file=/etc/postgresql/pg_hba.conf
