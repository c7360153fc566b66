"""gunicorn settings for mailhub's web app: `gunicorn -c deploy/gunicorn.conf.py mailhub.wsgi`.

Threads (gthread), not one process per request: the web app mostly waits on PostgreSQL and
Redis, and a thread costs far less memory than a process. Each thread may hold one database
connection (CONN_MAX_AGE), so a node opens up to WEB_CONCURRENCY x GUNICORN_THREADS of them:
count them against PostgreSQL's max_connections (docs/DEPLOY.md, "Sizing").
Every value can be set in the environment; the defaults suit a 2-core machine.
"""

import multiprocessing
import os

# PORT as Procfile platforms set it; GUNICORN_BIND for anything else (a unix socket, an address).
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
threads = int(os.environ.get("GUNICORN_THREADS") or 8)
# A request that takes longer than this is killed with its worker. The API's largest body
# (44 MB) arrives well within it on any sane link; campaign previews stop after
# MAILHUB_PREVIEW_TIMEOUT (10 s).
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
keepalive = 5
# Restart each worker now and then, staggered, so a slow leak never grows for weeks.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory, not on a disk that may stall (containers, busy hosts).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Only the TLS proxy may say the request came over HTTPS (X-Forwarded-Proto): list its
# address here when it is not on this machine. Django trusts the header only with
# BEHIND_TLS_PROXY=true.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn 25+ opens a control socket in the user's home by default: one path for every
# gunicorn of that user (and no home at all under systemd's ProtectHome). mailhub needs none.
control_socket_disable = True
