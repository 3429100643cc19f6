"""``livechat doctor``: looks at the configuration and the machine the way the server will see
them, and says what to fix before it bites.

Each check is a ``Check``: a name and a function that looks (files, limits, a Redis ``PING``)
and returns ``Finding``s. What is decided from what was seen lives in small pure functions
(``*_findings``), tested without I/O. To add a check (an SMTP server, once mail is sent), write
one such function and append a ``Check`` to ``CHECKS``; a check for something not configured
returns nothing. The database's check is in server/doctor/database.py (PostgreSQL's user's
rights: server/doctor/pg_rights.py); what checks are given and say, in
server/doctor/findings.py.

Levels: ``ok``; ``warn`` (works, but not as it should in production); ``error`` (broken or
unsafe). The command exits 0 when there is nothing to fix, 1 with warnings only, 2 with errors.
"""

from __future__ import annotations

import ipaddress
import os
import resource
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from server.config import (
    MIN_SECRET_CHARS,
    ConfigError,
    Settings,
    check_serving,
    configured_keys,
    default_db_path,
    from_env,
)
from server.doctor.database import check_database
from server.doctor.findings import Check, Env, FileFacts, Finding, redact_url

#: Below this many open files, a few hundred visitors exhaust the process.
MIN_DESCRIPTORS = 4096


def load(environ: Mapping[str, str], db_path: Path | None) -> Env:
    """The settings the server would use, without making anything (no key file is generated).
    ``db_path``: a ``--db`` given, which wins over LIVECHAT_DATABASE_URL."""
    env = dict(environ)
    if db_path is not None:
        env["LIVECHAT_DB"] = str(db_path)
        env.pop("LIVECHAT_DATABASE_URL", None)
    else:
        db_path = default_db_path(env)
    if not env.get("LIVECHAT_SECRET_KEYS", "").strip():
        env["LIVECHAT_SECRET_KEYS"] = "x" * 16  # stands in; the keys check looks at the real
    try:
        check_serving(env)
        return Env(environ, db_path, from_env(env))
    except ConfigError as exc:
        return Env(environ, db_path, None, str(exc))


# --- decisions (pure) ------------------------------------------------------------------------


def configuration_findings(settings: Settings | None, error: str | None) -> list[Finding]:
    if settings is None:
        return [Finding("error", "configuration", f"the server would refuse to start: {error}",
                        "correct the setting named above (README.md, Configuration)")]
    broker = "in-memory broker" if settings.broker_url.startswith("memory") else "Redis broker"
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    return [Finding("ok", "configuration", f"valid ({workers}, {broker})")]


def metrics_findings(token: str, listen: str, public_url: str) -> list[Finding]:
    """Who can read ``/metrics`` (docs/deployment.md, Metrics)."""
    if not token and not listen:
        return [Finding("ok", "metrics", "not served (/metrics answers 404)")]
    if listen:
        host = listen.rpartition(":")[0].strip("[]")
        try:
            address = ipaddress.ip_address(host)
            # (0.0.0.0 and :: count as "private" to ipaddress: they are every interface.)
            private = not address.is_unspecified and (address.is_loopback or address.is_private)
        except ValueError:
            private = host == "localhost"  # a name: what it resolves to is not known here
        if not token and not private:
            return [Finding("warn", "metrics",
                            f"anyone who reaches {listen} can read the metrics",
                            "bind LIVECHAT_METRICS_LISTEN to 127.0.0.1 or a private address, "
                            "or also set LIVECHAT_METRICS_TOKEN")]
        where = f"on {listen}" + (" to the bearer token" if token else "")
        return [Finding("ok", "metrics", f"/metrics served {where}")]
    if public_url.startswith("http://") and urlsplit(public_url).hostname not in (
            "localhost", "127.0.0.1", "::1"):
        return [Finding("warn", "metrics", "the metrics token would cross the network in clear",
                        "serve the chat behind HTTPS, or use LIVECHAT_METRICS_LISTEN on a "
                        "private address")]
    return [Finding("ok", "metrics", "/metrics served to the bearer token")]


def public_url_findings(public_url: str) -> list[Finding]:
    if not public_url:
        return [Finding(
            "warn", "public URL",
            "LIVECHAT_PUBLIC_URL is not set: the snippet `livechat site create` prints has a "
            "placeholder, and origins and invite links are taken from each request's Host header",
            "set LIVECHAT_PUBLIC_URL to the address visitors reach the server at, e.g. "
            "LIVECHAT_PUBLIC_URL=https://chat.example.com")]
    host = urlsplit(public_url).hostname or ""
    if public_url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        return [Finding(
            "warn", "public URL",
            f"{public_url} is not HTTPS: browsers block an http:// chat on https:// pages, and "
            "agents' sessions travel unencrypted",
            "put a TLS-terminating proxy in front (README.md, Deploy) and set "
            "LIVECHAT_PUBLIC_URL=https://…")]
    return [Finding("ok", "public URL", public_url)]


def cookie_findings(public_url: str, cookie_secure: bool) -> list[Finding]:
    https = public_url.startswith("https://")
    if https and not cookie_secure:
        return [Finding(
            "error", "cookies",
            "the server is behind HTTPS but agents' session cookies are not marked Secure: a "
            "browser would send them over plain HTTP too",
            "set LIVECHAT_COOKIE_SECURE=1")]
    if cookie_secure and public_url.startswith("http://"):
        return [Finding(
            "error", "cookies",
            f"LIVECHAT_COOKIE_SECURE is on but {public_url} is plain HTTP: browsers drop Secure "
            "cookies there, so agents could not stay signed in",
            "serve over HTTPS, or unset LIVECHAT_COOKIE_SECURE for a local test")]
    if not public_url and not cookie_secure:
        return [Finding(
            "warn", "cookies", "agents' session cookies are not marked Secure",
            "behind HTTPS, set LIVECHAT_COOKIE_SECURE=1 (and LIVECHAT_PUBLIC_URL)")]
    return [Finding("ok", "cookies", "Secure" if cookie_secure else "local HTTP, not Secure")]


def keys_findings(configured: str, key_file: FileFacts, uid: int) -> list[Finding]:
    if configured.strip():
        keys = configured_keys(configured)
        short = [k for k in keys if len(k) < MIN_SECRET_CHARS]
        if short:  # (the server refuses to start: the configuration's error says so too)
            return [Finding("error", "secret keys",
                            f"{len(short)} of the keys in LIVECHAT_SECRET_KEYS "
                            f"{'is' if len(short) == 1 else 'are'} shorter than "
                            f"{MIN_SECRET_CHARS} characters",
                            "use long random values, e.g. the output of `python3 -c 'import "
                            "secrets; print(secrets.token_urlsafe(32))'`")]
        return [Finding("ok", "secret keys",
                        f"{len(keys)} key{'s' if len(keys) > 1 else ''} from "
                        "LIVECHAT_SECRET_KEYS")]
    generate = ("set LIVECHAT_SECRET_KEYS to a long random value, e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    if not key_file.exists:
        return [Finding("warn", "secret keys",
                        f"LIVECHAT_SECRET_KEYS is not set: a key will be generated into "
                        f"{key_file.path} at the first start (one machine only; it cannot be "
                        "rotated)", generate)]
    found = [Finding("warn", "secret keys",
                     f"LIVECHAT_SECRET_KEYS is not set: the key kept in {key_file.path} is used "
                     "(fine on one machine; other machines and rotation need the variable)",
                     generate)]
    if key_file.mode & 0o077:
        found.append(Finding("error", "secret keys",
                             f"{key_file.path} can be read by other users (mode "
                             f"{key_file.mode:o}): anyone who reads it can forge sessions",
                             f"chmod 600 {key_file.path}"))
    elif key_file.owner != uid:
        found.append(Finding("warn", "secret keys", f"{key_file.path} belongs to another user",
                             f"chown it to the user the server runs as: chown $(id -un) "
                             f"{key_file.path}"))
    return found


def uploads_findings(uploads: FileFacts, uid: int) -> list[Finding]:
    if not uploads.exists:
        return [Finding("ok", "uploads", f"{uploads.path} will be created with the first file")]
    if not uploads.is_dir:
        return [Finding("error", "uploads", f"{uploads.path} is not a folder",
                        "point LIVECHAT_UPLOADS at a folder")]
    found: list[Finding] = []
    if not uploads.writable:
        found.append(Finding("error", "uploads", f"the server cannot write in {uploads.path}",
                             f"chown $(id -un) {uploads.path}"))
    if uploads.mode & 0o002:
        found.append(Finding("error", "uploads",
                             f"anyone on this machine can write in {uploads.path} (mode "
                             f"{uploads.mode:o})", f"chmod 700 {uploads.path}"))
    elif uploads.mode & 0o077:
        found.append(Finding("warn", "uploads",
                             f"other users can read the attachments in {uploads.path} (mode "
                             f"{uploads.mode:o})", f"chmod 700 {uploads.path}"))
    return found or [Finding("ok", "uploads", str(uploads.path))]


def descriptor_findings(soft: int, hard: int) -> list[Finding]:
    # ``livechat serve`` raises its soft limit to the hard one; the hard limit is what counts.
    limit = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if limit < MIN_DESCRIPTORS:
        return [Finding("warn", "open files",
                        f"at most {limit} open files: every visitor's and agent's socket takes "
                        "one, so about that many people at once",
                        "raise the limit where the server is started: LimitNOFILE=65536 in its "
                        "systemd unit, `ulimit -n 65536` in a shell, or --ulimit "
                        "nofile=65536:65536 for a container")]
    return [Finding("ok", "open files", f"up to {limit} (serve raises its soft limit to it)")]


def redis_findings(url: str, error: str | None, version: str | None) -> list[Finding]:
    shown = redact_url(url)
    if error is not None:
        return [Finding("error", "Redis", f"cannot reach Redis at {shown}: {error}",
                        "start Redis, or correct LIVECHAT_REDIS_URL (redis://host:port/db)")]
    return [Finding("ok", "Redis", f"{shown} answers (Redis {version or '?'})")]


def email_findings(url: str, reply_domain: str, error: str | None) -> list[Finding]:
    """Email off is a fact, not a fault; an SMTP server that cannot be reached (or refuses the
    credentials) is an error: every email would wait, then fail."""
    if not url:
        return [Finding("ok", "email", "off (LIVECHAT_SMTP_URL is not set): nobody is emailed")]
    shown = redact_url(url)
    if error is not None:
        return [Finding("error", "email", f"cannot use the SMTP server at {shown}: {error}",
                        "correct LIVECHAT_SMTP_URL (smtp://user:pass@host:587 or "
                        "smtps://user:pass@host:465), or let this machine reach it")]
    replies = (f"replies to {reply_domain}" if reply_domain
               else "no reply address (LIVECHAT_EMAIL_REPLY_DOMAIN is not set)")
    return [Finding("ok", "email", f"{shown} answers; {replies}")]


# --- the checks (each looks, then decides) ----------------------------------------------------


async def _configuration(env: Env) -> list[Finding]:
    return configuration_findings(env.settings, env.config_error)


async def _public_url(env: Env) -> list[Finding]:
    if env.settings is None:
        return []
    return (public_url_findings(env.settings.public_url)
            + cookie_findings(env.settings.public_url, env.settings.cookie_secure))


async def _metrics(env: Env) -> list[Finding]:
    if env.settings is None:
        return []
    s = env.settings
    return metrics_findings(s.metrics_token, s.metrics_listen, s.public_url)


async def _keys(env: Env) -> list[Finding]:
    if env.settings is not None and env.settings.postgres \
            and not env.environ.get("LIVECHAT_SECRET_KEYS", "").strip():
        return [Finding("error", "secret keys", "LIVECHAT_SECRET_KEYS is not set: with "
                        "PostgreSQL every machine must sign with the same keys",
                        "set LIVECHAT_SECRET_KEYS to the same keys on every machine")]
    key_file = env.db_path.with_name(env.db_path.name + ".secret")
    return keys_findings(env.environ.get("LIVECHAT_SECRET_KEYS", ""), FileFacts.of(key_file),
                         os.getuid())


async def _uploads(env: Env) -> list[Finding]:
    if env.settings is None:
        return []
    return uploads_findings(FileFacts.of(env.settings.uploads_path()), os.getuid())


async def _descriptors(env: Env) -> list[Finding]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return descriptor_findings(soft, hard)


async def _redis(env: Env) -> list[Finding]:
    if env.settings is None or env.settings.broker_url.startswith("memory"):
        return []
    from redis.asyncio import Redis

    url = env.settings.broker_url
    env.progress(f"checking Redis at {redact_url(url)}")
    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
        info = await client.info("server")
        return redis_findings(url, None, str(info.get("redis_version", "")))
    except Exception as exc:  # any failure to talk to it is the finding
        return redis_findings(url, str(exc) or type(exc).__name__, None)
    finally:
        await client.aclose()


async def _email(env: Env) -> list[Finding]:
    """Connects, says EHLO (and STARTTLS and logs in, as sending would), and quits."""
    if env.settings is None:
        return []
    url = env.settings.smtp_url
    if not url:
        return email_findings("", "", None)
    import aiosmtplib

    from server.mail.smtp import parse_url

    config = parse_url(url)
    env.progress(f"checking the SMTP server at {redact_url(url)}")
    client = aiosmtplib.SMTP(hostname=config.host, port=config.port, use_tls=config.tls,
                             start_tls=False if config.tls else (True if config.username else None),
                             timeout=5)
    try:
        await client.connect()
        if config.username:
            await client.login(config.username, config.password or "")
        await client.quit()
    except Exception as exc:  # any failure to talk to it is the finding
        if client.is_connected:
            client.close()
        return email_findings(url, "", str(exc) or type(exc).__name__)
    return email_findings(url, env.settings.email_reply_domain, None)


CHECKS: tuple[Check, ...] = (_configuration, _public_url, _keys, check_database, _uploads,
                             _redis, _email, _descriptors, _metrics)


async def run(env: Env, checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    findings: list[Finding] = []
    for check in checks:
        findings += await check(env)
    return findings


def exit_status(findings: list[Finding]) -> int:
    levels = {f.level for f in findings}
    return 2 if "error" in levels else 1 if "warn" in levels else 0


__all__ = ["CHECKS", "Check", "Env", "FileFacts", "Finding", "exit_status", "load", "redact_url",
           "run"]
